#pragma once
// Affine layer on the GPU: out = scale · in · W + b, W stored (in_features, out_features).
// Same contract as the CPU linear.hpp: parameter gradients accumulate, d_in is written.
// Shapes: N rows, I input features, O output features.

#include "est/backend/cuda/gemm.cuh"
#include "est/backend/cuda/kernels.cuh"
#include "est/core/op_checks.hpp"

namespace est {

namespace cuda_detail {

template <class T>
__global__ void broadcast_rows(T* out, Index rows, Index cols, Index stride, const T* bias) {
  const Index i = Index(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= rows * cols) return;
  const Index r = i / cols, c = i % cols;
  out[r * stride + c] = bias[c];
}

}  // namespace cuda_detail

/// out (N, O) = scale · in (N, I) · weight (I, O) + bias (O); `bias` may be empty.
template <class T>
void linear_forward(const Context<cuda>& ctx, MatrixView<T, cuda> out, ConstMatrix<T, cuda> in,
                    ConstMatrix<T, cuda> weight, ConstView<T, cuda> bias, T scale = T(1)) {
  op_checks::linear_forward(out, in, weight, bias.numel());
  if (bias.numel() == 0) {
    gemm<T>(ctx, out, in, Transpose::no, weight, Transpose::no, scale);
    return;
  }
  const Index n = out.rows() * out.cols();
  if (n > 0) {
    cuda_detail::broadcast_rows<<<cuda_detail::blocks_for(n, 256), 256, 0, ctx.stream()>>>(
        out.data(), out.rows(), out.cols(), out.stride(), bias.data());
    EST_CUDA_CHECK_LAUNCH();
  }
  gemm<T>(ctx, out, in, Transpose::no, weight, Transpose::no, scale, T(1));
}

/// d_in (N, I) = scale · d_out · weightᵀ (skipped when d_in is empty); d_weight (I, O) +=
/// scale · inᵀ · d_out; d_bias (O) += column sums of d_out (skipped when empty).
template <class T>
void linear_backward(const Context<cuda>& ctx, MatrixView<T, cuda> d_in,
                     MatrixView<T, cuda> d_weight, TensorView<T, cuda> d_bias,
                     ConstMatrix<T, cuda> d_out, ConstMatrix<T, cuda> in,
                     ConstMatrix<T, cuda> weight, T scale = T(1)) {
  op_checks::linear_backward(d_weight, d_bias.numel(), d_out, in, weight);
  if (d_in.rows() * d_in.cols() != 0) {
    gemm<T>(ctx, d_in, d_out, Transpose::no, weight, Transpose::yes, scale);
  }
  gemm<T>(ctx, d_weight, in, Transpose::yes, d_out, Transpose::no, scale, T(1));
  if (d_bias.numel() == 0) return;
  const T* g = d_out.data();
  const Index stride = d_out.stride();
  cuda_detail::column_sums<T>(ctx, d_bias.data(), d_out.rows(), d_out.cols(),
                              [=] __device__(Index r, Index c) { return g[r * stride + c]; });
}

}  // namespace est
