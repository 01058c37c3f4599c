#pragma once
// LayerNorm over the last dimension on the GPU, one warp per row; same contract as the CPU
// layernorm.hpp. The weight and bias gradients are deterministic column sums.
// Shapes: N rows (B*T), C features.

#include <cmath>

#include "est/backend/cuda/kernels.cuh"
#include "est/core/checks.hpp"
#include "est/core/op_checks.hpp"
#include "est/core/tensor.hpp"

namespace est {

namespace cuda_detail {

template <class T>
__global__ void layernorm_forward_kernel(T* out, Index out_stride, T* mean, T* rstd, const T* x,
                                         Index x_stride, const T* weight, const T* bias, Index n,
                                         Index c, T eps) {
  const Index row = Index(blockIdx.x) * (blockDim.x / warp_size) + threadIdx.x / warp_size;
  const unsigned lane = threadIdx.x % warp_size;
  if (row >= n) return;
  const T* xr = x + row * x_stride;
  T sum = T(0);
  for (Index i = lane; i < c; i += warp_size) sum += xr[i];
  const T m = warp_sum(sum) / T(c);
  T sq = T(0);
  for (Index i = lane; i < c; i += warp_size) sq += (xr[i] - m) * (xr[i] - m);
  const T s = T(1) / sqrt(warp_sum(sq) / T(c) + eps);
  T* o = out + row * out_stride;
  for (Index i = lane; i < c; i += warp_size) o[i] = (xr[i] - m) * s * weight[i] + bias[i];
  if (lane == 0) {
    mean[row] = m;
    rstd[row] = s;
  }
}

template <class T>
__global__ void layernorm_backward_kernel(T* d_x, Index dx_stride, const T* d_out,
                                          Index dout_stride, const T* x, Index x_stride,
                                          const T* weight, const T* mean, const T* rstd, Index n,
                                          Index c) {
  const Index row = Index(blockIdx.x) * (blockDim.x / warp_size) + threadIdx.x / warp_size;
  const unsigned lane = threadIdx.x % warp_size;
  if (row >= n) return;
  const T* xr = x + row * x_stride;
  const T* dy = d_out + row * dout_stride;
  const T m = mean[row], s = rstd[row];
  T sum_dnorm = T(0), sum_dnorm_xhat = T(0);
  for (Index i = lane; i < c; i += warp_size) {
    const T dnorm = dy[i] * weight[i];
    sum_dnorm += dnorm;
    sum_dnorm_xhat += dnorm * (xr[i] - m) * s;
  }
  const T mean_dnorm = warp_sum(sum_dnorm) / T(c);
  const T mean_dnorm_xhat = warp_sum(sum_dnorm_xhat) / T(c);
  T* dxr = d_x + row * dx_stride;
  for (Index i = lane; i < c; i += warp_size) {
    const T xhat = (xr[i] - m) * s;
    dxr[i] += (dy[i] * weight[i] - mean_dnorm - xhat * mean_dnorm_xhat) * s;
  }
}

}  // namespace cuda_detail

/// out (N, C), mean (N), rstd (N) from x (N, C), weight (C), bias (C).
template <class T>
void layernorm_forward(const Context<cuda>& ctx, MatrixView<T, cuda> out,
                       TensorView<T, cuda> mean, TensorView<T, cuda> rstd,
                       ConstMatrix<T, cuda> x, ConstView<T, cuda> weight,
                       ConstView<T, cuda> bias, T eps = T(1e-5)) {
  op_checks::layernorm_forward(out, mean.numel(), rstd.numel(), x, weight.numel(), bias.numel(),
                               double(eps));
  const Index n = x.rows(), c = x.cols();
  if (n == 0) return;
  constexpr unsigned threads = 256, rows_per_block = threads / cuda_detail::warp_size;
  cuda_detail::layernorm_forward_kernel<<<cuda_detail::blocks_for(n, rows_per_block), threads, 0,
                                          ctx.stream()>>>(
      out.data(), out.stride(), mean.data(), rstd.data(), x.data(), x.stride(), weight.data(),
      bias.data(), n, c, eps);
  EST_CUDA_CHECK_LAUNCH();
}

/// d_x (N, C) += ∂loss/∂x; d_weight (C) += ...; d_bias (C) += ..., from d_out (N, C) and the
/// saved x, weight, mean, rstd.
template <class T>
void layernorm_backward(const Context<cuda>& ctx, MatrixView<T, cuda> d_x,
                        TensorView<T, cuda> d_weight, TensorView<T, cuda> d_bias,
                        ConstMatrix<T, cuda> d_out, ConstMatrix<T, cuda> x,
                        ConstView<T, cuda> weight, ConstView<T, cuda> mean,
                        ConstView<T, cuda> rstd) {
  op_checks::layernorm_backward(d_x, d_weight.numel(), d_bias.numel(), d_out, x, weight.numel(),
                                mean.numel(), rstd.numel());
  const Index n = x.rows(), c = x.cols();
  if (n == 0) return;
  constexpr unsigned threads = 256, rows_per_block = threads / cuda_detail::warp_size;
  cuda_detail::layernorm_backward_kernel<<<cuda_detail::blocks_for(n, rows_per_block), threads, 0,
                                           ctx.stream()>>>(
      d_x.data(), d_x.stride(), d_out.data(), d_out.stride(), x.data(), x.stride(),
      weight.data(), mean.data(), rstd.data(), n, c);
  EST_CUDA_CHECK_LAUNCH();
  const T* dy = d_out.data();
  const T* xs = x.data();
  const T* mu = mean.data();
  const T* rs = rstd.data();
  const Index dys = d_out.stride(), xst = x.stride();
  cuda_detail::column_sums<T>(ctx, d_weight.data(), n, c, [=] __device__(Index r, Index i) {
    return dy[r * dys + i] * (xs[r * xst + i] - mu[r]) * rs[r];
  });
  cuda_detail::column_sums<T>(ctx, d_bias.data(), n, c,
                              [=] __device__(Index r, Index i) { return dy[r * dys + i]; });
}

}  // namespace est
