#pragma once
// Reference twin of est/backend/cpu/gelu.hpp.

#include <cmath>

#include "est/core/tensor.hpp"

namespace est::reference {

/// GELU with GPT-2's tanh approximation: x/2 · (1 + tanh(√(2/π) · (x + 0.044715 x³))).
template <class T>
T gelu(T x) {
  const T k = T(0.7978845608028654);  // √(2/π)
  return T(0.5) * x * (T(1) + std::tanh(k * (x + T(0.044715) * x * x * x)));
}

/// out = gelu(x), element by element: the twin of ops/gelu.hpp's gelu_forward (sizes not
/// checked).
template <class T>
void gelu_forward(TensorView<T> out, ConstView<T> x) {
  for (Index i = 0; i < x.numel(); ++i) out[i] = gelu(x[i]);
}

/// d_x = gelu'(x) · d_out (written), element by element: the twin of gelu_backward.
template <class T>
void gelu_backward(TensorView<T> d_x, ConstView<T> x, ConstView<T> d_out) {
  const T k = T(0.7978845608028654);
  for (Index i = 0; i < x.numel(); ++i) {
    const T v = x[i];
    const T th = std::tanh(k * (v + T(0.044715) * v * v * v));
    const T dgelu = T(0.5) * (T(1) + th) +
                    T(0.5) * v * (T(1) - th * th) * k * (T(1) + T(3) * T(0.044715) * v * v);
    d_x[i] = dgelu * d_out[i];
  }
}

}  // namespace est::reference
