#pragma once
// Compile-time model configuration. `Gpt2Config` is a structural type, so a configuration is a
// template argument: `Gpt2<presets::gpt2_124m>`. Sizes derived from it are constexpr members;
// the model template checks its preconditions with static_asserts that say what is wrong.

namespace est {

/// The shape of a GPT-2 model (the defaults are GPT-2 small's); the names in parentheses are
/// transformers' config.json keys. Gpt2 checks it with static_asserts: every size >= 1, `width`
/// divisible by `heads`, `padded_vocab` 0 or >= `vocab`.
struct Gpt2Config {
  int layers = 12;       ///< L: transformer blocks (n_layer).
  int heads = 12;        ///< H: attention heads per block (n_head).
  int width = 768;       ///< C: residual stream width (n_embd).
  int mlp_hidden = 3072; ///< M: MLP hidden neurons per block (GPT-2: 4*C; n_inner).
  int vocab = 50257;     ///< V: token ids are in [0, V) (vocab_size).
  int context = 1024;    ///< Maximum sequence length T: the rows of wpe (n_positions).
  /// Rows of the token embedding when more than `vocab` (0: exactly `vocab`). The LM head
  /// computes logits for every row, an aligned GEMM, but rows past `vocab` are padding: zero,
  /// never a token or a target, left out of the softmax, never trained or sampled, and cut away
  /// in Hugging Face files (which hold `vocab` rows).
  int padded_vocab = 0;

  /// Rows of the token embedding (and columns of the logits): max(vocab, padded_vocab).
  [[nodiscard]] constexpr int embedding_rows() const {
    return padded_vocab > vocab ? padded_vocab : vocab;
  }

  /// d = C / H, the size of one attention head.
  [[nodiscard]] constexpr int head_dim() const { return heads > 0 ? width / heads : 0; }
  /// Number of scalars in the model (embeddings tied with the LM head, counted once).
  [[nodiscard]] constexpr long long parameter_count() const {
    const long long C = width, M = mlp_hidden;
    const long long per_layer = 2 * C                    // ln_1
                                + C * 3 * C + 3 * C      // attn.c_attn
                                + C * C + C              // attn.c_proj
                                + 2 * C                  // ln_2
                                + C * M + M              // mlp.c_fc
                                + M * C + C;             // mlp.c_proj
    return static_cast<long long>(embedding_rows()) * C + static_cast<long long>(context) * C +
           layers * per_layer + 2 * C;
  }

  friend constexpr bool operator==(const Gpt2Config&, const Gpt2Config&) = default;
};

namespace presets {
/// A model small enough for finite-difference gradient checks.
inline constexpr Gpt2Config gpt2_tiny{.layers = 2, .heads = 4, .width = 32, .mlp_hidden = 128,
                                      .vocab = 64, .context = 16};
/// Byte-level model used by the tiny training example (a few hundred steps on 2 cores).
inline constexpr Gpt2Config gpt2_bytes{.layers = 4, .heads = 4, .width = 128, .mlp_hidden = 512,
                                       .vocab = 256, .context = 64};
/// 6 layers, 6 heads, width 384, GPT-2 vocabulary padded to 50304 (a benchmark shape).
inline constexpr Gpt2Config gpt2_small6{.layers = 6, .heads = 6, .width = 384,
                                        .mlp_hidden = 1536, .vocab = 50304, .context = 1024};
/// The GPT-2 124M shape with a vocabulary of 50304, as nanoGPT trains it (a benchmark shape:
/// every one of the 50304 logits takes part in the softmax).
inline constexpr Gpt2Config gpt2_124m{.layers = 12, .heads = 12, .width = 768, .mlp_hidden = 3072,
                                      .vocab = 50304, .context = 1024};
/// GPT-2 small as released (the Hugging Face "gpt2" checkpoint): vocabulary 50257, padded
/// internally to 50304 rows as llm.c does, so its weights load, train and save back unchanged.
inline constexpr Gpt2Config gpt2_small{.layers = 12, .heads = 12, .width = 768,
                                       .mlp_hidden = 3072, .vocab = 50257, .context = 1024,
                                       .padded_vocab = 50304};
}  // namespace presets

}  // namespace est
