#pragma once
// Affine layer: out = scale · in · W + b, with W stored (in_features, out_features) as GPT-2's Conv1D
// keeps it. Shapes: N rows (tokens), I input features, O output features.
// Parameter gradients accumulate (+=), so micro-batches add up; the input gradient is written.
// `scale` (default 1) is the rescaling of a sliced projection: an attention output projection
// over h of H heads runs with scale H/h; the bias is not scaled.

#include "est/backend/cpu/gemm.hpp"
#include "est/backend/cpu/parallel.hpp"
#include "est/core/op_checks.hpp"

namespace est {

/// out (N, O) = scale · in (N, I) · weight (I, O) + bias (O); `bias` may be empty (no bias).
template <class T>
void linear_forward(const Context<cpu>& ctx, MatrixView<T> out, ConstMatrix<T> in,
                    ConstMatrix<T> weight, ConstView<T> bias, T scale = T(1)) {
  op_checks::linear_forward(out, in, weight, bias.numel());
  if (bias.numel() == 0) {
    gemm<T>(ctx, out, in, Transpose::no, weight, Transpose::no, scale);
    return;
  }
  // Broadcast the bias into every row, then accumulate the product on top (beta = 1): one GEMM
  // and no separate pass to add the bias afterwards.
  cpu_detail::parallel_for(ctx, out.rows(), [&](Index r) {
    T* row = &out(r, 0);
    for (Index c = 0; c < out.cols(); ++c) row[c] = bias[c];
  });
  gemm<T>(ctx, out, in, Transpose::no, weight, Transpose::no, scale, T(1));
}

/// d_in (N, I) = scale · d_out (N, O) · weightᵀ (skipped when d_in is empty);
/// d_weight (I, O) += scale · inᵀ · d_out; d_bias (O) += column sums of d_out (skipped when
/// empty).
template <class T>
void linear_backward(const Context<cpu>& ctx, MatrixView<T> d_in, MatrixView<T> d_weight,
                     TensorView<T> d_bias, ConstMatrix<T> d_out, ConstMatrix<T> in,
                     ConstMatrix<T> weight, T scale = T(1)) {
  // Every argument is checked before anything is written, so a failed call changes nothing.
  op_checks::linear_backward(d_weight, d_bias.numel(), d_out, in, weight);
  if (d_in.rows() * d_in.cols() != 0) {
    gemm<T>(ctx, d_in, d_out, Transpose::no, weight, Transpose::yes, scale);
  }
  gemm<T>(ctx, d_weight, in, Transpose::yes, d_out, Transpose::no, scale, T(1));
  if (d_bias.numel() == 0) return;
  // Each thread owns a column range, so the sums are deterministic and need no reduction.
  cpu_detail::parallel_ranges(ctx, d_out.cols(), [&](Index c0, Index c1) {
    for (Index r = 0; r < d_out.rows(); ++r) {
      const T* row = &d_out(r, 0);
      for (Index c = c0; c < c1; ++c) d_bias[c] += row[c];
    }
  });
}

}  // namespace est
