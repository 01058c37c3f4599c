#pragma once
// The two halves of a GPT-2 block on the CPU, computing only a subnetwork's active units.
//
// Attention over h of H heads: the Q, K and V columns of the active heads (and their bias
// entries) are gathered into a packed (C, 3hd) weight, the QKV GEMM and the attention run on
// (N, 3hd) and (B, h, T, T), and the output projection uses the gathered (hd, C) rows of W_O,
// scaled by H/h (bias unscaled). MLP over m of M neurons: the gathered (C, m) columns of W_fc,
// m bias entries and (m, C) rows of W_proj, output scaled by M/m. Backward writes the packed
// gradients and adds them back into exactly the active columns and rows; nothing else of the
// gradient is touched. With every head (neuron) active, the half runs the plain unsliced ops,
// so training the full subnetwork is bit for bit plain training.
//
// Shapes: B batch, T sequence, N = B·T, C width, H heads, d = C/H, M MLP hidden; h active heads,
// m active neurons. Activation buffers are sized for the full layer; a sliced pass uses their
// leading elements.

#include <span>
#include <vector>

#include "est/backend/cpu/attention.hpp"
#include "est/backend/cpu/gather.hpp"
#include "est/backend/cpu/gelu.hpp"
#include "est/backend/cpu/linear.hpp"
#include "est/models/gpt2_activations.hpp"
#include "est/models/gpt2_parameters.hpp"

namespace est {

/// Packed parameters and gradients of the active slices of one half-block, reused by every
/// layer (each half gathers what it needs when it runs). Buffers only grow.
template <class T>
class SliceWorkspace {
 public:
  std::vector<Index> columns;  // active columns of the first projection (QKV or W_fc)
  std::vector<Index> rows;     // active rows of the second projection (W_O or W_proj)

  /// Views of the packed buffers for a first projection (in, k), its bias (k) and a second
  /// projection (k, out).
  MatrixView<T> weight_in(Index in, Index k) { return get(weight_in_, in, k); }
  MatrixView<T> bias_in(Index k) { return get(bias_in_, 1, k); }
  MatrixView<T> weight_out(Index k, Index out) { return get(weight_out_, k, out); }
  MatrixView<T> grad_weight_in(Index in, Index k) { return zeroed(grad_weight_in_, in, k); }
  MatrixView<T> grad_bias_in(Index k) { return zeroed(grad_bias_in_, 1, k); }
  MatrixView<T> grad_weight_out(Index k, Index out) { return zeroed(grad_weight_out_, k, out); }

