#pragma once
// Causal multi-head self-attention over a packed [Q | K | V] projection, on any device: the entry
// point models and trainers include. The CPU implementation comes with it
// (backend/cpu/attention.hpp); the CUDA one with est/cuda.cuh (backend/cuda/attention.cuh), chosen
// by the context and tensors' device; the plain twin the tests compare both with is
// reference/attention.hpp.
//
//   attention_forward(ctx, out (B, T, H·d), probs (B, H, T, T), qkv (B, T, 3·H·d), H)
//       out = softmax(Q·Kᵀ/√d, causal) · V per head; probs kept for the backward
//   attention_backward(ctx, d_qkv (B, T, 3·H·d) written, d_out, qkv, probs, H)

#include "est/backend/cpu/attention.hpp"
