#pragma once
// The model presets est-train offers: a closed list of compile-time configurations. A name
// outside the list is an error that prints the list.

#include <string>
#include <string_view>

#include <est/core/config.hpp>
#include <est/core/error.hpp>

namespace est_train {

struct Preset {
  std::string_view name;
  est::Gpt2Config config;
  std::string_view about;
};

// Byte-level presets (vocabulary 256) need no tokenizer files; gpt2-124m has GPT-2's
// vocabulary (padded to 50304) for the GPT-2 tokenizer or GPT-2 token shards.
inline constexpr Preset presets[] = {
    {"tiny", {.layers = 2, .heads = 2, .width = 64, .mlp_hidden = 256, .vocab = 256, .context = 64},
     "0.1M parameters, bytes; for tests and smoke runs"},
    {"mini", {.layers = 4, .heads = 4, .width = 256, .mlp_hidden = 1024, .vocab = 256, .context = 128},
     "3.3M parameters, bytes; the default: a baseline-vs-EST comparison in a few minutes"},
    {"10m", {.layers = 6, .heads = 6, .width = 384, .mlp_hidden = 1536, .vocab = 256, .context = 256},
     "10.8M parameters, bytes; learns real text in tens of minutes on 2 cores"},
    {"gpt2-124m", est::presets::gpt2_124m,
     "the GPT-2 124M shape, vocabulary 50304 (GPT-2 tokenizer or token shards)"},
};

inline std::string preset_list() {
  std::string out;
  for (const auto& p : presets) {
    out += "  " + std::string(p.name) + std::string(12 - p.name.size(), ' ') + std::string(p.about) + "\n";
  }
  return out;
}

/// Calls `f.template operator()<config>()` for the preset named `name`.
template <class F>
decltype(auto) with_preset(std::string_view name, F&& f) {
  if (name == presets[0].name) return f.template operator()<presets[0].config>();
  if (name == presets[1].name) return f.template operator()<presets[1].config>();
  if (name == presets[2].name) return f.template operator()<presets[2].config>();
  if (name == presets[3].name) return f.template operator()<presets[3].config>();
  est::fail<est::value_error>("unknown preset '", name, "'; the presets are:\n", preset_list());
}

}  // namespace est_train
