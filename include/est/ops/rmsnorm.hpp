#pragma once
// RMSNorm over the last dimension (Llama), on any device: the entry point models and trainers
// include. The CPU implementation comes with it (backend/cpu/rmsnorm.hpp); the CUDA one with
// est/cuda.cuh (backend/cuda/rmsnorm.cuh), chosen by the context and tensors' device; the plain
// twin the tests compare both with is reference/rmsnorm.hpp.
//
//   rmsnorm_forward(ctx, out (N, C), rstd (N), x (N, C), weight (C), eps)
//   rmsnorm_backward(ctx, d_x +=, d_weight +=, d_out, x, weight, rstd)

#include "est/backend/cpu/rmsnorm.hpp"
