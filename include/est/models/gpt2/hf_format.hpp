#pragma once
// GPT-2 parameter arenas as safetensors files that Hugging Face's GPT2Model reads and writes:
// every tensor under its `ParameterSpec` name ("wte.weight", "h.0.attn.c_attn.weight", ...),
// with Hugging Face's shapes (Conv1D weights stored (in, out)), and metadata {"format": "pt"},
// which `transformers` requires. The LM head is tied to wte and is not written.
//
// The loader also accepts GPT2LMHeadModel files, whose names carry a "transformer." prefix, and
// ignores the tensors such files hold besides the parameters (an "lm_head.weight" equal to wte —
// one that differs is refused, est's GPT-2 being tied —, the attention
// mask buffers ".attn.bias" / ".attn.masked_bias", anything else unknown), except tensors of
// layers the model does not have, which mean the file is of another configuration.

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "est/core/error.hpp"
#include "est/models/gpt2/parameters.hpp"
#include "est/io/parameter_file.hpp"
#include "est/io/safetensors.hpp"

namespace est {

namespace detail {

/// The layer of a name "h.<N>.<rest>", or nothing.
inline std::optional<long> gpt2_layer_of(std::string_view name) {
  return layer_of(name, "h.");
}

inline bool is_gpt2_buffer(std::string_view name) {
  return name.ends_with(".attn.bias") || name.ends_with(".attn.masked_bias");
}

inline long gpt2_layer_count(const TensorShapeMap& shapes) {
  long layers = 0;
  for (const auto& [name, shape] : shapes) {
    const auto layer = gpt2_layer_of(name);
    if (layer && !is_gpt2_buffer(name)) layers = std::max(layers, *layer + 1);
  }
  return layers;
}

/// "layers 2, width 32, mlp_hidden 128, vocab 64, context 16", from whichever tensors exist.
inline std::string gpt2_configuration_text(const TensorShapeMap& shapes) {
  std::string s = "layers " + std::to_string(gpt2_layer_count(shapes));
  auto dim = [&](std::string_view name, std::size_t i) -> std::optional<std::int64_t> {
    const auto it = shapes.find(name);
    if (it == shapes.end() || it->second.size() != 2) return std::nullopt;
    return it->second[i];
  };
  auto add = [&](const char* what, std::optional<std::int64_t> v) {
    if (v) s += std::string(", ") + what + " " + std::to_string(*v);
  };
  add("width", dim("wte.weight", 1));
  add("mlp_hidden", dim("h.0.mlp.c_fc.weight", 1));
  add("vocab", dim("wte.weight", 0));
  add("context", dim("wpe.weight", 0));
  return s;
}

template <class Scalar>
void load_gpt2(const std::filesystem::path& path, const std::vector<ParameterSpec>& specs,
               std::span<Scalar> arena) {
  check_arena("load_gpt2_safetensors", specs, arena.size());
  const SafetensorsShards file = SafetensorsShards::open(path);
  const std::string where = "load_gpt2_safetensors: \"" + path.string() + "\": ";

  // Names without the GPT2LMHeadModel prefix -> names in the file.
  std::map<std::string, std::string, std::less<>> file_name;
  TensorShapeMap file_shapes, model_shapes;
  for (const std::string& name : file.names()) {
    const std::string bare = name.starts_with("transformer.") ? name.substr(12) : name;
    require<io_error>(file_name.emplace(bare, name).second, where, "the file holds both \"",
                      bare, "\" and \"transformer.", bare, "\"; which one to load is ambiguous");
    file_shapes[bare] = file.info(name).shape;
  }
  for (const ParameterSpec& spec : specs) model_shapes[spec.name] = shape_vector(spec.shape);
  const auto other_configuration = [&] {
    return "; the file holds a checkpoint from a different model configuration (file: " +
           gpt2_configuration_text(file_shapes) + "; model: " +
           gpt2_configuration_text(model_shapes) + ")";
  };

  // Every check before the first write into the arena.
  std::vector<std::string_view> missing;
  for (const ParameterSpec& spec : specs) {
    if (!file_name.contains(spec.name)) missing.push_back(spec.name);
  }
  if (!missing.empty()) {
    const std::string more =
        missing.size() > 1 ? " (and " + std::to_string(missing.size() - 1) + " more)" : "";
    fail<io_error>(where, "tensor \"", missing.front(), "\" is missing", more,
                   file_shapes.contains("wte.weight")
                       ? other_configuration()
                       : "; the file does not look like a GPT-2 checkpoint (it has no "
                         "\"wte.weight\")");
  }
  for (const ParameterSpec& spec : specs) {
    const auto& found = file_shapes.find(spec.name)->second;
    const auto& expected = model_shapes.find(spec.name)->second;
    if (found != expected) {
      fail<io_error>(where, "tensor \"", spec.name, "\" has shape ", shape_text(found),
                     ", expected ", shape_text(expected), other_configuration());
    }
    const SafetensorsDtype dtype = file.info(file_name.find(spec.name)->second).dtype;
    require<io_error>(dtype == SafetensorsDtype::f32 || dtype == SafetensorsDtype::f64 ||
                          dtype == SafetensorsDtype::f16 || dtype == SafetensorsDtype::bf16,
                      where, "tensor \"", spec.name, "\" holds ", safetensors_dtype_name(dtype),
                      " values; parameters must be F32, F64, F16 or BF16");
  }
  const long layers = gpt2_layer_count(model_shapes);
  for (const auto& [bare, name] : file_name) {
    const auto layer = gpt2_layer_of(bare);
    require<io_error>(!layer || *layer < layers || is_gpt2_buffer(bare), where, "tensor \"", name,
                      "\" belongs to layer ", layer.value_or(0), " but the model has ", layers,
                      " layers", other_configuration());
  }

  // est's GPT-2 ties the LM head to wte: a file whose lm_head.weight differs is another model.
  if (const auto head = file_name.find("lm_head.weight"); head != file_name.end()) {
    const auto wte = file_name.find("wte.weight")->second;
    require<io_error>(file.info(head->second).shape == file.info(wte).shape, where,
                      "\"lm_head.weight\" has shape ", shape_text(file.info(head->second).shape),
                      ", not wte's; est's GPT-2 ties the LM head to the token embedding");
    std::vector<double> a(std::size_t(file.info(wte).numel)), b(a.size());
    file.convert_to(wte, std::span<double>(a));
    file.convert_to(head->second, std::span<double>(b));
    require<io_error>(a == b, where, "\"lm_head.weight\" differs from \"wte.weight\": the file "
                      "holds a GPT-2 with an untied LM head, which est's GPT-2 (tied) cannot "
                      "represent");
  }
  for (const ParameterSpec& spec : specs) {
    file.convert_to(file_name.find(spec.name)->second,
                    arena.subspan(std::size_t(spec.offset), std::size_t(spec.shape.numel())));
  }
}

}  // namespace detail

/// Writes every tensor of `specs` (from `arena`) as F32 under its Hugging Face GPT-2 name, with
/// metadata {"format": "pt"} plus `metadata` (whose entries win). Throws shape_error when a spec
/// does not fit the arena, before anything is written.
inline void save_gpt2_safetensors(const std::filesystem::path& path,
                                  const std::vector<ParameterSpec>& specs,
                                  std::span<const float> arena,
                                  const std::map<std::string, std::string>& metadata = {}) {
  detail::save_parameter_arena<float>("save_gpt2_safetensors", path, specs, arena, metadata);
}

/// As above, for a double arena, written as F64.
inline void save_gpt2_safetensors(const std::filesystem::path& path,
                                  const std::vector<ParameterSpec>& specs,
                                  std::span<const double> arena,
                                  const std::map<std::string, std::string>& metadata = {}) {
  detail::save_parameter_arena<double>("save_gpt2_safetensors", path, specs, arena, metadata);
}

/// Reads every tensor of `specs` from a GPT-2 safetensors file — or from the shards of a
/// `model.safetensors.index.json`, or from a directory holding either — into `arena`
/// (io/safetensors/shards.hpp). Names may carry the
/// "transformer." prefix; values may be F32, F64, F16 or BF16 (converted). Throws io_error naming
/// the file and the tensor when one is missing, has another shape (expected and found shapes,
/// and both configurations, are named) or dtype, or when the file has layers the model lacks;
/// shape_error when a spec does not fit the arena. The arena is written only after every check
/// has passed, so a failed load leaves it unchanged.
inline void load_gpt2_safetensors(const std::filesystem::path& path,
                                  const std::vector<ParameterSpec>& specs, std::span<float> arena) {
  detail::load_gpt2<float>(path, specs, arena);
}

/// As above, into a double arena.
inline void load_gpt2_safetensors(const std::filesystem::path& path,
                                  const std::vector<ParameterSpec>& specs,
                                  std::span<double> arena) {
  detail::load_gpt2<double>(path, specs, arena);
}

}  // namespace est
