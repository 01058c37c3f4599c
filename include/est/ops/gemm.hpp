#pragma once
// General matrix products, on any device: the entry point models and trainers include. The CPU
// implementation comes with it (backend/cpu/gemm.hpp); the CUDA one with est/cuda.cuh
// (backend/cuda/gemm.cuh), chosen by the context and tensors' device; the plain twin the tests
// compare both with is reference/gemm.hpp.
//
//   gemm(ctx, c (m, n), a, Transpose, b, Transpose, alpha = 1, beta = 0)
//       c = alpha · op(a) · op(b) + beta · c, on strided row-major views

#include "est/backend/cpu/gemm.hpp"
