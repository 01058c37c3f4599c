#pragma once
// Reference twin of est/backend/cpu/residual.hpp.

#include "est/core/tensor.hpp"

namespace est::reference {

template <class T>
void residual_forward(TensorView<T> out, ConstView<T> a, ConstView<T> b) {
  for (Index i = 0; i < a.numel(); ++i) out[i] = a[i] + b[i];
}

template <class T>
void residual_backward(TensorView<T> d_a, TensorView<T> d_b, ConstView<T> d_out) {
  for (Index i = 0; i < d_out.numel(); ++i) {
    d_a[i] += d_out[i];
    d_b[i] += d_out[i];
  }
}

}  // namespace est::reference
