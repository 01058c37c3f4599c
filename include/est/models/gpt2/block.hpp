#pragma once
// The two halves of a GPT-2 block on the CPU, computing only a subnetwork's active units.
//
// Attention over h of H heads: the Q, K and V columns of the active heads (and their bias
// entries) are gathered into a packed (C, 3hd) weight, the QKV GEMM and the attention run on
// (N, 3hd) and (B, h, T, T), and the output projection uses the gathered (hd, C) rows of W_O,
// scaled by H/h or per head (bias unscaled). MLP over m of M neurons: the gathered (C, m)
// columns of W_fc, m bias entries and (m, C) rows of W_proj, output scaled by M/m or per
// neuron. Which columns and rows, and the scales, come from the step's slice plan. Backward
// writes the packed gradients and adds them back into exactly the active columns and rows;
// nothing else of the gradient is touched. With every head (neuron) active, the half runs the
// plain unsliced ops, so training the full subnetwork is bit for bit plain training.
//
// Shapes: B batch, T sequence, N = B·T, C width, H heads, d = C/H, M MLP hidden; h active heads,
// m active neurons. Activation buffers are sized for the full layer; a sliced pass uses their
// leading elements.

#include <span>
#include <vector>

#include "est/ops/attention.hpp"
#include "est/ops/gather.hpp"
#include "est/ops/gelu.hpp"
#include "est/ops/linear.hpp"
#include "est/ops/memory.hpp"
#include "est/models/gpt2/activations.hpp"
#include "est/models/gpt2/parameters.hpp"
#include "est/models/slicing.hpp"

namespace est {

/// Packed parameters and gradients of the active slices of one half-block, reused by every
/// layer (each half gathers what it needs when it runs, forward and again backward, instead of
/// keeping packed copies per layer). Buffers only grow.
template <class T, class Device = cpu>
class SliceWorkspace {
 public:
  // The two projections of a sliced half, each a gather, a linear op on the packed matrix and
  // (backward) a scatter-add of the packed gradients. Shapes: N rows, I inputs, O outputs,
  // k = the number of selected columns (first projection) or rows (second projection). The
  // selections come from the step's slice plan (models/slicing.hpp).

  /// First projection: out (N, k) = in (N, I) · weight[:, columns] + bias[columns].
  void forward_columns(const Context<Device>& c, MatrixView<T, Device> out,
                       ConstMatrix<T, Device> in, ConstMatrix<T, Device> weight,
                       ConstView<T, Device> bias, std::span<const Index> columns) {
    const Index k = std::ssize(columns);
    auto w = get(weight_in_, weight.rows(), k);
    auto b = get(bias_in_, 1, k);
    gather_columns<T>(c, w, weight, columns);
    gather_columns<T>(c, b, as_row(bias), columns);
    linear_forward<T>(c, out, in, w, TensorView<T, Device>(b.data(), {k}));
  }

  /// Its backward: d_in (N, I) written; d_weight[:, columns] and d_bias[columns] +=.
  void backward_columns(const Context<Device>& c, MatrixView<T, Device> d_in,
                        MatrixView<T, Device> d_weight, TensorView<T, Device> d_bias,
                        ConstMatrix<T, Device> d_out, ConstMatrix<T, Device> in,
                        ConstMatrix<T, Device> weight, std::span<const Index> columns) {
    const Index k = std::ssize(columns);
    auto w = get(weight_in_, weight.rows(), k);
    gather_columns<T>(c, w, weight, columns);
    auto g_w = zeroed(c, grad_weight_in_, weight.rows(), k);
    auto g_b = zeroed(c, grad_bias_in_, 1, k);
    linear_backward<T>(c, d_in, g_w, TensorView<T, Device>(g_b.data(), {k}), d_out, in, w);
    scatter_add_columns<T>(c, d_weight, g_w, columns);
    scatter_add_columns<T>(c, as_row(d_bias), g_b, columns);
  }

