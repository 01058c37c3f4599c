#pragma once
// The two halves of a Llama block, computing only a subnetwork's active units.
//
// Attention over h of H query heads: the q rows of the active heads and the k and v rows of the
// key/value groups they read (g of G groups; a group with no active head is skipped entirely)
// are gathered into one packed ((h + 2g)·d, C) weight; one GEMM gives the packed projection
// [Q | K | V] (N, (h + 2g)·d); Q and K rotate in place (RoPE); each query head's group is
// copied next to it (expand_kv) and multi-head attention runs over h heads; the output
// projection uses the gathered (C, h·d) columns of o_proj, scaled by H/h or per head. MLP over
// m of M neurons: the gate and up rows of the active neurons (one (2m, C) GEMM), SwiGLU, and the
// (C, m) columns of down_proj, scaled by M/m or per neuron. Backward adds the packed gradients
// back into exactly those rows and columns. With every head (neuron) active nothing is gathered
// and the GEMMs read the arena directly, so training the full subnetwork is bit for bit plain
// training.
//
// Shapes: B batch, T sequence, N = B·T, C width, H query heads, G key/value groups, d head size,
// M MLP; h, g, m the active counts. Activation buffers are sized for the full layer; a sliced
// pass uses their leading elements.

#include <span>
#include <vector>

#include "est/ops/attention.hpp"
#include "est/ops/gather.hpp"
#include "est/ops/gemm.hpp"
#include "est/ops/kv_groups.hpp"
#include "est/ops/memory.hpp"
#include "est/ops/rope.hpp"
#include "est/ops/swiglu.hpp"
#include "est/models/llama/config.hpp"
#include "est/models/llama/activations.hpp"
#include "est/models/llama/parameters.hpp"
#include "est/models/slicing.hpp"

namespace est {

/// Packed slices of (out, in)-layout weights for one half-block, reused by every layer. Each
/// projection either reads the whole weight (`all`) or gathers the selected rows (first
/// projection: selected outputs) or columns (second projection: selected inputs). Buffers only
/// grow.
template <class T, class Device = cpu>
class LlamaSliceWorkspace {
 public:
  /// Selected rows of the first projection's weight: of the fused ((H + 2G)·d, C) [q | k | v]
  /// matrix (active heads' q rows, then their groups' k and v rows), or of the fused (2M, C)
  /// [gate | up] matrix (active neurons' gate rows, then their up rows).
  std::vector<Index> rows;
  std::span<const Index> columns;    ///< Selected columns of the second projection's weight.
  /// Their output scales (one per column), or empty: the uniform `scale` applies. Like `columns`,
  /// a view into the step's slice plan.
  std::span<const double> column_scales;
  std::vector<Index> groups;         ///< Key/value groups of the active heads, ascending.
  std::vector<Index> group_of_head;  ///< Per active head: its group's index in `groups`.

  /// out (N, k) = in (N, I) · weight[rows, :]ᵀ, weight (O, I).
  void forward_rows(const Context<Device>& c, MatrixView<T, Device> out, ConstMatrix<T, Device> in,
                    ConstMatrix<T, Device> weight, bool all) {
    gemm<T>(c, out, in, Transpose::no, all ? weight : gathered_rows(c, weight), Transpose::yes);
  }

  /// Its backward: d_in (N, I) written; d_weight[rows, :] += d_outᵀ · in.
  void backward_rows(const Context<Device>& c, MatrixView<T, Device> d_in,
                     MatrixView<T, Device> d_weight, ConstMatrix<T, Device> d_out,
                     ConstMatrix<T, Device> in, ConstMatrix<T, Device> weight, bool all) {
    if (all) {
      gemm<T>(c, d_in, d_out, Transpose::no, weight, Transpose::no);
      gemm<T>(c, d_weight, d_out, Transpose::yes, in, Transpose::no, T(1), T(1));
      return;
    }
    gemm<T>(c, d_in, d_out, Transpose::no, gathered_rows(c, weight), Transpose::no);
    auto packed = view(grad_rows_, std::ssize(rows), weight.cols());
    gemm<T>(c, packed, d_out, Transpose::yes, in, Transpose::no);
    scatter_add_rows<T>(c, d_weight, packed, rows);
  }

