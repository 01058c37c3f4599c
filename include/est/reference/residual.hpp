#pragma once
// Reference twin of est/backend/cpu/residual.hpp.

#include "est/core/tensor.hpp"

namespace est::reference {

/// out = a + scale·b, element by element: the twin of ops/residual.hpp's residual_forward.
template <class T>
void residual_forward(TensorView<T> out, ConstView<T> a, ConstView<T> b, T scale = T(1)) {
  for (Index i = 0; i < a.numel(); ++i) out[i] = scale == T(1) ? a[i] + b[i] : a[i] + scale * b[i];
}

/// out = scale·x, element by element: the twin of scaled_copy.
template <class T>
void scaled_copy(TensorView<T> out, ConstView<T> x, T scale) {
  for (Index i = 0; i < x.numel(); ++i) out[i] = scale * x[i];
}

/// d_a += d_out and d_b += d_out: the twin of residual_backward.
template <class T>
void residual_backward(TensorView<T> d_a, TensorView<T> d_b, ConstView<T> d_out) {
  for (Index i = 0; i < d_out.numel(); ++i) {
    d_a[i] += d_out[i];
    d_b[i] += d_out[i];
  }
}

}  // namespace est::reference
