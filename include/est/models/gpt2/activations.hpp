#pragma once
// Activations a GPT-2 forward pass saves for its backward pass, and the scratch buffers the
// backward pass reuses from layer to layer. Sized for one (B, T); reallocated when it changes.
// Shapes: B batch, T sequence, C width, H heads, M MLP hidden, V vocabulary.

#include <vector>

#include "est/models/gpt2/config.hpp"
#include "est/core/tensor.hpp"

namespace est {

/// What one block's forward pass saves for its backward pass. The buffers have the full
/// layer's shapes; a pass over h of H heads and m of M neurons (block.hpp) uses the leading
/// elements, as qkv (B, T, 3hd), probs (B, h, T, T), attn (B, T, hd), fc and fc_gelu (B, T, m).
/// A skipped layer's buffers keep whatever an earlier pass left.
template <class T, class Device = cpu>
struct Gpt2LayerActivations {
  Tensor<T, Device> ln_1;       ///< (B, T, C)    LayerNorm 1 output
  Tensor<T, Device> ln_1_mean;  ///< (B, T)       LayerNorm 1 mean per token
  Tensor<T, Device> ln_1_rstd;  ///< (B, T)       LayerNorm 1 reciprocal standard deviation
  Tensor<T, Device> qkv;        ///< (B, T, 3C)   fused Q, K, V projections
  Tensor<T, Device> probs;      ///< (B, H, T, T) attention probabilities
  Tensor<T, Device> attn;       ///< (B, T, C)    concatenated head outputs
  Tensor<T, Device> residual_2; ///< (B, T, C)    block input + attention branch
  Tensor<T, Device> ln_2;       ///< (B, T, C)    LayerNorm 2 output, the MLP's input
  Tensor<T, Device> ln_2_mean;  ///< (B, T)       LayerNorm 2 mean per token
  Tensor<T, Device> ln_2_rstd;  ///< (B, T)       LayerNorm 2 reciprocal standard deviation
  Tensor<T, Device> fc;         ///< (B, T, M)    MLP pre-activation
  Tensor<T, Device> fc_gelu;    ///< (B, T, M)    MLP activation
  Tensor<T, Device> residual_3; ///< (B, T, C)    block output
};

/// Every activation of a GPT-2 pass over one (B, T) batch, and the backward pass's scratch.
/// Gpt2 owns one; CausalLm reads `logits` and `losses` from it.
template <class T, class Device = cpu>
struct Gpt2Activations {
 public:
  /// B, the batch size the buffers are sized for (0 until the first allocate()).
  Index batch = 0, seq = 0;  ///< T, the sequence length the buffers are sized for.
  Tensor<T, Device> encoded;  ///< (B, T, C) embeddings, the first block's input
  std::vector<Gpt2LayerActivations<T, Device>> layers;  ///< L, one per block
  Tensor<T, Device> ln_f;                                ///< (B, T, C) final LayerNorm output
  Tensor<T, Device> ln_f_mean;                           ///< (B, T) mean per token
  Tensor<T, Device> ln_f_rstd;                           ///< (B, T) reciprocal standard deviation
  Tensor<T, Device> logits;  ///< (B, T, V padded); after a training forward: ∂loss/∂logits
  Tensor<T, Device> losses;                              ///< (B, T) per-token cross-entropy
  // Scratch, shared by all layers.
  Tensor<T, Device> branch;  ///< (B, T, C)  a projection's output before the residual add
  Tensor<T, Device> d_residual;  ///< (B, T, C)  ∂loss/∂residual stream, accumulated down the layers
  Tensor<T, Device> d_ln;       ///< (B, T, C)  scratch: ∂loss/∂(a LayerNorm's output)
  Tensor<T, Device> d_attn;     ///< (B, T, C)  scratch: ∂loss/∂attn
  Tensor<T, Device> d_qkv;      ///< (B, T, 3C) scratch: ∂loss/∂qkv
  Tensor<T, Device> d_fc;       ///< (B, T, M)  scratch: ∂loss/∂fc
  Tensor<T, Device> d_fc_gelu;  ///< (B, T, M)  scratch: ∂loss/∂fc_gelu

  /// Sizes every buffer for (B, T). Strong guarantee: when an allocation throws, the previous
  /// buffers are kept as they were.
  void allocate(const Gpt2Config& c, Index B, Index T_) {
    if (B == batch && T_ == seq) return;
    Gpt2Activations fresh;
    fresh.build(c, B, T_);
    *this = std::move(fresh);
  }

 private:
  void build(const Gpt2Config& c, Index B, Index T_) {
    const Index C = c.width, M = c.mlp_hidden, H = c.heads, V = c.embedding_rows();
    encoded = Tensor<T, Device>({B, T_, C});
    layers.clear();
    layers.resize(static_cast<std::size_t>(c.layers));
    for (auto& a : layers) {
      a.ln_1 = Tensor<T, Device>({B, T_, C});
      a.ln_1_mean = Tensor<T, Device>({B, T_});
      a.ln_1_rstd = Tensor<T, Device>({B, T_});
      a.qkv = Tensor<T, Device>({B, T_, 3 * C});
      a.probs = Tensor<T, Device>({B, H, T_, T_});
      a.attn = Tensor<T, Device>({B, T_, C});
      a.residual_2 = Tensor<T, Device>({B, T_, C});
      a.ln_2 = Tensor<T, Device>({B, T_, C});
      a.ln_2_mean = Tensor<T, Device>({B, T_});
      a.ln_2_rstd = Tensor<T, Device>({B, T_});
      a.fc = Tensor<T, Device>({B, T_, M});
      a.fc_gelu = Tensor<T, Device>({B, T_, M});
      a.residual_3 = Tensor<T, Device>({B, T_, C});
    }
    ln_f = Tensor<T, Device>({B, T_, C});
    ln_f_mean = Tensor<T, Device>({B, T_});
    ln_f_rstd = Tensor<T, Device>({B, T_});
    logits = Tensor<T, Device>({B, T_, V});
    losses = Tensor<T, Device>({B, T_});
    branch = Tensor<T, Device>({B, T_, C});
    d_residual = Tensor<T, Device>({B, T_, C});
    d_ln = Tensor<T, Device>({B, T_, C});
    d_attn = Tensor<T, Device>({B, T_, C});
    d_qkv = Tensor<T, Device>({B, T_, 3 * C});
    d_fc = Tensor<T, Device>({B, T_, M});
    d_fc_gelu = Tensor<T, Device>({B, T_, M});
    batch = B;  // last: the sizes describe the buffers only once they all exist
    seq = T_;
  }
};

}  // namespace est
