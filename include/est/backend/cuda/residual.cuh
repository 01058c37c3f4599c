#pragma once
// The residual connection on the GPU; the contract of ops/residual.hpp.

#include "est/backend/cuda/kernels.cuh"
#include "est/core/tensor.hpp"

namespace est {

namespace cuda_detail {

template <class T>
__global__ void add_kernel(T* out, const T* a, const T* b, Index n) {
  const Index i = Index(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) out[i] = a[i] + b[i];
}

template <class T>
__global__ void add_scaled_kernel(T* out, const T* a, const T* b, T scale, Index n) {
  const Index i = Index(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) out[i] = a[i] + scale * b[i];
}

template <class T>
__global__ void scale_kernel(T* out, const T* x, T scale, Index n) {
  const Index i = Index(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) out[i] = scale * x[i];
}

template <class T>
__global__ void accumulate_twice_kernel(T* d_a, T* d_b, const T* d_out, Index n) {
  const Index i = Index(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  d_a[i] += d_out[i];
  d_b[i] += d_out[i];
}

}  // namespace cuda_detail

/// out (n) = a (n) + `scale`·b (n); with `scale` 1 exactly a + b. Throws shape_error unless
/// the three have the same size.
template <class T>
void residual_forward(const Context<cuda>& ctx, TensorView<T, cuda> out, ConstView<T, cuda> a,
                      ConstView<T, cuda> b, T scale = T(1)) {
  require<shape_error>(out.numel() == a.numel() && b.numel() == a.numel(),
                       "residual_forward: out, a and b must have the same size, got ",
                       out.numel(), ", ", a.numel(), " and ", b.numel());
  const Index n = a.numel();
  if (n == 0) return;
  if (scale == T(1)) {
    cuda_detail::add_kernel<<<cuda_detail::blocks_for(n, 256), 256, 0, ctx.stream()>>>(
        out.data(), a.data(), b.data(), n);
  } else {
    cuda_detail::add_scaled_kernel<<<cuda_detail::blocks_for(n, 256), 256, 0, ctx.stream()>>>(
        out.data(), a.data(), b.data(), scale, n);
  }
  EST_CUDA_CHECK_LAUNCH();
}

/// out (n) = `scale`·x (n): the gradient that reaches a branch which residual_forward scaled.
/// Throws shape_error unless out and x have the same size.
template <class T>
void scaled_copy(const Context<cuda>& ctx, TensorView<T, cuda> out, ConstView<T, cuda> x,
                 T scale) {
  require<shape_error>(out.numel() == x.numel(), "scaled_copy: out and x must have the same "
                       "size, got ", out.numel(), " and ", x.numel());
  const Index n = x.numel();
  if (n == 0) return;
  cuda_detail::scale_kernel<<<cuda_detail::blocks_for(n, 256), 256, 0, ctx.stream()>>>(
      out.data(), x.data(), scale, n);
  EST_CUDA_CHECK_LAUNCH();
}

/// d_a (n) += d_out; d_b (n) += d_out.
template <class T>
void residual_backward(const Context<cuda>& ctx, TensorView<T, cuda> d_a, TensorView<T, cuda> d_b,
                       ConstView<T, cuda> d_out) {
  require<shape_error>(d_a.numel() == d_out.numel() && d_b.numel() == d_out.numel(),
                       "residual_backward: d_a, d_b and d_out must have the same size, got ",
                       d_a.numel(), ", ", d_b.numel(), " and ", d_out.numel());
  const Index n = d_out.numel();
  if (n == 0) return;
  cuda_detail::accumulate_twice_kernel<<<cuda_detail::blocks_for(n, 256), 256, 0,
                                         ctx.stream()>>>(d_a.data(), d_b.data(), d_out.data(), n);
  EST_CUDA_CHECK_LAUNCH();
}

}  // namespace est
