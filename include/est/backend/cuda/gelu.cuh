#pragma once
// GELU (GPT-2's tanh approximation) on the GPU; the contract of ops/gelu.hpp.

#include "est/backend/cuda/kernels.cuh"
#include "est/core/tensor.hpp"

namespace est {

namespace cuda_detail {

template <class T>
__global__ void gelu_forward_kernel(T* out, const T* x, Index n) {
  const Index i = Index(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const T k = T(0.7978845608028654), c = T(0.044715), v = x[i];
  out[i] = T(0.5) * v * (T(1) + tanh(k * (v + c * v * v * v)));
}

template <class T>
__global__ void gelu_backward_kernel(T* d_x, const T* x, const T* d_out, Index n) {
  const Index i = Index(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const T k = T(0.7978845608028654), c = T(0.044715), v = x[i];
  const T th = tanh(k * (v + c * v * v * v));
  const T inner_grad = k * (T(1) + T(3) * c * v * v);
  d_x[i] = (T(0.5) * (T(1) + th) + T(0.5) * v * (T(1) - th * th) * inner_grad) * d_out[i];
}

}  // namespace cuda_detail

/// out (n) = gelu(x (n)).
template <class T>
void gelu_forward(const Context<cuda>& ctx, TensorView<T, cuda> out, ConstView<T, cuda> x) {
  require<shape_error>(out.numel() == x.numel(), "gelu_forward: out has ", out.numel(),
                       " elements, x has ", x.numel());
  const Index n = x.numel();
  if (n == 0) return;
  cuda_detail::gelu_forward_kernel<<<cuda_detail::blocks_for(n, 256), 256, 0, ctx.stream()>>>(
      out.data(), x.data(), n);
  EST_CUDA_CHECK_LAUNCH();
}

/// d_x (n) = gelu'(x) · d_out (written).
template <class T>
void gelu_backward(const Context<cuda>& ctx, TensorView<T, cuda> d_x, ConstView<T, cuda> x,
                   ConstView<T, cuda> d_out) {
  require<shape_error>(d_x.numel() == x.numel() && d_out.numel() == x.numel(),
                       "gelu_backward: d_x, x and d_out must have the same size, got ",
                       d_x.numel(), ", ", x.numel(), " and ", d_out.numel());
  const Index n = x.numel();
  if (n == 0) return;
  cuda_detail::gelu_backward_kernel<<<cuda_detail::blocks_for(n, 256), 256, 0, ctx.stream()>>>(
      d_x.data(), x.data(), d_out.data(), n);
  EST_CUDA_CHECK_LAUNCH();
}

}  // namespace est
