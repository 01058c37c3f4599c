#pragma once
// SwiGLU, the gated activation of Llama's MLP: out = silu(gate) ⊙ up with silu(z) = z · σ(z).
// gate and up are the two halves of one fused projection's output, so both come from one GEMM.
// Shapes: N rows (B*T), m neurons; gate_up (N, 2m) = [gate | up], out (N, m).

#include <cmath>

#include "est/backend/cpu/parallel.hpp"
#include "est/core/op_checks.hpp"
#include "est/core/tensor.hpp"

namespace est {

/// out (N, m) = silu(gate_up[:, :m]) ⊙ gate_up[:, m:].
template <class T>
void swiglu_forward(const Context<cpu>& ctx, MatrixView<T> out, ConstMatrix<T> gate_up) {
  op_checks::swiglu("swiglu_forward", out, gate_up);
  const Index m = out.cols();
  cpu_detail::parallel_for(ctx, out.rows(), [&](Index r) {
    const T* gate = &gate_up(r, 0);
    const T* up = gate + m;
    T* o = &out(r, 0);
    for (Index i = 0; i < m; ++i) o[i] = gate[i] / (T(1) + std::exp(-gate[i])) * up[i];
  });
}

/// d_gate_up (N, 2m) (written) from d_out (N, m) and the saved gate_up:
/// d_gate = d_out ⊙ up ⊙ σ(gate) · (1 + gate · (1 − σ(gate))), d_up = d_out ⊙ silu(gate).
template <class T>
void swiglu_backward(const Context<cpu>& ctx, MatrixView<T> d_gate_up, ConstMatrix<T> d_out,
                     ConstMatrix<T> gate_up) {
  op_checks::swiglu("swiglu_backward", d_out, gate_up);
  require<shape_error>(d_gate_up.rows() == gate_up.rows() && d_gate_up.cols() == gate_up.cols(),
                       "swiglu_backward: d_gate_up is ", d_gate_up.rows(), "x", d_gate_up.cols(),
                       ", expected ", gate_up.rows(), "x", gate_up.cols());
  expect_no_overlap(d_gate_up, gate_up, "swiglu_backward", "d_gate_up", "gate_up");
  expect_no_overlap(d_gate_up, d_out, "swiglu_backward", "d_gate_up", "d_out");
  const Index m = d_out.cols();
  cpu_detail::parallel_for(ctx, d_out.rows(), [&](Index r) {
    const T* gate = &gate_up(r, 0);
    const T* up = gate + m;
    const T* dy = &d_out(r, 0);
    T* d_gate = &d_gate_up(r, 0);
    T* d_up = d_gate + m;
    for (Index i = 0; i < m; ++i) {
      const T sigmoid = T(1) / (T(1) + std::exp(-gate[i]));
      d_gate[i] = dy[i] * up[i] * sigmoid * (T(1) + gate[i] * (T(1) - sigmoid));
      d_up[i] = dy[i] * gate[i] * sigmoid;
    }
  });
}

}  // namespace est
