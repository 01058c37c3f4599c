#pragma once
// Reference twin of est/backend/cpu/rmsnorm.hpp: the formulas written out element by element.

#include <cmath>

#include "est/core/tensor.hpp"

namespace est::reference {

/// out (N, C) = x · rstd · weight and rstd (N) = 1 / sqrt(mean(x²) + eps) from x (N, C),
/// weight (C): the twin of ops/rmsnorm.hpp's rmsnorm_forward.
template <class T>
void rmsnorm_forward(MatrixView<T> out, TensorView<T> rstd, ConstMatrix<T> x, ConstView<T> weight,
                     T eps = T(1e-5)) {
  const Index c = x.cols();
  for (Index r = 0; r < x.rows(); ++r) {
    T sq = 0;
    for (Index i = 0; i < c; ++i) sq += x(r, i) * x(r, i);
    const T s = T(1) / std::sqrt(sq / T(c) + eps);
    for (Index i = 0; i < c; ++i) out(r, i) = x(r, i) * s * weight[i];
    rstd[r] = s;
  }
}

/// d_x += and d_weight += by the chain rule through y_i = w_i · x_i · s(x), s = (mean x² + eps)^-½:
/// ∂y_i/∂x_j = w_i · (δ_ij · s − x_i · x_j · s³ / C).
template <class T>
void rmsnorm_backward(MatrixView<T> d_x, TensorView<T> d_weight, ConstMatrix<T> d_out,
                      ConstMatrix<T> x, ConstView<T> weight, ConstView<T> rstd) {
  const Index c = x.cols();
  for (Index r = 0; r < x.rows(); ++r) {
    const T s = rstd[r];
    for (Index j = 0; j < c; ++j) {
      T sum = 0;
      for (Index i = 0; i < c; ++i) {
        const T jacobian = weight[i] * ((i == j ? s : T(0)) - x(r, i) * x(r, j) * s * s * s / T(c));
        sum += d_out(r, i) * jacobian;
      }
      d_x(r, j) += sum;
    }
    for (Index i = 0; i < c; ++i) d_weight[i] += d_out(r, i) * x(r, i) * s;
  }
}

}  // namespace est::reference
