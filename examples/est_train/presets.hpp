#pragma once
// The model presets est-train offers: a closed list of compile-time configurations of the two
// families (GPT-2 and Llama). A name outside the list is an error that prints the list.

#include <string>
#include <string_view>
#include <vector>

#include <est/models/gpt2/config.hpp>
#include <est/core/error.hpp>
#include <est/models/llama/config.hpp>

namespace est_train {

template <class Config>
struct Preset {
  std::string_view name;
  Config config;
  std::string_view about;
};

// Byte-level presets (vocabulary 256) need no tokenizer files; gpt2-124m has GPT-2's
// vocabulary (padded to 50304) for the GPT-2 tokenizer or GPT-2 token shards.
inline constexpr Preset<est::Gpt2Config> gpt2_presets[] = {
    {"tiny", {.layers = 2, .heads = 2, .width = 64, .mlp_hidden = 256, .vocab = 256, .context = 64},
     "GPT-2, 0.1M parameters, bytes; for tests and smoke runs"},
    {"mini", {.layers = 4, .heads = 4, .width = 256, .mlp_hidden = 1024, .vocab = 256, .context = 128},
     "GPT-2, 3.3M parameters, bytes; the default: a baseline-vs-EST comparison in a few minutes"},
    {"10m", {.layers = 6, .heads = 6, .width = 384, .mlp_hidden = 1536, .vocab = 256, .context = 256},
     "GPT-2, 10.8M parameters, bytes; learns real text in tens of minutes on 2 cores"},
    {"gpt2-124m", est::presets::gpt2_124m,
     "GPT-2 124M shape, vocabulary 50304 (GPT-2 tokenizer or token shards)"},
};

// Llama presets: grouped-query attention, RoPE, SwiGLU. tinyllama-1b is TinyLlama-1.1B's shape
// (vocabulary 32000: byte tokens or a token file of ids below 32000); on a CPU it needs about
// 18 GB for weights, gradients and Adam moments, and a short --seq.
inline constexpr Preset<est::LlamaConfig> llama_presets[] = {
    {"llama-tiny", {.layers = 2, .heads = 4, .kv_heads = 2, .width = 64, .mlp_hidden = 176,
                    .vocab = 256, .context = 64},
     "Llama, 0.1M parameters, 4 query heads in 2 groups, bytes; smoke runs"},
    {"llama-10m", est::presets::llama_10m,
     "Llama, 9.6M parameters, 6 query heads in 2 groups, bytes; a CPU run"},
    {"tinyllama-1b", est::presets::tinyllama_1b,
     "Llama, TinyLlama-1.1B shape: 22 layers, 32 heads in 4 groups, width 2048, vocab 32000"},
};

inline std::string preset_list() {
  std::string out;
  auto add = [&](std::string_view name, std::string_view about) {
    out += "  " + std::string(name) + std::string(name.size() < 14 ? 14 - name.size() : 1, ' ') +
           std::string(about) + "\n";
  };
  for (const auto& p : gpt2_presets) add(p.name, p.about);
  for (const auto& p : llama_presets) add(p.name, p.about);
  return out;
}

inline std::vector<std::string> preset_names() {
  std::vector<std::string> names;
  for (const auto& p : gpt2_presets) names.emplace_back(p.name);
  for (const auto& p : llama_presets) names.emplace_back(p.name);
  return names;
}

/// Calls `f.template operator()<config>()` for the preset named `name` (config is an
/// est::Gpt2Config or an est::LlamaConfig).
template <class F>
decltype(auto) with_preset(std::string_view name, F&& f) {
  if (name == gpt2_presets[0].name) return f.template operator()<gpt2_presets[0].config>();
  if (name == gpt2_presets[1].name) return f.template operator()<gpt2_presets[1].config>();
  if (name == gpt2_presets[2].name) return f.template operator()<gpt2_presets[2].config>();
  if (name == gpt2_presets[3].name) return f.template operator()<gpt2_presets[3].config>();
  if (name == llama_presets[0].name) return f.template operator()<llama_presets[0].config>();
  if (name == llama_presets[1].name) return f.template operator()<llama_presets[1].config>();
  if (name == llama_presets[2].name) return f.template operator()<llama_presets[2].config>();
  est::fail<est::value_error>("unknown preset '", name, "'; the presets are:\n", preset_list());
}

}  // namespace est_train
