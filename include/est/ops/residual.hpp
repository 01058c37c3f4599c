#pragma once
// The residual stream's additions, on any device: the entry point models and trainers include. The
// CPU implementation comes with it (backend/cpu/residual.hpp); the CUDA one with est/cuda.cuh
// (backend/cuda/residual.cuh), chosen by the context and tensors' device; the plain twin the tests
// compare both with is reference/residual.hpp.
//
//   residual_forward(ctx, out, a, b[, s]): out = a + s·b   (s = 1: a + b exactly)
//   residual_backward(ctx, d_a +=, d_b +=, d_out)
//   scaled_copy(ctx, out, x, s): out = s·x   (the gradient reaching a branch scaled by s)

#include "est/backend/cpu/residual.hpp"