  /// out (N, O) = in (N, k) · (weight[:, columns] · diag(s))ᵀ, weight (O, I), with s =
  /// column_scales, or `scale` for every column when there are none.
  void forward_columns(const Context<Device>& c, MatrixView<T, Device> out,
                       ConstMatrix<T, Device> in, ConstMatrix<T, Device> weight, T scale,
                       bool all) {
    if (all) {
      gemm<T>(c, out, in, Transpose::no, weight, Transpose::yes, scale);
    } else if (column_scales.empty()) {
      gemm<T>(c, out, in, Transpose::no, gathered_columns(c, weight), Transpose::yes, scale);
    } else {
      gemm<T>(c, out, in, Transpose::no, scaled_columns(c, weight), Transpose::yes);
    }
  }

  /// Its backward: d_in (N, k) = d_out · weight[:, columns] · diag(s) (written);
  /// d_weight[:, columns] += (d_outᵀ · in) · diag(s).
  void backward_columns(const Context<Device>& c, MatrixView<T, Device> d_in,
                        MatrixView<T, Device> d_weight, ConstMatrix<T, Device> d_out,
                        ConstMatrix<T, Device> in, ConstMatrix<T, Device> weight, T scale,
                        bool all) {
    if (all) {
      gemm<T>(c, d_in, d_out, Transpose::no, weight, Transpose::no, scale);
      gemm<T>(c, d_weight, d_out, Transpose::yes, in, Transpose::no, scale, T(1));
      return;
    }
    auto packed = view(grad_columns_, weight.rows(), std::ssize(columns));
    if (column_scales.empty()) {
      gemm<T>(c, d_in, d_out, Transpose::no, gathered_columns(c, weight), Transpose::no, scale);
      gemm<T>(c, packed, d_out, Transpose::yes, in, Transpose::no, scale);
    } else {
      gemm<T>(c, d_in, d_out, Transpose::no, scaled_columns(c, weight), Transpose::no);
      gemm<T>(c, packed, d_out, Transpose::yes, in, Transpose::no);
      scale_columns<T>(c, packed, column_scales);
    }
    scatter_add_columns<T>(c, d_weight, packed, columns);
  }

