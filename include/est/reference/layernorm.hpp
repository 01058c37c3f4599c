#pragma once
// Reference twin of est/backend/cpu/layernorm.hpp.

#include <cmath>

#include "est/core/tensor.hpp"

namespace est::reference {

/// out (N, C), mean (N), rstd (N) from x (N, C), weight (C), bias (C), with the biased variance:
/// the twin of ops/layernorm.hpp's layernorm_forward.
template <class T>
void layernorm_forward(MatrixView<T> out, TensorView<T> mean, TensorView<T> rstd,
                       ConstMatrix<T> x, ConstView<T> weight, ConstView<T> bias,
                       T eps = T(1e-5)) {
  const Index c = x.cols();
  for (Index r = 0; r < x.rows(); ++r) {
    T m = 0;
    for (Index i = 0; i < c; ++i) m += x(r, i);
    m /= T(c);
    T var = 0;
    for (Index i = 0; i < c; ++i) var += (x(r, i) - m) * (x(r, i) - m);
    var /= T(c);
    const T s = T(1) / std::sqrt(var + eps);
    for (Index i = 0; i < c; ++i) out(r, i) = (x(r, i) - m) * s * weight[i] + bias[i];
    mean[r] = m;
    rstd[r] = s;
  }
}

/// d_x (N, C) +=, d_weight (C) += and d_bias (C) += from d_out (N, C) and the forward's x,
/// weight, mean and rstd: the twin of layernorm_backward.
template <class T>
void layernorm_backward(MatrixView<T> d_x, TensorView<T> d_weight, TensorView<T> d_bias,
                        ConstMatrix<T> d_out, ConstMatrix<T> x, ConstView<T> weight,
                        ConstView<T> mean, ConstView<T> rstd) {
  const Index c = x.cols();
  for (Index r = 0; r < x.rows(); ++r) {
    T mean_dnorm = 0, mean_dnorm_xhat = 0;
    for (Index i = 0; i < c; ++i) {
      const T xhat = (x(r, i) - mean[r]) * rstd[r];
      const T dnorm = d_out(r, i) * weight[i];
      mean_dnorm += dnorm;
      mean_dnorm_xhat += dnorm * xhat;
    }
    mean_dnorm /= T(c);
    mean_dnorm_xhat /= T(c);
    for (Index i = 0; i < c; ++i) {
      const T xhat = (x(r, i) - mean[r]) * rstd[r];
      const T dnorm = d_out(r, i) * weight[i];
      d_x(r, i) += (dnorm - mean_dnorm - xhat * mean_dnorm_xhat) * rstd[r];
      d_weight[i] += d_out(r, i) * xhat;
      d_bias[i] += d_out(r, i);
    }
  }
}

}  // namespace est::reference
