#pragma once
// A dense layer with a bias: the GEMM of a projection, on any device: the entry point models and
// trainers include. The CPU implementation comes with it (backend/cpu/linear.hpp); the CUDA one
// with est/cuda.cuh (backend/cuda/linear.cuh), chosen by the context and tensors' device; the plain
// twin the tests compare both with is reference/linear.hpp.
//
//   linear_forward(ctx, out (N, O), in (N, I), weight (I, O), bias (O) or empty, scale = 1)
//       out = scale · in · weight + bias (the bias unscaled)
//   linear_backward(ctx, d_in (N, I) written, d_weight +=, d_bias +=, d_out, in, weight,
//                   scale = 1)

#include "est/backend/cpu/linear.hpp"