 private:
  MatrixView<T, Device> gathered_rows(const Context<Device>& c, ConstMatrix<T, Device> weight) {
    auto packed = view(weight_rows_, std::ssize(rows), weight.cols());
    gather_rows<T>(c, packed, weight, rows);
    return packed;
  }
  MatrixView<T, Device> gathered_columns(const Context<Device>& c, ConstMatrix<T, Device> weight) {
    auto packed = view(weight_columns_, weight.rows(), std::ssize(columns));
    gather_columns<T>(c, packed, weight, columns);
    return packed;
  }
  MatrixView<T, Device> scaled_columns(const Context<Device>& c, ConstMatrix<T, Device> weight) {
    auto packed = gathered_columns(c, weight);
    scale_columns<T>(c, packed, column_scales);
    return packed;
  }
  static MatrixView<T, Device> view(Tensor<T, Device>& buffer, Index r, Index k) {
    if (buffer.numel() < r * k) buffer = Tensor<T, Device>({r * k});
    return {buffer.data(), r, k};
  }
  // Flat buffers: weight_rows (k, I) packed rows, weight_columns (O, k) packed columns, and
  // their gradients.
  Tensor<T, Device> weight_rows_, weight_columns_, grad_rows_, grad_columns_;
};

/// What the attention half of a layer needs besides its weights and activations.
template <class T, class Device>
struct LlamaAttentionShape {
  Index H,                           ///< Query heads.
      G,                             ///< Key/value groups (H_kv), dividing H.
      d;                             ///< Head size C / H.
  /// The batch size B.
  Index B, seq;                      ///< The sequence length T.
  /// (P, d/2) RoPE cosine table, P the context.
  ConstView<T, Device> cos, sin;     ///< (P, d/2) RoPE sine table.
};

/// What a Llama attention half reads of the step's slice plan.
struct LlamaAttentionSlice {
  HalfSlice heads;                    ///< `first`: q rows; `second`: o columns (and their scales)
  /// k (and v) rows, in [0, G·d), of the groups the heads read; empty: all of them.
  std::span<const Index> group_rows;
};

namespace detail {
/// Fills the workspace for `heads` from `slice`: rows of [q | k | v] in the fused
/// ((H + 2G)·d, C) weight, columns of o_proj and their scales, and the key/value groups.
template <class T, class Device>
void llama_attention_indices(std::span<const int> heads, const LlamaAttentionSlice& slice,
                             const LlamaAttentionShape<T, Device>& s,
                             LlamaSliceWorkspace<T, Device>& ws) {
  llama_kv_groups(heads, int(s.H / s.G), ws.groups, ws.group_of_head);
  ws.columns = slice.heads.second;
  ws.column_scales = slice.heads.second_scales;
  ws.rows.assign(slice.heads.first.begin(), slice.heads.first.end());
  for (Index part = 0; part < 2; ++part) {  // K, then V
    const Index offset = (s.H + part * s.G) * s.d;
    if (slice.group_rows.empty()) {
      for (Index r = 0; r < s.G * s.d; ++r) ws.rows.push_back(offset + r);
    } else {
      for (const Index r : slice.group_rows) ws.rows.push_back(offset + r);
    }
  }
}

/// Rows of the fused (2M, C) [gate | up] weight and columns of down_proj, from `slice`.
template <class T, class Device>
void llama_mlp_indices(const HalfSlice& slice, Index M, LlamaSliceWorkspace<T, Device>& ws) {
  ws.columns = slice.second;
  ws.column_scales = slice.second_scales;
  ws.rows.assign(slice.first.begin(), slice.first.end());
  for (const Index n : slice.first) ws.rows.push_back(M + n);
}
}  // namespace detail

/// Attention half, forward: branch (N, C) from norm_1 (N, C) over `heads`. Saves qkv, probs and
/// attn in `la`; `projection` (B, T, ≥ (h + 2g)·d) is scratch.
template <class T, class Device>
void llama_attention_forward(const Context<Device>& c, MatrixView<T, Device> branch,
                             ConstMatrix<T, Device> norm_1, LlamaLayerActivations<T, Device>& la,
                             const LlamaLayerTensors<T, Device>& w, std::span<const int> heads,
                             const LlamaAttentionSlice& slice,
                             const LlamaAttentionShape<T, Device>& s, Tensor<T, Device>& projection,
                             LlamaSliceWorkspace<T, Device>& ws) {
  const Index N = s.B * s.seq, h = std::ssize(heads), d = s.d;
  const bool all = slice.heads.whole;
  detail::llama_attention_indices(heads, slice, s, ws);
  const Index g = std::ssize(ws.groups);
  TensorView<T, Device> proj(projection.data(), {s.B, s.seq, (h + 2 * g) * d});
  TensorView<T, Device> qkv(la.qkv.data(), {s.B, s.seq, 3 * h * d});
  TensorView<T, Device> probs(la.probs.data(), {s.B, h, s.seq, s.seq});
  TensorView<T, Device> attn(la.attn.data(), {s.B, s.seq, h * d});
  ws.forward_rows(c, proj.matrix(N), norm_1, w.qkv(), all);
  rope_forward<T>(c, proj, 0, h, d, s.cos, s.sin);
  rope_forward<T>(c, proj, h * d, g, d, s.cos, s.sin);
  expand_kv<T>(c, qkv.matrix(N), proj.matrix(N), ws.group_of_head, d);
  attention_forward<T>(c, attn, probs, qkv, h);
  ws.forward_columns(c, branch, attn.matrix(N), w.o.matrix(), T(slice.heads.scale), all);
}

/// Attention half, backward: d_norm (N, C) (written) from d_branch (N, C); adds the gradients of
/// the active slices into `gw`. `a` supplies the scratch buffers.
template <class T, class Device>
void llama_attention_backward(const Context<Device>& c, MatrixView<T, Device> d_norm,
                              ConstMatrix<T, Device> d_branch, ConstMatrix<T, Device> norm_1,
                              const LlamaLayerActivations<T, Device>& la,
                              const LlamaLayerTensors<T, Device>& w,
                              const LlamaLayerTensors<T, Device>& gw, std::span<const int> heads,
                              const LlamaAttentionSlice& slice,
                              const LlamaAttentionShape<T, Device>& s,
                              LlamaActivations<T, Device>& a, LlamaSliceWorkspace<T, Device>& ws) {
  const Index N = s.B * s.seq, h = std::ssize(heads), d = s.d;
  const bool all = slice.heads.whole;
  detail::llama_attention_indices(heads, slice, s, ws);
  const Index g = std::ssize(ws.groups);
  const TensorView<const T, Device> qkv(la.qkv.data(), {s.B, s.seq, 3 * h * d});
  const TensorView<const T, Device> probs(la.probs.data(), {s.B, h, s.seq, s.seq});
  const TensorView<const T, Device> attn(la.attn.data(), {s.B, s.seq, h * d});
  TensorView<T, Device> d_attn(a.d_attn.data(), {s.B, s.seq, h * d});
  TensorView<T, Device> d_qkv(a.d_qkv.data(), {s.B, s.seq, 3 * h * d});
  TensorView<T, Device> d_proj(a.projection.data(), {s.B, s.seq, (h + 2 * g) * d});
  ws.backward_columns(c, d_attn.matrix(N), gw.o.matrix(), d_branch, attn.matrix(N), w.o.matrix(),
                      T(slice.heads.scale), all);
  attention_backward<T>(c, d_qkv, d_attn, qkv, probs, h);
  reduce_kv<T>(c, d_proj.matrix(N), d_qkv.matrix(N), ws.group_of_head, d);
  rope_backward<T>(c, d_proj, 0, h, d, s.cos, s.sin);
  rope_backward<T>(c, d_proj, h * d, g, d, s.cos, s.sin);
  ws.backward_rows(c, d_norm, gw.qkv(), d_proj.matrix(N), norm_1, w.qkv(), all);
}

/// MLP half, forward: branch (N, C) from norm_2 (N, C) over the neurons `slice` selects of M.
/// Saves gate_up and act in `la`.
template <class T, class Device>
void llama_mlp_forward(const Context<Device>& c, MatrixView<T, Device> branch,
                       ConstMatrix<T, Device> norm_2, LlamaLayerActivations<T, Device>& la,
                       const LlamaLayerTensors<T, Device>& w, const HalfSlice& slice, Index M,
                       Index B, Index T_, LlamaSliceWorkspace<T, Device>& ws) {
  const bool all = slice.whole;
  const Index N = B * T_, m = all ? M : std::ssize(slice.first);
  if (!all) detail::llama_mlp_indices(slice, M, ws);
  TensorView<T, Device> gate_up(la.gate_up.data(), {B, T_, 2 * m});
  TensorView<T, Device> act(la.act.data(), {B, T_, m});
  ws.forward_rows(c, gate_up.matrix(N), norm_2, w.gate_up(), all);
  swiglu_forward<T>(c, act.matrix(N), gate_up.matrix(N));
  ws.forward_columns(c, branch, act.matrix(N), w.down.matrix(), T(slice.scale), all);
}

/// MLP half, backward: d_norm (N, C) (written) from d_branch (N, C); adds the gradients of the
/// active slices into `gw`.
template <class T, class Device>
void llama_mlp_backward(const Context<Device>& c, MatrixView<T, Device> d_norm,
                        ConstMatrix<T, Device> d_branch, ConstMatrix<T, Device> norm_2,
                        const LlamaLayerActivations<T, Device>& la,
                        const LlamaLayerTensors<T, Device>& w,
                        const LlamaLayerTensors<T, Device>& gw, const HalfSlice& slice,
                        Index M, Index B, Index T_, LlamaActivations<T, Device>& a,
                        LlamaSliceWorkspace<T, Device>& ws) {
  const bool all = slice.whole;
  const Index N = B * T_, m = all ? M : std::ssize(slice.first);
  if (!all) detail::llama_mlp_indices(slice, M, ws);
  const TensorView<const T, Device> gate_up(la.gate_up.data(), {B, T_, 2 * m});
  const TensorView<const T, Device> act(la.act.data(), {B, T_, m});
  TensorView<T, Device> d_act(a.d_act.data(), {B, T_, m});
  TensorView<T, Device> d_gate_up(a.d_gate_up.data(), {B, T_, 2 * m});
  ws.backward_columns(c, d_act.matrix(N), gw.down.matrix(), d_branch, act.matrix(N),
                      w.down.matrix(), T(slice.scale), all);
  swiglu_backward<T>(c, d_gate_up.matrix(N), d_act.matrix(N), gate_up.matrix(N));
  ws.backward_rows(c, d_norm, gw.gate_up(), d_gate_up.matrix(N), norm_2, w.gate_up(), all);
}

/// The attention half of layer `l` in `plan`: q rows, k and v rows of the groups, o columns.
[[nodiscard]] inline LlamaAttentionSlice llama_attention_slice(const SlicePlan& plan, int l) {
  return {half_slice(plan, llama_tensor_index(l, LlamaLayerTensor::q),
                     llama_tensor_index(l, LlamaLayerTensor::o)),
          plan.indices(plan.tensors()[llama_tensor_index(l, LlamaLayerTensor::k)])};
}

/// The MLP half of layer `l` in `plan`: gate and up rows, down columns.
[[nodiscard]] inline HalfSlice llama_mlp_slice(const SlicePlan& plan, int l) {
  return half_slice(plan, llama_tensor_index(l, LlamaLayerTensor::gate),
                    llama_tensor_index(l, LlamaLayerTensor::down));
}

}  // namespace est
