#pragma once
// The global gradient norm and clipping on the GPU, as the CPU's backend/cpu/norm.hpp: the
// norm is summed in double, in a fixed order, so it is deterministic.

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "est/backend/cuda/kernels.cuh"
#include "est/core/tensor.hpp"

namespace est {

namespace cuda_detail {

template <class T>
__global__ void sum_squares_kernel(double* partial, const T* values, Index n) {
  __shared__ double shared[32];
  double sum = 0;
  for (Index i = Index(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += Index(gridDim.x) * blockDim.x) {
    const double x = double(values[i]);
    sum += x * x;
  }
  sum = block_sum(sum, shared);
  if (threadIdx.x == 0) partial[blockIdx.x] = sum;
}

template <class = void>
__global__ void sum_partials_kernel(double* out, const double* partial, Index n) {
  __shared__ double shared[32];
  double sum = 0;
  for (Index i = threadIdx.x; i < n; i += blockDim.x) sum += partial[i];
  sum = block_sum(sum, shared);
  if (threadIdx.x == 0) *out = sum;
}

template <class T>
__global__ void scale_kernel(T* values, Index n, T factor) {
  const Index i = Index(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) values[i] *= factor;
}

}  // namespace cuda_detail

/// The 2-norm of `values`, accumulated in double (waits for the stream).
template <class T>
[[nodiscard]] double global_norm(const Context<cuda>& ctx, ConstView<T, cuda> values) {
  const Index n = values.numel();
  if (n == 0) return 0.0;
  const Index blocks = std::min<Index>(Index(ctx.multiprocessors()) * 4,
                                       (n + 255) / 256);
  auto* partial = static_cast<double*>(
      ctx.scratch(Context<cuda>::Scratch::reduce, sizeof(double) * std::size_t(blocks + 1)));
  cuda_detail::sum_squares_kernel<<<unsigned(blocks), 256, 0, ctx.stream()>>>(partial,
                                                                              values.data(), n);
  EST_CUDA_CHECK_LAUNCH();
  cuda_detail::sum_partials_kernel<><<<1, 256, 0, ctx.stream()>>>(partial + blocks, partial,
                                                                blocks);
  EST_CUDA_CHECK_LAUNCH();
  double total = 0;
  EST_CUDA_CHECK(cudaMemcpyAsync(&total, partial + blocks, sizeof(double), cudaMemcpyDeviceToHost,
                                 ctx.stream()));
  ctx.synchronize();
  return std::sqrt(total);
}

/// Scales `grads` so that their global norm is at most `max_norm`; returns the norm before
/// clipping (a non-finite norm leaves the gradients alone), as the CPU clip_grad_norm.
template <class T>
double clip_grad_norm(const Context<cuda>& ctx, TensorView<T, cuda> grads, double max_norm) {
  require<value_error>(std::isfinite(max_norm) && max_norm > 0,
                       "clip_grad_norm: max_norm must be finite and > 0, got ", max_norm);
  const double norm = global_norm<T>(ctx, grads);
  if (!std::isfinite(norm)) return norm;
  const double coefficient = max_norm / (norm + 1e-6);
  if (coefficient < 1.0 && grads.numel() > 0) {
    cuda_detail::scale_kernel<<<cuda_detail::blocks_for(grads.numel(), 256), 256, 0,
                                ctx.stream()>>>(grads.data(), grads.numel(), T(coefficient));
    EST_CUDA_CHECK_LAUNCH();
  }
  return norm;
}

}  // namespace est
