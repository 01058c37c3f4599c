#pragma once
// SwiGLU on the GPU, one thread per neuron of a row: out = silu(gate) ⊙ up with
// silu(z) = z · σ(z); same contract as the CPU swiglu.hpp.
// Shapes: N rows (B*T), m neurons; gate_up (N, 2m) = [gate | up], out (N, m).

#include "est/backend/cuda/kernels.cuh"
#include "est/core/checks.hpp"
#include "est/core/op_checks.hpp"
#include "est/core/tensor.hpp"

namespace est {

namespace cuda_detail {

template <class T>
__global__ void swiglu_forward_kernel(T* out, Index out_stride, const T* gate_up, Index gu_stride,
                                      Index n, Index m) {
  const Index idx = Index(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= n * m) return;
  const Index r = idx / m, i = idx % m;
  const T gate = gate_up[r * gu_stride + i], up = gate_up[r * gu_stride + m + i];
  out[r * out_stride + i] = gate / (T(1) + exp(-gate)) * up;
}

template <class T>
__global__ void swiglu_backward_kernel(T* d_gate_up, Index dgu_stride, const T* d_out,
                                       Index dout_stride, const T* gate_up, Index gu_stride,
                                       Index n, Index m) {
  const Index idx = Index(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= n * m) return;
  const Index r = idx / m, i = idx % m;
  const T gate = gate_up[r * gu_stride + i], up = gate_up[r * gu_stride + m + i];
  const T dy = d_out[r * dout_stride + i];
  const T sigmoid = T(1) / (T(1) + exp(-gate));
  T* dg = d_gate_up + r * dgu_stride;
  dg[i] = dy * up * sigmoid * (T(1) + gate * (T(1) - sigmoid));
  dg[m + i] = dy * gate * sigmoid;
}

}  // namespace cuda_detail

/// out (N, m) = silu(gate_up[:, :m]) ⊙ gate_up[:, m:].
template <class T>
void swiglu_forward(const Context<cuda>& ctx, MatrixView<T, cuda> out,
                    ConstMatrix<T, cuda> gate_up) {
  op_checks::swiglu("swiglu_forward", out, gate_up);
  const Index n = out.rows(), m = out.cols();
  if (n * m == 0) return;
  cuda_detail::swiglu_forward_kernel<<<cuda_detail::blocks_for(n * m, 256), 256, 0,
                                       ctx.stream()>>>(out.data(), out.stride(), gate_up.data(),
                                                       gate_up.stride(), n, m);
  EST_CUDA_CHECK_LAUNCH();
}

/// d_gate_up (N, 2m) (written) from d_out (N, m) and the saved gate_up:
/// d_gate = d_out ⊙ up ⊙ σ(gate) · (1 + gate · (1 − σ(gate))), d_up = d_out ⊙ silu(gate).
template <class T>
void swiglu_backward(const Context<cuda>& ctx, MatrixView<T, cuda> d_gate_up,
                     ConstMatrix<T, cuda> d_out, ConstMatrix<T, cuda> gate_up) {
  op_checks::swiglu("swiglu_backward", d_out, gate_up);
  require<shape_error>(d_gate_up.rows() == gate_up.rows() && d_gate_up.cols() == gate_up.cols(),
                       "swiglu_backward: d_gate_up is ", d_gate_up.rows(), "x", d_gate_up.cols(),
                       ", expected ", gate_up.rows(), "x", gate_up.cols());
  expect_no_overlap(d_gate_up, gate_up, "swiglu_backward", "d_gate_up", "gate_up");
  expect_no_overlap(d_gate_up, d_out, "swiglu_backward", "d_gate_up", "d_out");
  const Index n = d_out.rows(), m = d_out.cols();
  if (n * m == 0) return;
  cuda_detail::swiglu_backward_kernel<<<cuda_detail::blocks_for(n * m, 256), 256, 0,
                                        ctx.stream()>>>(d_gate_up.data(), d_gate_up.stride(),
                                                        d_out.data(), d_out.stride(),
                                                        gate_up.data(), gate_up.stride(), n, m);
  EST_CUDA_CHECK_LAUNCH();
}

}  // namespace est
