#pragma once
// Reference twin of est/backend/cpu/swiglu.hpp: silu through std::tanh (σ(z) = (1 + tanh(z/2))/2),
// its derivative from the product rule.

#include <cmath>

#include "est/core/tensor.hpp"

namespace est::reference {

/// The logistic function through tanh: σ(z) = (1 + tanh(z/2)) / 2.
template <class T>
T sigmoid(T z) {
  return (T(1) + std::tanh(z / T(2))) / T(2);
}

/// out (N, m) = silu(gate) ⊙ up from gate_up (N, 2m) = [gate | up]: the twin of
/// ops/swiglu.hpp's swiglu_forward.
template <class T>
void swiglu_forward(MatrixView<T> out, ConstMatrix<T> gate_up) {
  const Index m = out.cols();
  for (Index r = 0; r < out.rows(); ++r)
    for (Index i = 0; i < m; ++i) {
      const T z = gate_up(r, i);
      out(r, i) = z * sigmoid(z) * gate_up(r, m + i);
    }
}

/// d_gate_up (N, 2m) (written) from d_out (N, m) and the forward's gate_up, by the product
/// rule: the twin of swiglu_backward.
template <class T>
void swiglu_backward(MatrixView<T> d_gate_up, ConstMatrix<T> d_out, ConstMatrix<T> gate_up) {
  const Index m = d_out.cols();
  for (Index r = 0; r < d_out.rows(); ++r)
    for (Index i = 0; i < m; ++i) {
      const T z = gate_up(r, i), u = gate_up(r, m + i), s = sigmoid(z);
      const T d_silu = s + z * s * (T(1) - s);  // d/dz (z · σ(z))
      d_gate_up(r, i) = d_out(r, i) * u * d_silu;
      d_gate_up(r, m + i) = d_out(r, i) * z * s;
    }
}

}  // namespace est::reference
