#pragma once
// Activations a GPT-2 forward pass saves for its backward pass, and the scratch buffers the
// backward pass reuses from layer to layer. Sized for one (B, T); reallocated when it changes.
// Shapes: B batch, T sequence, C width, H heads, M MLP hidden, V vocabulary.

#include <vector>

#include "est/core/config.hpp"
#include "est/core/tensor.hpp"

namespace est {

template <class T>
struct Gpt2LayerActivations {
  Tensor<T> ln_1;       // (B, T, C)    LayerNorm 1 output
  Tensor<T> ln_1_mean;  // (B, T)
  Tensor<T> ln_1_rstd;  // (B, T)
  Tensor<T> qkv;        // (B, T, 3C)   fused Q, K, V projections
  Tensor<T> probs;      // (B, H, T, T) attention probabilities
  Tensor<T> attn;       // (B, T, C)    concatenated head outputs
  Tensor<T> residual_2; // (B, T, C)    block input + attention branch
  Tensor<T> ln_2;       // (B, T, C)
  Tensor<T> ln_2_mean;  // (B, T)
  Tensor<T> ln_2_rstd;  // (B, T)
  Tensor<T> fc;         // (B, T, M)    MLP pre-activation
  Tensor<T> fc_gelu;    // (B, T, M)    MLP activation
  Tensor<T> residual_3; // (B, T, C)    block output
};

template <class T>
struct Gpt2Activations {
 public:
  Index batch = 0, seq = 0;
  Tensor<T> encoded;                             // (B, T, C) embeddings, the first block's input
  std::vector<Gpt2LayerActivations<T>> layers;   // L
  Tensor<T> ln_f;                                // (B, T, C)
  Tensor<T> ln_f_mean;                           // (B, T)
  Tensor<T> ln_f_rstd;                           // (B, T)
  Tensor<T> logits;                              // (B, T, V); after a training forward: ∂loss/∂logits
  Tensor<T> losses;                              // (B, T) per-token cross-entropy
  // Scratch, shared by all layers.
  Tensor<T> branch;     // (B, T, C)  a projection's output before it joins the residual stream
  Tensor<T> d_residual; // (B, T, C)  ∂loss/∂residual stream, accumulated down the layers
  Tensor<T> d_ln;       // (B, T, C)
  Tensor<T> d_attn;     // (B, T, C)
  Tensor<T> d_qkv;      // (B, T, 3C)
  Tensor<T> d_fc;       // (B, T, M)
  Tensor<T> d_fc_gelu;  // (B, T, M)

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
    const Index C = c.width, M = c.mlp_hidden, H = c.heads, V = c.vocab;
    encoded = Tensor<T>({B, T_, C});
    layers.clear();
    layers.resize(static_cast<std::size_t>(c.layers));
    for (auto& a : layers) {
      a.ln_1 = Tensor<T>({B, T_, C});
      a.ln_1_mean = Tensor<T>({B, T_});
      a.ln_1_rstd = Tensor<T>({B, T_});
      a.qkv = Tensor<T>({B, T_, 3 * C});
      a.probs = Tensor<T>({B, H, T_, T_});
      a.attn = Tensor<T>({B, T_, C});
      a.residual_2 = Tensor<T>({B, T_, C});
      a.ln_2 = Tensor<T>({B, T_, C});
      a.ln_2_mean = Tensor<T>({B, T_});
      a.ln_2_rstd = Tensor<T>({B, T_});
      a.fc = Tensor<T>({B, T_, M});
      a.fc_gelu = Tensor<T>({B, T_, M});
      a.residual_3 = Tensor<T>({B, T_, C});
    }
    ln_f = Tensor<T>({B, T_, C});
    ln_f_mean = Tensor<T>({B, T_});
    ln_f_rstd = Tensor<T>({B, T_});
    logits = Tensor<T>({B, T_, V});
    losses = Tensor<T>({B, T_});
    branch = Tensor<T>({B, T_, C});
    d_residual = Tensor<T>({B, T_, C});
    d_ln = Tensor<T>({B, T_, C});
    d_attn = Tensor<T>({B, T_, C});
    d_qkv = Tensor<T>({B, T_, 3 * C});
    d_fc = Tensor<T>({B, T_, M});
    d_fc_gelu = Tensor<T>({B, T_, M});
    batch = B;  // last: the sizes describe the buffers only once they all exist
    seq = T_;
  }
};

}  // namespace est
