#pragma once
// Compile-time configuration of the Llama family (Llama 2, TinyLlama): pre-RMSNorm blocks,
// rotary positions, grouped-query attention and a SwiGLU MLP, no biases. Like Gpt2Config it is
// a structural type, so a configuration is a template argument: `Llama<presets::tinyllama_1b>`;
// the model checks it with static_asserts.

namespace est {

/// The shape of a Llama model (the defaults are TinyLlama-1.1B's); the names in parentheses are
/// transformers' config.json keys. Llama checks it with static_asserts: every size >= 1,
/// `kv_heads` dividing `heads`, `width` divisible by `heads` with an even head size,
/// `rope_theta` > 1, `norm_eps` >= 0.
struct LlamaConfig {
  int layers = 22;          ///< L: transformer blocks (num_hidden_layers).
  int heads = 32;           ///< H: query heads per block (num_attention_heads).
  /// H_kv (G): key/value heads, dividing H (H_kv = H is plain multi-head; num_key_value_heads).
  int kv_heads = 4;
  int width = 2048;         ///< C: residual stream width; head size d = C / H (even, for RoPE).
  int mlp_hidden = 5632;    ///< M: SwiGLU neurons per block (gate, up, down; intermediate_size).
  int vocab = 32000;        ///< V: token ids are in [0, V) (vocab_size).
  int context = 2048;       ///< Maximum sequence length T (max_position_embeddings).
  double rope_theta = 10000.0;  ///< RoPE base (rope_theta).
  double norm_eps = 1e-5;       ///< RMSNorm epsilon (rms_norm_eps).
  bool tie_embeddings = false;  ///< LM head = the token embedding, no lm_head.weight.

  /// d = C / H, the size of one attention head.
  [[nodiscard]] constexpr int head_dim() const { return heads > 0 ? width / heads : 0; }
  /// H / H_kv: query heads per key/value group.
  [[nodiscard]] constexpr int group_size() const { return kv_heads > 0 ? heads / kv_heads : 0; }
  /// Number of scalars in the model (the LM head counted when it is not tied).
  [[nodiscard]] constexpr long long parameter_count() const {
    const long long C = width, M = mlp_hidden, q = 1LL * heads * head_dim(),
                    kv = 1LL * kv_heads * head_dim();
    const long long per_layer = C              // input_layernorm
                                + q * C        // q_proj
                                + 2 * kv * C   // k_proj, v_proj
                                + C * q        // o_proj
                                + C            // post_attention_layernorm
                                + 3 * M * C;   // gate_proj, up_proj, down_proj
    const long long embeddings = static_cast<long long>(vocab) * C;
    return embeddings * (tie_embeddings ? 1 : 2) + layers * per_layer + C;
  }

  friend constexpr bool operator==(const LlamaConfig&, const LlamaConfig&) = default;
};

namespace presets {
/// A Llama small enough for finite-difference gradient checks: 4 query heads in 2 groups.
inline constexpr LlamaConfig llama_tiny{.layers = 2, .heads = 4, .kv_heads = 2, .width = 32,
                                        .mlp_hidden = 48, .vocab = 64, .context = 16};
/// A byte-level Llama of 9.6M parameters (6 query heads in 2 groups), trainable on 2 cores.
inline constexpr LlamaConfig llama_10m{.layers = 6, .heads = 6, .kv_heads = 2, .width = 384,
                                       .mlp_hidden = 1024, .vocab = 256, .context = 256};
/// The TinyLlama-1.1B shape: 22 layers, 32 query heads in 4 groups, width 2048, MLP 5632,
/// vocabulary 32000, context 2048.
inline constexpr LlamaConfig tinyllama_1b{.layers = 22, .heads = 32, .kv_heads = 4,
                                          .width = 2048, .mlp_hidden = 5632, .vocab = 32000,
                                          .context = 2048};
}  // namespace presets

}  // namespace est
