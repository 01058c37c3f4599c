#pragma once
// RMSNorm over the last dimension on the GPU, one warp per row; same contract as the CPU
// rmsnorm.hpp. The weight gradient is a deterministic column sum.
// Shapes: N rows (B*T), C features.

#include <cmath>

#include "est/backend/cuda/kernels.cuh"
#include "est/core/checks.hpp"
#include "est/core/op_checks.hpp"
#include "est/core/tensor.hpp"

namespace est {

namespace cuda_detail {

template <class T>
__global__ void rmsnorm_forward_kernel(T* out, Index out_stride, T* rstd, const T* x,
                                       Index x_stride, const T* weight, Index n, Index c, T eps) {
  const Index row = Index(blockIdx.x) * (blockDim.x / warp_size) + threadIdx.x / warp_size;
  const unsigned lane = threadIdx.x % warp_size;
  if (row >= n) return;
  const T* xr = x + row * x_stride;
  T sq = T(0);
  for (Index i = lane; i < c; i += warp_size) sq += xr[i] * xr[i];
  const T s = T(1) / sqrt(warp_sum(sq) / T(c) + eps);
  T* o = out + row * out_stride;
  for (Index i = lane; i < c; i += warp_size) o[i] = xr[i] * s * weight[i];
  if (lane == 0) rstd[row] = s;
}

template <class T>
__global__ void rmsnorm_backward_kernel(T* d_x, Index dx_stride, const T* d_out,
                                        Index dout_stride, const T* x, Index x_stride,
                                        const T* weight, const T* rstd, Index n, Index c) {
  const Index row = Index(blockIdx.x) * (blockDim.x / warp_size) + threadIdx.x / warp_size;
  const unsigned lane = threadIdx.x % warp_size;
  if (row >= n) return;
  const T* xr = x + row * x_stride;
  const T* dy = d_out + row * dout_stride;
  const T s = rstd[row];
  T sum_g_xhat = T(0);
  for (Index i = lane; i < c; i += warp_size) sum_g_xhat += dy[i] * weight[i] * (xr[i] * s);
  const T mean_g_xhat = warp_sum(sum_g_xhat) / T(c);
  T* dxr = d_x + row * dx_stride;
  for (Index i = lane; i < c; i += warp_size) {
    dxr[i] += (dy[i] * weight[i] - xr[i] * s * mean_g_xhat) * s;
  }
}

}  // namespace cuda_detail

/// out (N, C) and rstd (N) from x (N, C), weight (C). rstd is saved for the backward pass.
template <class T>
void rmsnorm_forward(const Context<cuda>& ctx, MatrixView<T, cuda> out, TensorView<T, cuda> rstd,
                     ConstMatrix<T, cuda> x, ConstView<T, cuda> weight, T eps = T(1e-5)) {
  op_checks::rmsnorm("rmsnorm_forward", out, x, rstd.numel(), weight.numel(), double(eps));
  const Index n = x.rows(), c = x.cols();
  if (n == 0) return;
  constexpr unsigned threads = 256, rows_per_block = threads / cuda_detail::warp_size;
  cuda_detail::rmsnorm_forward_kernel<<<cuda_detail::blocks_for(n, rows_per_block), threads, 0,
                                        ctx.stream()>>>(out.data(), out.stride(), rstd.data(),
                                                        x.data(), x.stride(), weight.data(), n, c,
                                                        eps);
  EST_CUDA_CHECK_LAUNCH();
}

/// d_x (N, C) += ∂loss/∂x and d_weight (C) += ∂loss/∂weight, from d_out (N, C) and the saved x,
/// weight, rstd. d_x must not share memory with d_out or x.
template <class T>
void rmsnorm_backward(const Context<cuda>& ctx, MatrixView<T, cuda> d_x,
                      TensorView<T, cuda> d_weight, ConstMatrix<T, cuda> d_out,
                      ConstMatrix<T, cuda> x, ConstView<T, cuda> weight,
                      ConstView<T, cuda> rstd) {
  op_checks::rmsnorm("rmsnorm_backward", d_x, x, rstd.numel(), weight.numel(), 0.0);
  op_checks::rmsnorm("rmsnorm_backward", d_out, x, rstd.numel(), d_weight.numel(), 0.0);
  expect_no_overlap(d_x, d_out, "rmsnorm_backward", "d_x", "d_out");
  const Index n = x.rows(), c = x.cols();
  if (n == 0) return;
  constexpr unsigned threads = 256, rows_per_block = threads / cuda_detail::warp_size;
  cuda_detail::rmsnorm_backward_kernel<<<cuda_detail::blocks_for(n, rows_per_block), threads, 0,
                                         ctx.stream()>>>(
      d_x.data(), d_x.stride(), d_out.data(), d_out.stride(), x.data(), x.stride(), weight.data(),
      rstd.data(), n, c);
  EST_CUDA_CHECK_LAUNCH();
  const T* dy = d_out.data();
  const T* xs = x.data();
  const T* rs = rstd.data();
  const Index dys = d_out.stride(), xst = x.stride();
  cuda_detail::column_sums<T>(ctx, d_weight.data(), n, c, [=] __device__(Index r, Index i) {
    return dy[r * dys + i] * (xs[r * xst + i] * rs[r]);
  });
}

}  // namespace est
