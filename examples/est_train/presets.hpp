#pragma once
// The model presets est-train offers: a closed list of compile-time configurations of the two
// families (GPT-2 and Llama). A name outside the list is an error that prints the list.

#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <est/core/error.hpp>
#include <est/models/gpt2/family.hpp>
#include <est/models/hf_checkpoint.hpp>
#include <est/models/llama/family.hpp>

namespace est_train {

template <class Config>
struct Preset {
  std::string_view name;
  Config config;
  std::string_view about;
};

// Byte-level presets (vocabulary 256) need no tokenizer files; gpt2-124m is GPT-2 small as
// released (vocabulary 50257, padded inside est to 50304 rows) for the GPT-2 tokenizer, GPT-2
// token shards and `--init-from` a Hugging Face "gpt2" download.
inline constexpr Preset<est::Gpt2Config> gpt2_presets[] = {
    {"tiny", {.layers = 2, .heads = 2, .width = 64, .mlp_hidden = 256, .vocab = 256, .context = 64},
     "GPT-2, 0.1M parameters, bytes; for tests and smoke runs"},
    {"mini", {.layers = 4, .heads = 4, .width = 256, .mlp_hidden = 1024, .vocab = 256, .context = 128},
     "GPT-2, 3.3M parameters, bytes; the default: a baseline-vs-EST comparison in a few minutes"},
    {"deep", {.layers = 8, .heads = 8, .width = 128, .mlp_hidden = 512, .vocab = 256, .context = 128},
     "GPT-2, 1.6M parameters, bytes; deeper and narrower than mini (8 layers of 8 heads) for "
     "testing layer and head sampling"},
    {"10m", {.layers = 6, .heads = 6, .width = 384, .mlp_hidden = 1536, .vocab = 256, .context = 256},
     "GPT-2, 10.8M parameters, bytes; learns real text in tens of minutes on 2 cores"},
    {"gpt2-124m", est::presets::gpt2_small,
     "GPT-2 124M as released, vocabulary 50257 (GPT-2 tokenizer, token shards, --init-from gpt2)"},
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

/// The name of the preset whose configuration `config` (a Gpt2Config or LlamaConfig) is, in
/// transformers' terms (GPT-2's internal vocabulary padding aside), or an empty string.
template <class Config>
std::string preset_named_by(const Config& config) {
  using Family = est::family_t<Config>;
  const auto wanted = Family::hf_config(config);
  auto match = [&](const auto& presets) -> std::string {
    for (const auto& p : presets) {
      if constexpr (std::is_same_v<std::remove_cvref_t<decltype(p.config)>, Config>) {
        if (Family::hf_config(p.config) == wanted) return std::string(p.name);
      }
    }
    return "";
  };
  const std::string gpt2 = match(gpt2_presets);
  return gpt2.empty() ? match(llama_presets) : gpt2;
}

namespace detail {
/// `f.template operator()<Presets[i].config>()` for the preset i named `name`, or nothing.
template <const auto& Presets, class F, std::size_t... I>
auto call_preset(std::string_view name, F& f, std::index_sequence<I...>) {
  using Result = decltype(f.template operator()<Presets[0].config>());
  std::optional<Result> out;
  ((name == Presets[I].name && (out.emplace(f.template operator()<Presets[I].config>()), true)) ||
   ...);
  return out;
}
}  // namespace detail

/// Calls `f.template operator()<config>()` for the preset named `name` (config is an
/// est::Gpt2Config or an est::LlamaConfig) and returns its result; throws value_error listing
/// the presets for an unknown name. Every preset of the tables above is reachable.
template <class F>
auto with_preset(std::string_view name, F&& f) {
  if (auto r = detail::call_preset<gpt2_presets>(
          name, f, std::make_index_sequence<std::size(gpt2_presets)>())) {
    return std::move(*r);
  }
  if (auto r = detail::call_preset<llama_presets>(
          name, f, std::make_index_sequence<std::size(llama_presets)>())) {
    return std::move(*r);
  }
  est::fail<est::value_error>("unknown preset '", name, "'; the presets are:\n", preset_list());
}

/// The preset for `--init-from path` without --preset: the one whose configuration the
/// checkpoint's config.json describes. Throws value_error when there is no config.json, it is
/// of another family, or no preset matches (naming the checkpoint's configuration).
inline std::string preset_for_checkpoint(const std::string& path) {
  const auto json = est::read_hf_config(path);
  const std::string file = est::hf_config_path(path).string();
  est::require<est::value_error>(json.has_value(), "--init-from '", path, "': there is no "
                                 "config.json to choose the preset from (looked for '", file,
                                 "'); name the preset with --preset");
  const std::string where = "config.json \"" + file + "\"";
  const auto type = json->is_object() && json->contains("model_type") &&
                            json->at("model_type").is_string()
                        ? json->at("model_type").get<std::string>()
                        : std::string("(none)");
  std::string preset, described;
  if (type == "gpt2") {
    const auto config = est::gpt2_config_from_hf(*json, where);
    preset = preset_named_by(config);
    described = est::Gpt2Family::config_json(config).dump();
  } else if (type == "llama") {
    const auto config = est::llama_config_from_hf(*json, where);
    preset = preset_named_by(config);
    described = est::LlamaFamily::config_json(config).dump();
  } else {
    est::fail<est::value_error>("--init-from '", path, "': config.json's model_type is ", type,
                                "; est trains \"gpt2\" and \"llama\" models");
  }
  est::require<est::value_error>(!preset.empty(), "--init-from '", path, "': no preset has the "
                                 "checkpoint's configuration ", described, "; the presets are:\n",
                                 preset_list(), "(the library loads a checkpoint of any "
                                 "configuration: est::load_hf_checkpoint)");
  return preset;
}

}  // namespace est_train
