#pragma once
// Global gradient norm and clipping (PyTorch's clip_grad_norm_), on any device: the entry point
// models and trainers include. The CPU implementation comes with it (backend/cpu/norm.hpp); the
// CUDA one with est/cuda.cuh (backend/cuda/norm.cuh), chosen by the context and tensors' device;
// the plain twin the tests compare both with is reference/norm.hpp.
//
//   global_norm(ctx, values) -> double     (summed in double, in a fixed order)
//   clip_grad_norm(ctx, grads, max_norm) -> the norm before clipping

#include "est/backend/cpu/norm.hpp"
