#pragma once
// Reference twin of est/backend/cpu/linear.hpp.

#include "est/core/tensor.hpp"

namespace est::reference {

/// out (N, O) = scale · in (N, I) · weight (I, O) + bias (O), the bias unscaled and `bias` empty
/// for none: the twin of ops/linear.hpp's linear_forward.
template <class T>
void linear_forward(MatrixView<T> out, ConstMatrix<T> in, ConstMatrix<T> weight,
                    ConstView<T> bias, T scale = T(1)) {
  for (Index r = 0; r < in.rows(); ++r) {
    for (Index o = 0; o < weight.cols(); ++o) {
      T sum = 0;
      for (Index i = 0; i < in.cols(); ++i) sum += in(r, i) * weight(i, o);
      out(r, o) = scale * sum + (bias.numel() ? bias[o] : T(0));
    }
  }
}

/// d_in (N, I) = scale · d_out · weightᵀ (written; skipped when d_in is empty), d_weight (I, O)
/// += scale · inᵀ · d_out and d_bias (O) += the column sums of d_out (skipped when empty): the
/// twin of linear_backward.
template <class T>
void linear_backward(MatrixView<T> d_in, MatrixView<T> d_weight, TensorView<T> d_bias,
                     ConstMatrix<T> d_out, ConstMatrix<T> in, ConstMatrix<T> weight,
                     T scale = T(1)) {
  const Index n = in.rows(), ni = in.cols(), no = weight.cols();
  if (d_in.rows() * d_in.cols() != 0) {
    for (Index r = 0; r < n; ++r) {
      for (Index i = 0; i < ni; ++i) {
        T sum = 0;
        for (Index o = 0; o < no; ++o) sum += d_out(r, o) * weight(i, o);
        d_in(r, i) = scale * sum;
      }
    }
  }
  for (Index i = 0; i < ni; ++i) {
    for (Index o = 0; o < no; ++o) {
      T sum = 0;
      for (Index r = 0; r < n; ++r) sum += in(r, i) * d_out(r, o);
      d_weight(i, o) += scale * sum;
    }
  }
  if (d_bias.numel() != 0) {
    for (Index r = 0; r < n; ++r) {
      for (Index o = 0; o < no; ++o) d_bias[o] += d_out(r, o);
    }
  }
}

}  // namespace est::reference
