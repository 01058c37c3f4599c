#pragma once
// Token (and position) embeddings, on any device: the entry point models and trainers include. The
// CPU implementation comes with it (backend/cpu/embedding.hpp); the CUDA one with est/cuda.cuh
// (backend/cuda/embedding.cuh), chosen by the context and tensors' device; the plain twin the tests
// compare both with is reference/embedding.hpp.
//
//   embedding_forward(ctx, out (B, T, C), tokens (B, T), wte (V, C), wpe (P, C) or empty)
//   embedding_backward(ctx, d_wte +=, d_wpe +=, d_out (B, T, C), tokens)   deterministic

#include "est/backend/cpu/embedding.hpp"
