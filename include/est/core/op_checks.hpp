#pragma once
// Argument checks shared by the CPU and CUDA backends, so that an op refuses the same
// arguments with the same message on every device. Each check runs before the op writes
// anything. Shapes as in the ops: N rows, C (or I, O) columns, B batch, T sequence, H heads.

#include <cmath>
#include <span>

#include "est/core/checks.hpp"
#include "est/core/shape.hpp"
#include "est/core/tensor.hpp"
#include "est/core/transpose.hpp"

namespace est::op_checks {

/// The extents of a GEMM: C (m, n) = op(A) (m, k) · op(B) (k, n).
struct GemmDims {
  Index m, n, k;
  /// @var m
  /// Rows of C and of op(A).
  /// @var n
  /// Columns of C and of op(B).
  /// @var k
  /// The inner dimension: columns of op(A), rows of op(B).
};

/// C (m, n) = op(A) (m, k) · op(B) (k, n): checks the shapes and that C overlaps neither input.
template <class T, class U, class Device>
GemmDims gemm(const MatrixView<T, Device>& c, const MatrixView<U, Device>& a, Transpose ta,
              const MatrixView<U, Device>& b, Transpose tb) {
  const Index m = ta == Transpose::no ? a.rows() : a.cols();
  const Index k = ta == Transpose::no ? a.cols() : a.rows();
  const Index kb = tb == Transpose::no ? b.rows() : b.cols();
  const Index n = tb == Transpose::no ? b.cols() : b.rows();
  require<shape_error>(kb == k, "gemm: inner dimensions differ: op(A) is ", m, "x", k,
                       " but op(B) is ", kb, "x", n);
  require<shape_error>(c.rows() == m && c.cols() == n, "gemm: C is ", c.rows(), "x", c.cols(),
                       ", expected ", m, "x", n, " = op(A) rows x op(B) columns");
  expect_no_overlap(c, a, "gemm", "C", "A");
  expect_no_overlap(c, b, "gemm", "C", "B");
  return {m, n, k};
}

/// out (N, O) = in (N, I) · weight (I, O) + bias (O or empty).
template <class T, class U, class Device>
void linear_forward(const MatrixView<T, Device>& out, const MatrixView<U, Device>& in,
                    const MatrixView<U, Device>& weight, Index bias_size) {
  require<shape_error>(bias_size == 0 || bias_size == weight.cols(), "linear_forward: bias has ",
                       bias_size, " elements, expected ", weight.cols(),
                       " (= weight columns) or 0");
  require<shape_error>(in.cols() == weight.rows(), "linear_forward: in has ", in.cols(),
                       " features but weight is ", weight.rows(), "x", weight.cols(),
                       ", expected (", in.cols(), ", O)");
  require<shape_error>(out.cols() == weight.cols() && out.rows() == in.rows(),
                       "linear_forward: out is ", out.rows(), "x", out.cols(), ", expected ",
                       in.rows(), "x", weight.cols());
}

/// d_weight (I, O), weight (I, O), in (N, I), d_out (N, O), d_bias (O or empty).
template <class T, class U, class Device>
void linear_backward(const MatrixView<T, Device>& d_weight, Index d_bias_size,
                     const MatrixView<U, Device>& d_out, const MatrixView<U, Device>& in,
                     const MatrixView<U, Device>& weight) {
  require<shape_error>(d_bias_size == 0 || d_bias_size == d_out.cols(),
                       "linear_backward: d_bias has ", d_bias_size, " elements, expected ",
                       d_out.cols(), " or 0");
  require<shape_error>(d_weight.rows() == in.cols() && d_weight.cols() == d_out.cols() &&
                           weight.rows() == in.cols() && weight.cols() == d_out.cols() &&
                           in.rows() == d_out.rows(),
                       "linear_backward: in is ", in.rows(), "x", in.cols(), ", d_out ",
                       d_out.rows(), "x", d_out.cols(), ", weight ", weight.rows(), "x",
                       weight.cols(), " and d_weight ", d_weight.rows(), "x", d_weight.cols(),
                       "; expected in (N, I), d_out (N, O), weight and d_weight (I, O)");
}

/// LayerNorm's per-row statistics (N each) and per-feature weight and bias (C each).
inline void layernorm(const char* op, Index n, Index c, Index mean_n, Index rstd_n, Index w_n,
                      Index b_n) {
  require<shape_error>(mean_n == n && rstd_n == n, op, ": mean and rstd need ", n,
                       " elements (one per row), got ", mean_n, " and ", rstd_n);
  require<shape_error>(w_n == c && b_n == c, op, ": weight and bias need ", c,
                       " elements (one per feature), got ", w_n, " and ", b_n);
}

/// LayerNorm forward: out (N, C), mean and rstd (N), x (N, C), weight and bias (C), eps > 0.
template <class T, class U, class Device>
void layernorm_forward(const MatrixView<T, Device>& out, Index mean_n, Index rstd_n,
                       const MatrixView<U, Device>& x, Index weight_n, Index bias_n,
                       double eps) {
  const Index n = x.rows(), c = x.cols();
  require<shape_error>(c >= 1, "layernorm_forward: x has ", c, " features, expected at least 1");
  require<shape_error>(out.rows() == n && out.cols() == c, "layernorm_forward: out is ",
                       out.rows(), "x", out.cols(), ", expected ", n, "x", c);
  layernorm("layernorm_forward", n, c, mean_n, rstd_n, weight_n, bias_n);
  require<value_error>(std::isfinite(eps) && eps > 0, "layernorm_forward: eps must be a "
                       "finite positive number, got ", eps);
}

/// LayerNorm backward: d_x and d_out (N, C) apart from each other and from x (N, C); mean and
/// rstd (N); weight, d_weight and d_bias (C).
template <class T, class U, class Device>
void layernorm_backward(const MatrixView<T, Device>& d_x, Index d_weight_n, Index d_bias_n,
                        const MatrixView<U, Device>& d_out, const MatrixView<U, Device>& x,
                        Index weight_n, Index mean_n, Index rstd_n) {
  const Index n = x.rows(), c = x.cols();
  require<shape_error>(d_x.rows() == n && d_x.cols() == c && d_out.rows() == n &&
                           d_out.cols() == c,
                       "layernorm_backward: d_x and d_out must be ", n, "x", c, ", got ",
                       d_x.rows(), "x", d_x.cols(), " and ", d_out.rows(), "x", d_out.cols());
  require<shape_error>(c >= 1, "layernorm_backward: x has ", c, " features, expected at least 1");
  layernorm("layernorm_backward", n, c, mean_n, rstd_n, d_weight_n, d_bias_n);
  expect_no_overlap(d_x, d_out, "layernorm_backward", "d_x", "d_out");
  expect_no_overlap(d_x, x, "layernorm_backward", "d_x", "x");
  require<shape_error>(weight_n == c, "layernorm_backward: weight needs ", c, " elements, got ",
                       weight_n);
}

/// The extents of an attention call.
struct AttentionDims {
  Index B, T, H, d, C;
  /// @var B
  /// Batch size.
  /// @var T
  /// Sequence length.
  /// @var H
  /// Number of heads.
  /// @var d
  /// Head size, C / H.
  /// @var C
  /// Width of the attention output, H·d (qkv has 3C columns).
};

/// qkv (B, T, 3C), out (B, T, C), probs (B, H, T, T) for `heads` heads dividing C.
inline AttentionDims attention(const char* op, const Shape& qkv, const Shape& out,
                               const Shape& probs, Index heads) {
  require<shape_error>(qkv.rank() == 3 && qkv[2] % 3 == 0, op, ": qkv has shape ", qkv,
                       ", expected (B, T, 3C)");
  const Index C = qkv[2] / 3;
  require<value_error>(heads >= 1 && C % heads == 0, op, ": heads = ", heads,
                       " must be >= 1 and divide the width C = ", C);
  const AttentionDims dims{qkv[0], qkv[1], heads, C / heads, C};
  require<shape_error>(out == Shape{dims.B, dims.T, C}, op, ": attention output has shape ", out,
                       ", expected ", Shape{dims.B, dims.T, C});
  require<shape_error>(probs == Shape{dims.B, heads, dims.T, dims.T}, op, ": probs has shape ",
                       probs, ", expected ", Shape{dims.B, heads, dims.T, dims.T});
  return dims;
}

/// tokens (B, T), activation (B, T, C), wte (V, C), wpe (P, C) with P >= T, or wpe empty (no
/// position embedding, as in models with rotary positions). Returns whether wpe is used.
inline bool embedding(const char* op, const Shape& tokens, const Shape& out, const Shape& wte,
                      const Shape& wpe) {
  require<shape_error>(tokens.rank() == 2, op, ": tokens has shape ", tokens,
                       ", expected (B, T)");
  const Index b = tokens[0], t = tokens[1], c = wte.rank() == 2 ? wte[1] : -1;
  require<shape_error>(wte.rank() == 2, op, ": wte has shape ", wte, ", expected (V, C)");
  const bool positions = wpe.numel() != 0;
  require<shape_error>(!positions || (wpe.rank() == 2 && wpe[1] == c && wpe[0] >= t), op,
                       ": wpe has shape ", wpe, ", expected (P, ", c, ") with P >= T = ", t,
                       " or empty");
  require<shape_error>(out == Shape{b, t, c}, op, ": activation has shape ", out, ", expected ",
                       Shape{b, t, c});
  return positions;
}

/// logits (N, V), targets and losses (N), d_logits (N, V) or empty; returns whether a gradient
/// is asked for.
template <class T, class U, class Device>
bool softmax_cross_entropy(const MatrixView<T, Device>& d_logits,
                           const MatrixView<U, Device>& logits, Index targets_n, Index losses_n) {
  const Index n = logits.rows(), v = logits.cols();
  require<shape_error>(targets_n == n && losses_n == n,
                       "softmax_cross_entropy: targets and losses need ", n,
                       " elements (one per logits row), got ", targets_n, " and ", losses_n);
  const bool with_grad = d_logits.rows() * d_logits.cols() != 0;
  require<shape_error>(!with_grad || (d_logits.rows() == n && d_logits.cols() == v),
                       "softmax_cross_entropy: d_logits is ", d_logits.rows(), "x",
                       d_logits.cols(), ", expected ", n, "x", v, " or empty");
  return with_grad;
}

/// RMSNorm: `out` (N, C) shaped like x (N, C) and apart from it, rstd (N), weight (C),
/// eps finite and >= 0. `out` is the forward's output; the backward checks d_x, then d_out
/// (with d_weight's size as `weight_n`).
template <class T, class U, class Device>
void rmsnorm(const char* op, const MatrixView<T, Device>& out, const MatrixView<U, Device>& x,
             Index rstd_n, Index weight_n, double eps) {
  const Index n = x.rows(), c = x.cols();
  require<shape_error>(out.rows() == n && out.cols() == c, op, ": output is ", out.rows(), "x",
                       out.cols(), ", expected ", n, "x", c, " (the shape of x)");
  require<shape_error>(c >= 1, op, ": x has ", c, " features, expected at least 1");
  require<shape_error>(rstd_n == n, op, ": rstd needs ", n, " elements (one per row), got ",
                       rstd_n);
  require<shape_error>(weight_n == c, op, ": weight needs ", c, " elements, got ", weight_n);
  require<value_error>(std::isfinite(eps) && eps >= 0, op, ": eps must be finite and >= 0, got ",
                       eps);
  expect_no_overlap(out, x, op, "output", "x");
}

/// The extents of a rotary-embedding call.
struct RopeDims {
  Index B, T, width, half;
  /// @var B
  /// Batch size.
  /// @var T
  /// Sequence length.
  /// @var width
  /// Columns W of x.
  /// @var half
  /// Half the head size: the number of rotated pairs per head, the tables' width.
};

/// Rotary embedding in place on columns [first, first + heads·d) of x (B, T, W), with cos and
/// sin tables (P, d/2), P >= T.
inline RopeDims rope(const char* op, const Shape& x, Index first, Index heads, Index head_dim,
                     const Shape& cos, const Shape& sin) {
  require<shape_error>(x.rank() == 3, op, ": x has shape ", x, ", expected (B, T, W)");
  require<value_error>(head_dim >= 2 && head_dim % 2 == 0, op, ": head size ", head_dim,
                       " must be even and >= 2");
  require<value_error>(heads >= 0 && first >= 0 && first + heads * head_dim <= x[2], op,
                       ": columns [", first, ", ", first + heads * head_dim,
                       ") do not fit x of width ", x[2]);
  require<shape_error>(cos.rank() == 2 && cos[1] == head_dim / 2 && cos[0] >= x[1] && sin == cos,
                       op, ": cos and sin have shapes ", cos, " and ", sin, ", expected (P, ",
                       head_dim / 2, ") with P >= T = ", x[1]);
  return {x[0], x[1], x[2], head_dim / 2};
}

/// SwiGLU: gate_up (N, 2m) = [gate | up], out (N, m).
template <class T, class U, class Device>
void swiglu(const char* op, const MatrixView<T, Device>& out, const MatrixView<U, Device>& gate_up) {
  require<shape_error>(gate_up.rows() == out.rows() && gate_up.cols() == 2 * out.cols(), op,
                       ": gate_up is ", gate_up.rows(), "x", gate_up.cols(), " and the output ",
                       out.rows(), "x", out.cols(), ", expected (N, 2m) and (N, m)");
  expect_no_overlap(out, gate_up, op, "output", "gate_up");
}

/// The extents of a key/value expansion.
struct KvGroupDims {
  Index N, h, g, d;
  /// @var N
  /// Rows (B*T).
  /// @var h
  /// Query heads.
  /// @var g
  /// Key/value groups.
  /// @var d
  /// Head size.
};

/// Grouped-query attention's key/value expansion: packed (N, (h + 2g)·d) = [Q (h heads) | K (g
/// groups) | V (g groups)], expanded (N, 3·h·d), group_of_head (h) ascending in [0, g), every
/// group used.
template <class T, class U, class Device>
KvGroupDims kv_groups(const char* op, const MatrixView<T, Device>& expanded,
                      const MatrixView<U, Device>& packed, std::span<const Index> group_of_head,
                      Index head_dim) {
  const Index h = std::ssize(group_of_head);
  require<value_error>(h >= 1 && head_dim >= 1, op, ": need at least one head and head size >= 1");
  require<shape_error>(expanded.cols() == 3 * h * head_dim && expanded.rows() == packed.rows(), op,
                       ": expanded is ", expanded.rows(), "x", expanded.cols(), ", expected ",
                       packed.rows(), "x", 3 * h * head_dim);
  for (Index i = 0; i < h; ++i) {
    const Index group = group_of_head[std::size_t(i)];
    const Index previous = i == 0 ? 0 : group_of_head[std::size_t(i - 1)];
    require<value_error>(i == 0 ? group == 0 : group == previous || group == previous + 1, op,
                         ": group_of_head must start at 0 and rise by 0 or 1, got ", group,
                         " at head ", i);
  }
  const Index g = group_of_head.back() + 1;
  require<shape_error>(packed.cols() == (h + 2 * g) * head_dim, op, ": packed has ",
                       packed.cols(), " columns, expected (h + 2g)·d = ", (h + 2 * g) * head_dim);
  expect_no_overlap(expanded, packed, op, "expanded", "packed");
  return {packed.rows(), h, g, head_dim};
}

}  // namespace est::op_checks
