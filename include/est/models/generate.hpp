#pragma once
// Text generation from a trained model: autoregressive sampling with temperature and top-k,
// seeded. The token at index t of the sequence (prompt included, counting from 0) is drawn with
// the uniform of Philox block (rng_stream(sampling, t), 0) under the seed, so the same seed,
// prompt and model always give the same text.
// Each new token runs the full model over the last `context` tokens (no key/value cache).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <span>
#include <type_traits>
#include <vector>

#include "est/core/error.hpp"
#include "est/core/philox.hpp"
#include "est/core/tensor.hpp"

namespace est {

/// How sample_token() and generate() draw tokens; a value out of its range makes them throw
/// value_error.
struct GenerationOptions {
  /// Divides the logits before the softmax; finite and >= 0. 0: always the most likely token
  /// (ties: the lowest id).
  double temperature = 1.0;
  int top_k = 0;             ///< Sample among the k most likely tokens (>= 0); 0: among all.
  std::uint64_t seed = 0;    ///< Philox seed; the same seed, prompt and model give the same text.
  int vocab = 0;             ///< Sample only ids below this (a tokenizer's size); 0: every id.
};

/// The next token from `logits` (V) at sequence position `position`, which selects the Philox
/// stream rng_stream(sampling, position) under `options.seed`. Throws value_error for empty
/// logits or an option out of range.
template <class T>
[[nodiscard]] std::int32_t sample_token(std::span<const T> logits, const GenerationOptions& options,
                                        std::uint64_t position) {
  require<value_error>(!logits.empty(), "sample_token: no logits");
  require<value_error>(std::isfinite(options.temperature) && options.temperature >= 0,
                       "sample_token: temperature must be finite and >= 0, got ",
                       options.temperature);
  require<value_error>(options.top_k >= 0, "sample_token: top_k must be >= 0, got ", options.top_k);
  require<value_error>(options.vocab >= 0, "sample_token: vocab must be >= 0, got ", options.vocab);
  // Ids past the tokenizer's vocabulary (a padded embedding's rows) are never drawn.
  const auto V = static_cast<std::int32_t>(
      options.vocab > 0 ? std::min<std::size_t>(logits.size(), std::size_t(options.vocab))
                        : logits.size());
  logits = logits.first(static_cast<std::size_t>(V));
  if (options.temperature == 0) {
    return static_cast<std::int32_t>(std::max_element(logits.begin(), logits.end()) -
                                     logits.begin());
  }
  // Candidates in decreasing logit order (ties: lower id first); keep the top k.
  std::vector<std::int32_t> ids(static_cast<std::size_t>(V));
  std::iota(ids.begin(), ids.end(), 0);
  const std::int32_t k = options.top_k == 0 ? V : std::min(options.top_k, V);
  auto by_logit = [&](std::int32_t a, std::int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  };
  std::partial_sort(ids.begin(), ids.begin() + k, ids.end(), by_logit);
  ids.resize(static_cast<std::size_t>(k));
  std::vector<double> weights(ids.size());
  const double top = double(logits[ids[0]]);
  double total = 0;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    weights[i] = std::exp((double(logits[ids[i]]) - top) / options.temperature);
    total += weights[i];
  }
  const Philox4x32 gen(options.seed);
  const auto w = gen(rng_stream(RngPurpose::sampling, position), 0);
  double u = uniform_double(w[1], w[0]) * total;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    u -= weights[i];
    if (u < 0) return ids[i];
  }
  return ids.back();
}

/// `prompt` followed by `max_new_tokens` sampled tokens. `Model` is an est model with
/// forward(tokens) and logits() (e.g. Gpt2) on the CPU: the logits are read on the host. The
/// token appended at index i of the result is drawn at position i, below the model's vocab. The
/// model sees the last `context` tokens. Throws value_error for an empty prompt, a negative
/// `max_new_tokens`, bad `options` or a prompt id outside the model's vocabulary.
template <class Model>
[[nodiscard]] std::vector<std::int32_t> generate(Model& model, std::span<const std::int32_t> prompt,
                                                 int max_new_tokens,
                                                 const GenerationOptions& options = {}) {
  static_assert(std::is_same_v<typename Model::device_type, cpu>,
                "generate: reads the logits on the host, so the model must be on the CPU (copy "
                "a GPU model's parameter arena into a CPU model to generate)");
  require<value_error>(!prompt.empty(), "generate: the prompt is empty (give at least one token)");
  require<value_error>(max_new_tokens >= 0, "generate: max_new_tokens must be >= 0, got ",
                       max_new_tokens);
  constexpr Index context = Model::config.context;
  std::vector<std::int32_t> out(prompt.begin(), prompt.end());
  for (int i = 0; i < max_new_tokens; ++i) {
    const Index n = std::min<Index>(context, std::ssize(out));
    Tensor<std::int32_t> window({1, n});
    std::copy(out.end() - n, out.end(), window.data());
    model.forward(ConstView<std::int32_t>(window.view()));
    const auto logits = model.logits();  // (1, n, V)
    const Index V = logits.dim(2);
    const std::span<const typename Model::scalar_type> last(logits.data() + (n - 1) * V,
                                                            static_cast<std::size_t>(V));
    // Never an id past the model's vocabulary (the padding columns of a padded embedding).
    GenerationOptions bounded = options;
    bounded.vocab = options.vocab > 0 ? std::min(options.vocab, int(Model::config.vocab))
                                      : int(Model::config.vocab);
    out.push_back(sample_token(last, bounded, static_cast<std::uint64_t>(out.size())));
  }
  return out;
}

}  // namespace est
