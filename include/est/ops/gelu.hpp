#pragma once
// GPT-2's tanh-approximated GELU, on any device: the entry point models and trainers include. The
// CPU implementation comes with it (backend/cpu/gelu.hpp); the CUDA one with est/cuda.cuh
// (backend/cuda/gelu.cuh), chosen by the context and tensors' device; the plain twin the tests
// compare both with is reference/gelu.hpp.
//
//   gelu_forward(ctx, out, x)    gelu_backward(ctx, d_x written, x, d_out)

#include "est/backend/cpu/gelu.hpp"