  /// Second projection: out (N, O) = in (N, k) · diag(s) · weight[rows, :] + bias (unscaled),
  /// with s = `scales` per selected row, or `scale` for every row when `scales` is empty.
  void forward_rows(const Context<Device>& c, MatrixView<T, Device> out, ConstMatrix<T, Device> in,
                    ConstMatrix<T, Device> weight, ConstView<T, Device> bias,
                    std::span<const Index> rows, std::span<const double> scales, T scale) {
    auto w = get(weight_out_, std::ssize(rows), weight.cols());
    gather_rows<T>(c, w, weight, rows);
    if (scales.empty()) {
      linear_forward<T>(c, out, in, w, bias, scale);
      return;
    }
    scale_rows<T>(c, w, scales);  // the packed rows of diag(s) · weight[rows, :]
    linear_forward<T>(c, out, in, w, bias);
  }

  /// Its backward: d_in (N, k) written; d_weight[rows, :] and d_bias +=.
  void backward_rows(const Context<Device>& c, MatrixView<T, Device> d_in,
                     MatrixView<T, Device> d_weight, TensorView<T, Device> d_bias,
                     ConstMatrix<T, Device> d_out, ConstMatrix<T, Device> in,
                     ConstMatrix<T, Device> weight, std::span<const Index> rows,
                     std::span<const double> scales, T scale) {
    const Index k = std::ssize(rows);
    auto w = get(weight_out_, k, weight.cols());
    gather_rows<T>(c, w, weight, rows);
    auto g_w = zeroed(c, grad_weight_out_, k, weight.cols());
    if (scales.empty()) {
      linear_backward<T>(c, d_in, g_w, d_bias, d_out, in, w, scale);
    } else {
      // With W' = diag(s) · W[rows]: d_in = d_out · W'ᵀ, and ∂/∂W[rows] = diag(s) · ∂/∂W'.
      scale_rows<T>(c, w, scales);
      linear_backward<T>(c, d_in, g_w, d_bias, d_out, in, w);
      scale_rows<T>(c, g_w, scales);
    }
    scatter_add_rows<T>(c, d_weight, g_w, rows);
  }

