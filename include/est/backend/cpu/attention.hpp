#pragma once
// Causal multi-head self-attention on a fused QKV activation.
// Shapes: B batch, T sequence, H heads, d head size, C = H*d.
//   qkv   (B, T, 3C): [Q | K | V] along the last axis; head h of Q is columns h*d .. h*d+d-1
//   out   (B, T, C):  concatenated head outputs (before the output projection)
//   probs (B, H, T, T): softmax probabilities saved for backward; row t is zero past column t
// H is an argument, not the model's: a buffer holding only some heads (a sampled subnetwork's)
// is attention over fewer heads.

#include <cmath>

#include "est/backend/cpu/arrays.hpp"
#include "est/backend/cpu/parallel.hpp"
#include "est/core/op_checks.hpp"
#include "est/core/tensor.hpp"

namespace est {

namespace cpu_detail {
template <class T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using StridedMap = Eigen::Map<RowMatrix<T>, Eigen::Unaligned, Eigen::OuterStride<>>;
template <class T>
using ConstStridedMap = Eigen::Map<const RowMatrix<T>, Eigen::Unaligned, Eigen::OuterStride<>>;
}  // namespace cpu_detail

/// out (B, T, C) and probs (B, H, T, T) from qkv (B, T, 3C).
template <class T>
void attention_forward(const Context<cpu>& ctx, TensorView<T> out, TensorView<T> probs,
                       ConstView<T> qkv, Index heads) {
  using namespace cpu_detail;
  const auto [B, T_, H, d, C] =
      op_checks::attention("attention_forward", qkv.shape(), out.shape(), probs.shape(), heads);
  const T scale = T(1) / std::sqrt(T(d));
  parallel_for(ctx, B * H, [&, B = B, T_ = T_, H = H, d = d, C = C](Index bh) {
    const Index b = bh / H, h = bh % H;
    const T* base = qkv.data() + b * T_ * 3 * C + h * d;
    const ConstStridedMap<T> q(base, T_, d, Eigen::OuterStride<>(3 * C));
    const ConstStridedMap<T> k(base + C, T_, d, Eigen::OuterStride<>(3 * C));
    const ConstStridedMap<T> v(base + 2 * C, T_, d, Eigen::OuterStride<>(3 * C));
    Eigen::Map<RowMatrix<T>> p(probs.data() + bh * T_ * T_, T_, T_);
    StridedMap<T> o(out.data() + b * T_ * C + h * d, T_, d, Eigen::OuterStride<>(C));
    p.noalias() = scale * (q * k.transpose());
    for (Index t = 0; t < T_; ++t) {
      auto row = p.row(t).head(t + 1).array();
      const T max = row.maxCoeff();
      row = (row - max).exp();
      row /= row.sum();
      p.row(t).tail(T_ - t - 1).setZero();
    }
    o.noalias() = p * v;
  });
}

/// d_qkv (B, T, 3C) (written) from d_out (B, T, C), the forward's qkv and probs.
template <class T>
void attention_backward(const Context<cpu>& ctx, TensorView<T> d_qkv, ConstView<T> d_out,
                        ConstView<T> qkv, ConstView<T> probs, Index heads) {
  using namespace cpu_detail;
  const auto [B, T_, H, d, C] =
      op_checks::attention("attention_backward", qkv.shape(), d_out.shape(), probs.shape(), heads);
  require<shape_error>(d_qkv.shape() == qkv.shape(), "attention_backward: d_qkv has shape ",
                       d_qkv.shape(), ", expected ", qkv.shape());
  const T scale = T(1) / std::sqrt(T(d));
  parallel_ranges(ctx, B * H, [&, B = B, T_ = T_, H = H, d = d, C = C](Index begin, Index end) {
    RowMatrix<T> dp(T_, T_);  // (T, T) scratch: ∂loss/∂probs, then ∂loss/∂scores
    for (Index bh = begin; bh < end; ++bh) {
      const Index b = bh / H, h = bh % H;
      const Index offset = b * T_ * 3 * C + h * d;
      const Eigen::OuterStride<> qkv_stride(3 * C);
      const ConstStridedMap<T> q(qkv.data() + offset, T_, d, qkv_stride);
      const ConstStridedMap<T> k(qkv.data() + offset + C, T_, d, qkv_stride);
      const ConstStridedMap<T> v(qkv.data() + offset + 2 * C, T_, d, qkv_stride);
      StridedMap<T> dq(d_qkv.data() + offset, T_, d, qkv_stride);
      StridedMap<T> dk(d_qkv.data() + offset + C, T_, d, qkv_stride);
      StridedMap<T> dv(d_qkv.data() + offset + 2 * C, T_, d, qkv_stride);
      const Eigen::Map<const RowMatrix<T>> p(probs.data() + bh * T_ * T_, T_, T_);
      const ConstStridedMap<T> dout(d_out.data() + b * T_ * C + h * d, T_, d,
                                    Eigen::OuterStride<>(C));
      dv.noalias() = p.transpose() * dout;
      dp.noalias() = dout * v.transpose();
      // Softmax backward per row: ds = p ⊙ (dp - Σ p·dp). Masked entries have p = 0.
      for (Index t = 0; t < T_; ++t) {
        const T dot = p.row(t).head(t + 1).dot(dp.row(t).head(t + 1));
        dp.row(t).head(t + 1).array() = p.row(t).head(t + 1).array() *
                                        (dp.row(t).head(t + 1).array() - dot) * scale;
        dp.row(t).tail(T_ - t - 1).setZero();
      }
      dq.noalias() = dp * k;
      dk.noalias() = dp.transpose() * q;
    }
  });
}

}  // namespace est
