#pragma once
// Activations a Llama forward pass saves for its backward pass, and the scratch buffers shared
// by all layers. Sized for one (B, T); reallocated when it changes.
// Shapes: B batch, T sequence, C width, H query heads, G key/value heads, d head size, M MLP,
// V vocabulary.

#include <vector>

#include "est/models/llama/config.hpp"
#include "est/core/tensor.hpp"

namespace est {

/// What one block's forward pass saves for its backward pass. The buffers have the full
/// layer's shapes; a pass over h of H query heads and m of M neurons (block.hpp) uses the leading
/// elements, as qkv (B, T, 3·h·d), probs (B, h, T, T), attn (B, T, h·d), gate_up (B, T, 2m) and
/// act (B, T, m). A skipped layer's buffers keep whatever an earlier pass left.
template <class T, class Device = cpu>
struct LlamaLayerActivations {
  Tensor<T, Device> norm_1;      ///< (B, T, C)     RMSNorm 1 output
  Tensor<T, Device> rstd_1;      ///< (B, T)        RMSNorm 1 reciprocal RMS per token
  Tensor<T, Device> qkv;         ///< (B, T, 3·H·d) rotated Q, K and V, keys/values per query head
  Tensor<T, Device> probs;       ///< (B, H, T, T)  attention probabilities
  Tensor<T, Device> attn;        ///< (B, T, H·d)   concatenated head outputs
  Tensor<T, Device> residual_2;  ///< (B, T, C)     block input + attention branch
  Tensor<T, Device> norm_2;      ///< (B, T, C)     RMSNorm 2 output, the MLP's input
  Tensor<T, Device> rstd_2;      ///< (B, T)        RMSNorm 2 reciprocal RMS per token
  Tensor<T, Device> gate_up;     ///< (B, T, 2M)    [gate | up] projections
  Tensor<T, Device> act;         ///< (B, T, M)     silu(gate) ⊙ up
  Tensor<T, Device> residual_3;  ///< (B, T, C)     block output
};

/// Every activation of a Llama pass over one (B, T) batch, and the backward pass's scratch.
/// Llama owns one; CausalLm reads `logits` and `losses` from it.
template <class T, class Device = cpu>
struct LlamaActivations {
  /// B, the batch size the buffers are sized for (0 until the first allocate()).
  Index batch = 0, seq = 0;  ///< T, the sequence length the buffers are sized for.
  Tensor<T, Device> encoded;  ///< (B, T, C) token embeddings, the first block's input
  std::vector<LlamaLayerActivations<T, Device>> layers;  ///< L, one per block
  Tensor<T, Device> norm_f;  ///< (B, T, C) final RMSNorm output
  Tensor<T, Device> rstd_f;  ///< (B, T) its reciprocal RMS per token
  Tensor<T, Device> logits;  ///< (B, T, V); after a training forward: ∂loss/∂logits
  Tensor<T, Device> losses;  ///< (B, T) per-token cross-entropy
  // Scratch, shared by all layers.
  Tensor<T, Device> branch;      ///< (B, T, C) a block half's output before the residual add
  /// (B, T, (H + 2G)·d) the packed projection [Q | K | V] of the active heads and groups, Q and
  /// K rotated, before expand_kv; backward: its gradient
  Tensor<T, Device> projection;
  Tensor<T, Device> d_residual;  ///< (B, T, C) ∂loss/∂residual stream, accumulated down the layers
  Tensor<T, Device> d_norm;      ///< (B, T, C) ∂loss/∂(an RMSNorm's output)
  Tensor<T, Device> d_attn;      ///< (B, T, H·d) ∂loss/∂attn
  Tensor<T, Device> d_qkv;       ///< (B, T, 3·H·d) ∂loss/∂qkv
  Tensor<T, Device> d_gate_up;   ///< (B, T, 2M) ∂loss/∂gate_up
  Tensor<T, Device> d_act;       ///< (B, T, M) ∂loss/∂act

  /// Sizes every buffer for (B, T). Strong guarantee: when an allocation throws, the previous
  /// buffers are kept as they were.
  void allocate(const LlamaConfig& c, Index B, Index T_) {
    if (B == batch && T_ == seq) return;
    LlamaActivations fresh;
    fresh.build(c, B, T_);
    *this = std::move(fresh);
  }

 private:
  void build(const LlamaConfig& c, Index B, Index T_) {
    const Index C = c.width, M = c.mlp_hidden, H = c.heads, V = c.vocab,
                q = H * c.head_dim(), packed = (H + 2 * Index(c.kv_heads)) * c.head_dim();
    encoded = Tensor<T, Device>({B, T_, C});
    layers.clear();
    layers.resize(static_cast<std::size_t>(c.layers));
    for (auto& a : layers) {
      a.norm_1 = Tensor<T, Device>({B, T_, C});
      a.rstd_1 = Tensor<T, Device>({B, T_});
      a.qkv = Tensor<T, Device>({B, T_, 3 * q});
      a.probs = Tensor<T, Device>({B, H, T_, T_});
      a.attn = Tensor<T, Device>({B, T_, q});
      a.residual_2 = Tensor<T, Device>({B, T_, C});
      a.norm_2 = Tensor<T, Device>({B, T_, C});
      a.rstd_2 = Tensor<T, Device>({B, T_});
      a.gate_up = Tensor<T, Device>({B, T_, 2 * M});
      a.act = Tensor<T, Device>({B, T_, M});
      a.residual_3 = Tensor<T, Device>({B, T_, C});
    }
    norm_f = Tensor<T, Device>({B, T_, C});
    rstd_f = Tensor<T, Device>({B, T_});
    logits = Tensor<T, Device>({B, T_, V});
    losses = Tensor<T, Device>({B, T_});
    branch = Tensor<T, Device>({B, T_, C});
    projection = Tensor<T, Device>({B, T_, packed});
    d_residual = Tensor<T, Device>({B, T_, C});
    d_norm = Tensor<T, Device>({B, T_, C});
    d_attn = Tensor<T, Device>({B, T_, q});
    d_qkv = Tensor<T, Device>({B, T_, 3 * q});
    d_gate_up = Tensor<T, Device>({B, T_, 2 * M});
    d_act = Tensor<T, Device>({B, T_, M});
    batch = B;  // last: the sizes describe the buffers only once they all exist
    seq = T_;
  }
};

}  // namespace est