 private:
  template <class U>
  static MatrixView<U, Device> as_row(TensorView<U, Device> v) {
    return {v.data(), 1, v.numel()};
  }
  static MatrixView<T, Device> get(Tensor<T, Device>& buffer, Index rows, Index cols) {
    if (buffer.numel() < rows * cols) buffer = Tensor<T, Device>({rows * cols});
    return {buffer.data(), rows, cols};
  }
  static MatrixView<T, Device> zeroed(const Context<Device>& c, Tensor<T, Device>& buffer,
                                      Index rows, Index cols) {
    auto view = get(buffer, rows, cols);
    fill_zero(c, TensorView<T, Device>(buffer.data(), {rows * cols}));
    return view;
  }
  // Flat buffers, viewed as: weight_in (C, k) packed QKV or W_fc columns; bias_in (1, k) their
  // bias entries; weight_out (k, C) packed W_O or W_proj rows; grad_* the same shapes.
  Tensor<T, Device> weight_in_, bias_in_, weight_out_;
  Tensor<T, Device> grad_weight_in_, grad_bias_in_, grad_weight_out_;
};

/// Attention half, forward: branch (N, C) = attention output projection of ln_1 (N, C) over
/// h of H heads, as `slice` says. Saves qkv, probs and attn in `la`.
template <class T, class Device>
void gpt2_attention_forward(const Context<Device>& c, MatrixView<T, Device> branch,
                            ConstMatrix<T, Device> ln_1, Gpt2LayerActivations<T, Device>& la,
                            const Gpt2LayerTensors<T, Device>& w, const HalfSlice& slice,
                            Index h, Index H, Index B, Index T_, SliceWorkspace<T, Device>& ws) {
  const Index N = B * T_, C = ln_1.cols();
  if (slice.whole) {
    linear_forward<T>(c, la.qkv.view().matrix(N), ln_1, w.attn_weight.matrix(), w.attn_bias);
    attention_forward<T>(c, la.attn, la.probs, la.qkv, H);
    linear_forward<T>(c, branch, la.attn.view().matrix(N), w.attn_proj_weight.matrix(),
                      w.attn_proj_bias);
    return;
  }
  const Index d = C / H, hd = h * d;
  TensorView<T, Device> qkv(la.qkv.data(), {B, T_, 3 * hd});
  TensorView<T, Device> probs(la.probs.data(), {B, h, T_, T_});
  TensorView<T, Device> attn(la.attn.data(), {B, T_, hd});
  ws.forward_columns(c, qkv.matrix(N), ln_1, w.attn_weight.matrix(), w.attn_bias, slice.first);
  attention_forward<T>(c, attn, probs, qkv, h);
  ws.forward_rows(c, branch, attn.matrix(N), w.attn_proj_weight.matrix(), w.attn_proj_bias,
                  slice.second, slice.second_scales, T(slice.scale));
}

/// Attention half, backward: d_ln (N, C) (written) from d_branch (N, C); adds the gradients of
/// the active slices into `g`. `a` supplies the d_attn and d_qkv scratch buffers.
template <class T, class Device>
void gpt2_attention_backward(const Context<Device>& c, MatrixView<T, Device> d_ln,
                             ConstMatrix<T, Device> d_branch, ConstMatrix<T, Device> ln_1,
                             const Gpt2LayerActivations<T, Device>& la,
                             const Gpt2LayerTensors<T, Device>& w,
                             const Gpt2LayerTensors<T, Device>& g, const HalfSlice& slice,
                             Index h, Index H, Index B, Index T_, Gpt2Activations<T, Device>& a,
                             SliceWorkspace<T, Device>& ws) {
  const Index N = B * T_, C = ln_1.cols();
  if (slice.whole) {
    linear_backward<T>(c, a.d_attn.view().matrix(N), g.attn_proj_weight.matrix(), g.attn_proj_bias,
                       d_branch, la.attn.view().matrix(N), w.attn_proj_weight.matrix());
    attention_backward<T>(c, a.d_qkv, a.d_attn, la.qkv, la.probs, H);
    linear_backward<T>(c, d_ln, g.attn_weight.matrix(), g.attn_bias, a.d_qkv.view().matrix(N),
                       ln_1, w.attn_weight.matrix());
    return;
  }
  const Index d = C / H, hd = h * d;
  const TensorView<const T, Device> qkv(la.qkv.data(), {B, T_, 3 * hd});
  const TensorView<const T, Device> probs(la.probs.data(), {B, h, T_, T_});
  const TensorView<const T, Device> attn(la.attn.data(), {B, T_, hd});
  TensorView<T, Device> d_attn(a.d_attn.data(), {B, T_, hd});
  TensorView<T, Device> d_qkv(a.d_qkv.data(), {B, T_, 3 * hd});

  ws.backward_rows(c, d_attn.matrix(N), g.attn_proj_weight.matrix(), g.attn_proj_bias, d_branch,
                   attn.matrix(N), w.attn_proj_weight.matrix(), slice.second,
                   slice.second_scales, T(slice.scale));
  attention_backward<T>(c, d_qkv, d_attn, qkv, probs, h);
  ws.backward_columns(c, d_ln, g.attn_weight.matrix(), g.attn_bias, d_qkv.matrix(N), ln_1,
                      w.attn_weight.matrix(), slice.first);
}

/// MLP half, forward: branch (N, C) from ln_2 (N, C) over the neurons `slice` selects. Saves
/// fc and fc_gelu.
template <class T, class Device>
void gpt2_mlp_forward(const Context<Device>& c, MatrixView<T, Device> branch,
                      ConstMatrix<T, Device> ln_2, Gpt2LayerActivations<T, Device>& la,
                      const Gpt2LayerTensors<T, Device>& w, const HalfSlice& slice, Index B,
                      Index T_, SliceWorkspace<T, Device>& ws) {
  const Index N = B * T_, m = std::ssize(slice.first);
  if (slice.whole) {
    linear_forward<T>(c, la.fc.view().matrix(N), ln_2, w.fc_weight.matrix(), w.fc_bias);
    gelu_forward<T>(c, la.fc_gelu, la.fc);
    linear_forward<T>(c, branch, la.fc_gelu.view().matrix(N), w.fc_proj_weight.matrix(),
                      w.fc_proj_bias);
    return;
  }
  TensorView<T, Device> fc(la.fc.data(), {B, T_, m});
  TensorView<T, Device> fc_gelu(la.fc_gelu.data(), {B, T_, m});
  ws.forward_columns(c, fc.matrix(N), ln_2, w.fc_weight.matrix(), w.fc_bias, slice.first);
  gelu_forward<T>(c, fc_gelu, fc);
  ws.forward_rows(c, branch, fc_gelu.matrix(N), w.fc_proj_weight.matrix(), w.fc_proj_bias,
                  slice.second, slice.second_scales, T(slice.scale));
}

/// MLP half, backward: d_ln (N, C) (written) from d_branch (N, C); adds the gradients of the
/// active slices into `g`. `a` supplies the d_fc and d_fc_gelu scratch buffers.
template <class T, class Device>
void gpt2_mlp_backward(const Context<Device>& c, MatrixView<T, Device> d_ln,
                       ConstMatrix<T, Device> d_branch, ConstMatrix<T, Device> ln_2,
                       const Gpt2LayerActivations<T, Device>& la,
                       const Gpt2LayerTensors<T, Device>& w, const Gpt2LayerTensors<T, Device>& g,
                       const HalfSlice& slice, Index B, Index T_,
                       Gpt2Activations<T, Device>& a, SliceWorkspace<T, Device>& ws) {
  const Index N = B * T_, m = std::ssize(slice.first);
  if (slice.whole) {
    linear_backward<T>(c, a.d_fc_gelu.view().matrix(N), g.fc_proj_weight.matrix(), g.fc_proj_bias,
                       d_branch, la.fc_gelu.view().matrix(N), w.fc_proj_weight.matrix());
    gelu_backward<T>(c, a.d_fc, la.fc, a.d_fc_gelu);
    linear_backward<T>(c, d_ln, g.fc_weight.matrix(), g.fc_bias, a.d_fc.view().matrix(N), ln_2,
                       w.fc_weight.matrix());
    return;
  }
  const TensorView<const T, Device> fc(la.fc.data(), {B, T_, m});
  const TensorView<const T, Device> fc_gelu(la.fc_gelu.data(), {B, T_, m});
  TensorView<T, Device> d_fc(a.d_fc.data(), {B, T_, m});
  TensorView<T, Device> d_fc_gelu(a.d_fc_gelu.data(), {B, T_, m});

  ws.backward_rows(c, d_fc_gelu.matrix(N), g.fc_proj_weight.matrix(), g.fc_proj_bias, d_branch,
                   fc_gelu.matrix(N), w.fc_proj_weight.matrix(), slice.second,
                   slice.second_scales, T(slice.scale));
  gelu_backward<T>(c, d_fc, fc, d_fc_gelu);
  ws.backward_columns(c, d_ln, g.fc_weight.matrix(), g.fc_bias, d_fc.matrix(N), ln_2,
                      w.fc_weight.matrix(), slice.first);
}

/// The attention half of layer `l` in `plan`: QKV columns and W_O rows.
[[nodiscard]] inline HalfSlice gpt2_attention_slice(const SlicePlan& plan, int l) {
  return half_slice(plan, gpt2_tensor_index(l, Gpt2LayerTensor::attn_weight),
                    gpt2_tensor_index(l, Gpt2LayerTensor::attn_proj_weight));
}

/// The MLP half of layer `l` in `plan`: W_fc columns and W_proj rows.
[[nodiscard]] inline HalfSlice gpt2_mlp_slice(const SlicePlan& plan, int l) {
  return half_slice(plan, gpt2_tensor_index(l, Gpt2LayerTensor::fc_weight),
                    gpt2_tensor_index(l, Gpt2LayerTensor::fc_proj_weight));
}

}  // namespace est