 private:
  static MatrixView<T> get(Tensor<T>& buffer, Index rows, Index cols) {
    if (buffer.numel() < rows * cols) buffer = Tensor<T>({rows * cols});
    return {buffer.data(), rows, cols};
  }
  static MatrixView<T> zeroed(Tensor<T>& buffer, Index rows, Index cols) {
    auto view = get(buffer, rows, cols);
    std::fill_n(buffer.data(), rows * cols, T(0));
    return view;
  }
  // Flat buffers, viewed as: weight_in (C, k) packed QKV or W_fc columns; bias_in (1, k) their
  // bias entries; weight_out (k, C) packed W_O or W_proj rows; grad_* the same shapes.
  Tensor<T> weight_in_, bias_in_, weight_out_;
  Tensor<T> grad_weight_in_, grad_bias_in_, grad_weight_out_;
};

namespace detail {

/// Columns of the active heads in [Q | K | V] (ascending) and their rows of W_O.
inline void head_indices(std::span<const int> heads, Index C, Index d, std::vector<Index>& columns,
                         std::vector<Index>& rows) {
  columns.clear();
  rows.clear();
  for (Index part = 0; part < 3; ++part) {
    for (int h : heads) {
      for (Index i = 0; i < d; ++i) columns.push_back(part * C + h * d + i);
    }
  }
  for (int h : heads) {
    for (Index i = 0; i < d; ++i) rows.push_back(h * d + i);
  }
}

inline void neuron_indices(std::span<const int> neurons, std::vector<Index>& columns,
                           std::vector<Index>& rows) {
  columns.assign(neurons.begin(), neurons.end());
  rows = columns;
}

template <class T>
MatrixView<T> as_row(TensorView<T> v) {
  return {v.data(), 1, v.numel()};
}

}  // namespace detail

/// Attention half, forward: branch (N, C) = attention output projection of ln_1 (N, C) over
/// `heads` of `H`. Saves qkv, probs and attn in `la`.
template <class T>
void gpt2_attention_forward(const Context<cpu>& c, MatrixView<T> branch, ConstMatrix<T> ln_1,
                            Gpt2LayerActivations<T>& la, const Gpt2LayerTensors<T>& w,
                            std::span<const int> heads, Index H, Index B, Index T_,
                            SliceWorkspace<T>& ws) {
  const Index N = B * T_, C = ln_1.cols(), h = std::ssize(heads);
  if (h == H) {
    linear_forward<T>(c, la.qkv.view().matrix(N), ln_1, w.attn_weight.matrix(), w.attn_bias);
    attention_forward<T>(c, la.attn, la.probs, la.qkv, H);
    linear_forward<T>(c, branch, la.attn.view().matrix(N), w.attn_proj_weight.matrix(),
                      w.attn_proj_bias);
    return;
  }
  const Index d = C / H, hd = h * d;
  detail::head_indices(heads, C, d, ws.columns, ws.rows);
  auto w_qkv = ws.weight_in(C, 3 * hd);
  auto b_qkv = ws.bias_in(3 * hd);
  gather_columns<T>(c, w_qkv, w.attn_weight.matrix(), ws.columns);
  gather_columns<T>(c, b_qkv, detail::as_row(w.attn_bias), ws.columns);
  TensorView<T> qkv(la.qkv.data(), {B, T_, 3 * hd});
  TensorView<T> probs(la.probs.data(), {B, h, T_, T_});
  TensorView<T> attn(la.attn.data(), {B, T_, hd});
  linear_forward<T>(c, qkv.matrix(N), ln_1, w_qkv, TensorView<T>(b_qkv.data(), {3 * hd}));
  attention_forward<T>(c, attn, probs, qkv, h);
  auto w_o = ws.weight_out(hd, C);
  gather_rows<T>(c, w_o, w.attn_proj_weight.matrix(), ws.rows);
  linear_forward<T>(c, branch, attn.matrix(N), w_o, w.attn_proj_bias, T(H) / T(h));
}

/// Attention half, backward: d_ln (N, C) (written) from d_branch (N, C); adds the gradients of
/// the active slices into `g`. `a` supplies the d_attn and d_qkv scratch buffers.
template <class T>
void gpt2_attention_backward(const Context<cpu>& c, MatrixView<T> d_ln, ConstMatrix<T> d_branch,
                             ConstMatrix<T> ln_1, const Gpt2LayerActivations<T>& la,
                             const Gpt2LayerTensors<T>& w, const Gpt2LayerTensors<T>& g,
                             std::span<const int> heads, Index H, Index B, Index T_,
                             Gpt2Activations<T>& a, SliceWorkspace<T>& ws) {
  const Index N = B * T_, C = ln_1.cols(), h = std::ssize(heads);
  if (h == H) {
    linear_backward<T>(c, a.d_attn.view().matrix(N), g.attn_proj_weight.matrix(), g.attn_proj_bias,
                       d_branch, la.attn.view().matrix(N), w.attn_proj_weight.matrix());
    attention_backward<T>(c, a.d_qkv, a.d_attn, la.qkv, la.probs, H);
    linear_backward<T>(c, d_ln, g.attn_weight.matrix(), g.attn_bias, a.d_qkv.view().matrix(N),
                       ln_1, w.attn_weight.matrix());
    return;
  }
  const Index d = C / H, hd = h * d;
  detail::head_indices(heads, C, d, ws.columns, ws.rows);
  const TensorView<const T> qkv(la.qkv.data(), {B, T_, 3 * hd});
  const TensorView<const T> probs(la.probs.data(), {B, h, T_, T_});
  const TensorView<const T> attn(la.attn.data(), {B, T_, hd});
  TensorView<T> d_attn(a.d_attn.data(), {B, T_, hd});
  TensorView<T> d_qkv(a.d_qkv.data(), {B, T_, 3 * hd});

  auto w_o = ws.weight_out(hd, C);
  gather_rows<T>(c, w_o, w.attn_proj_weight.matrix(), ws.rows);
  auto g_o = ws.grad_weight_out(hd, C);
  linear_backward<T>(c, d_attn.matrix(N), g_o, g.attn_proj_bias, d_branch, attn.matrix(N), w_o,
                     T(H) / T(h));
  scatter_add_rows<T>(c, g.attn_proj_weight.matrix(), g_o, ws.rows);

  attention_backward<T>(c, d_qkv, d_attn, qkv, probs, h);

  auto w_qkv = ws.weight_in(C, 3 * hd);
  gather_columns<T>(c, w_qkv, w.attn_weight.matrix(), ws.columns);
  auto g_qkv = ws.grad_weight_in(C, 3 * hd);
  auto g_b = ws.grad_bias_in(3 * hd);
  linear_backward<T>(c, d_ln, g_qkv, TensorView<T>(g_b.data(), {3 * hd}), d_qkv.matrix(N), ln_1,
                     w_qkv);
  scatter_add_columns<T>(c, g.attn_weight.matrix(), g_qkv, ws.columns);
  scatter_add_columns<T>(c, detail::as_row(g.attn_bias), g_b, ws.columns);
}

/// MLP half, forward: branch (N, C) from ln_2 (N, C) over `neurons` of M. Saves fc and fc_gelu.
template <class T>
void gpt2_mlp_forward(const Context<cpu>& c, MatrixView<T> branch, ConstMatrix<T> ln_2,
                      Gpt2LayerActivations<T>& la, const Gpt2LayerTensors<T>& w,
                      std::span<const int> neurons, Index M, Index B, Index T_,
                      SliceWorkspace<T>& ws) {
  const Index N = B * T_, C = ln_2.cols(), m = std::ssize(neurons);
  if (m == M) {
    linear_forward<T>(c, la.fc.view().matrix(N), ln_2, w.fc_weight.matrix(), w.fc_bias);
    gelu_forward<T>(c, la.fc_gelu, la.fc);
    linear_forward<T>(c, branch, la.fc_gelu.view().matrix(N), w.fc_proj_weight.matrix(),
                      w.fc_proj_bias);
    return;
  }
  detail::neuron_indices(neurons, ws.columns, ws.rows);
  auto w_fc = ws.weight_in(C, m);
  auto b_fc = ws.bias_in(m);
  gather_columns<T>(c, w_fc, w.fc_weight.matrix(), ws.columns);
  gather_columns<T>(c, b_fc, detail::as_row(w.fc_bias), ws.columns);
  TensorView<T> fc(la.fc.data(), {B, T_, m});
  TensorView<T> fc_gelu(la.fc_gelu.data(), {B, T_, m});
  linear_forward<T>(c, fc.matrix(N), ln_2, w_fc, TensorView<T>(b_fc.data(), {m}));
  gelu_forward<T>(c, fc_gelu, fc);
  auto w_proj = ws.weight_out(m, C);
  gather_rows<T>(c, w_proj, w.fc_proj_weight.matrix(), ws.rows);
  linear_forward<T>(c, branch, fc_gelu.matrix(N), w_proj, w.fc_proj_bias, T(M) / T(m));
}

/// MLP half, backward: d_ln (N, C) (written) from d_branch (N, C); adds the gradients of the
/// active slices into `g`. `a` supplies the d_fc and d_fc_gelu scratch buffers.
template <class T>
void gpt2_mlp_backward(const Context<cpu>& c, MatrixView<T> d_ln, ConstMatrix<T> d_branch,
                       ConstMatrix<T> ln_2, const Gpt2LayerActivations<T>& la,
                       const Gpt2LayerTensors<T>& w, const Gpt2LayerTensors<T>& g,
                       std::span<const int> neurons, Index M, Index B, Index T_,
                       Gpt2Activations<T>& a, SliceWorkspace<T>& ws) {
  const Index N = B * T_, C = ln_2.cols(), m = std::ssize(neurons);
  if (m == M) {
    linear_backward<T>(c, a.d_fc_gelu.view().matrix(N), g.fc_proj_weight.matrix(), g.fc_proj_bias,
                       d_branch, la.fc_gelu.view().matrix(N), w.fc_proj_weight.matrix());
    gelu_backward<T>(c, a.d_fc, la.fc, a.d_fc_gelu);
    linear_backward<T>(c, d_ln, g.fc_weight.matrix(), g.fc_bias, a.d_fc.view().matrix(N), ln_2,
                       w.fc_weight.matrix());
    return;
  }
  detail::neuron_indices(neurons, ws.columns, ws.rows);
  const TensorView<const T> fc(la.fc.data(), {B, T_, m});
  const TensorView<const T> fc_gelu(la.fc_gelu.data(), {B, T_, m});
  TensorView<T> d_fc(a.d_fc.data(), {B, T_, m});
  TensorView<T> d_fc_gelu(a.d_fc_gelu.data(), {B, T_, m});

  auto w_proj = ws.weight_out(m, C);
  gather_rows<T>(c, w_proj, w.fc_proj_weight.matrix(), ws.rows);
  auto g_proj = ws.grad_weight_out(m, C);
  linear_backward<T>(c, d_fc_gelu.matrix(N), g_proj, g.fc_proj_bias, d_branch, fc_gelu.matrix(N),
                     w_proj, T(M) / T(m));
  scatter_add_rows<T>(c, g.fc_proj_weight.matrix(), g_proj, ws.rows);

  gelu_backward<T>(c, d_fc, fc, d_fc_gelu);

  auto w_fc = ws.weight_in(C, m);
  gather_columns<T>(c, w_fc, w.fc_weight.matrix(), ws.columns);
  auto g_fc = ws.grad_weight_in(C, m);
  auto g_b = ws.grad_bias_in(m);
  linear_backward<T>(c, d_ln, g_fc, TensorView<T>(g_b.data(), {m}), d_fc.matrix(N), ln_2, w_fc);
  scatter_add_columns<T>(c, g.fc_weight.matrix(), g_fc, ws.columns);
  scatter_add_columns<T>(c, detail::as_row(g.fc_bias), g_b, ws.columns);
}

}  // namespace est
