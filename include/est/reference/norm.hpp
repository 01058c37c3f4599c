#pragma once
// Reference twins of the global gradient norm and clipping (backend/cpu/norm.hpp): the sum of
// squares in long double, one element after another.

#include <cmath>

#include "est/core/tensor.hpp"

namespace est::reference {

/// The 2-norm of `values`, the squares summed in long double one element after another: the
/// twin of ops/norm.hpp's global_norm.
template <class T>
[[nodiscard]] double global_norm(ConstView<T> values) {
  long double sum = 0;
  for (Index i = 0; i < values.numel(); ++i) {
    sum += static_cast<long double>(values[i]) * static_cast<long double>(values[i]);
  }
  return static_cast<double>(std::sqrt(sum));
}

/// PyTorch's clip_grad_norm_: scales by max_norm / (norm + 1e-6) when that is below 1; returns
/// the norm before clipping (a non-finite norm leaves the values alone).
template <class T>
double clip_grad_norm(TensorView<T> grads, double max_norm) {
  const double norm = global_norm<T>(grads);
  if (!std::isfinite(norm)) return norm;
  const double coefficient = max_norm / (norm + 1e-6);
  if (coefficient < 1.0) {
    for (Index i = 0; i < grads.numel(); ++i) grads[i] *= static_cast<T>(coefficient);
  }
  return norm;
}

}  // namespace est::reference
