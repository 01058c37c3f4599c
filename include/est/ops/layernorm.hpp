#pragma once
// LayerNorm over the last dimension (eps 1e-5), on any device: the entry point models and trainers
// include. The CPU implementation comes with it (backend/cpu/layernorm.hpp); the CUDA one with
// est/cuda.cuh (backend/cuda/layernorm.cuh), chosen by the context and tensors' device; the plain
// twin the tests compare both with is reference/layernorm.hpp.
//
//   layernorm_forward(ctx, out (N, C), mean (N), rstd (N), x (N, C), weight (C), bias (C))
//   layernorm_backward(ctx, d_x +=, d_weight +=, d_bias +=, d_out, x, weight, mean, rstd)

#include "est/backend/cpu/layernorm.hpp"
