#pragma once
// Llama parameter arenas as safetensors files that Hugging Face's LlamaForCausalLM reads: every
// tensor under its `ParameterSpec` name ("model.embed_tokens.weight",
// "model.layers.0.self_attn.q_proj.weight", ..., "lm_head.weight" unless tied) with nn.Linear's
// (out, in) shapes and metadata {"format": "pt"}; with `llama_hf_config` written as config.json
// beside it (models/llama/hf_config.hpp), `LlamaForCausalLM.from_pretrained(dir)` loads the
// directory.
//
// Loading checks every tensor first and names the first one (in arena order) that is missing or
// has another shape, with both configurations; a file of another architecture (GPT-2, say) is
// refused as such. Tensors besides the parameters (such as the rotary inverse frequencies older
// transformers versions saved, or an lm_head.weight that a tied model does not use) are ignored,
// except tensors of layers the model does not have.

#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "est/core/error.hpp"
#include "est/models/llama/config.hpp"
#include "est/models/llama/hf_config.hpp"
#include "est/io/parameter_file.hpp"
#include "est/io/safetensors.hpp"
#include "est/models/llama/parameters.hpp"

namespace est {

namespace detail {

/// The layer of a name "model.layers.<N>.<rest>", or nothing.
inline std::optional<long> llama_layer_of(std::string_view name) {
  return layer_of(name, "model.layers.");
}

/// "layers 2, width 32, heads·d 32, kv_heads·d 16, mlp_hidden 48, vocab 64", from the tensors
/// that exist.
inline std::string llama_configuration_text(const TensorShapeMap& shapes) {
  long layers = 0;
  for (const auto& [name, shape] : shapes) {
    if (const auto layer = llama_layer_of(name)) layers = std::max(layers, *layer + 1);
  }
  std::string s = "layers " + std::to_string(layers);
  auto dim = [&](std::string_view name, std::size_t i) -> std::optional<std::int64_t> {
    const auto it = shapes.find(name);
    if (it == shapes.end() || it->second.size() != 2) return std::nullopt;
    return it->second[i];
  };
  auto add = [&](const char* what, std::optional<std::int64_t> v) {
    if (v) s += std::string(", ") + what + " " + std::to_string(*v);
  };
  add("width", dim("model.embed_tokens.weight", 1));
  add("query width", dim("model.layers.0.self_attn.q_proj.weight", 0));
  add("key/value width", dim("model.layers.0.self_attn.k_proj.weight", 0));
  add("mlp_hidden", dim("model.layers.0.mlp.gate_proj.weight", 0));
  add("vocab", dim("model.embed_tokens.weight", 0));
  return s;
}

template <class Scalar>
void load_llama(const std::filesystem::path& path, const std::vector<ParameterSpec>& specs,
                std::span<Scalar> arena) {
  check_arena("load_llama_safetensors", specs, arena.size());
  const SafetensorsShards file = SafetensorsShards::open(path);
  const std::string where = "load_llama_safetensors: \"" + path.string() + "\": ";
  TensorShapeMap file_shapes, model_shapes;
  for (const std::string& name : file.names()) file_shapes[name] = file.info(name).shape;
  for (const ParameterSpec& spec : specs) model_shapes[spec.name] = shape_vector(spec.shape);
  const auto configurations = [&] {
    return " (file: " + llama_configuration_text(file_shapes) +
           "; model: " + llama_configuration_text(model_shapes) + ")";
  };
  if (!file_shapes.contains("model.embed_tokens.weight")) {
    const bool gpt2 = file_shapes.contains("wte.weight") ||
                      file_shapes.contains("transformer.wte.weight");
    fail<io_error>(where, "the file is not a Llama checkpoint: it has no "
                   "\"model.embed_tokens.weight\"",
                   gpt2 ? " (it holds a GPT-2 model: load it into est::Gpt2)" : "");
  }
  // Every check before the first write into the arena, in arena order.
  for (const ParameterSpec& spec : specs) {
    const auto found = file_shapes.find(spec.name);
    if (found == file_shapes.end()) {
      const bool tied_file = spec.name == "lm_head.weight";
      fail<io_error>(where, "tensor \"", spec.name, "\" is missing",
                     tied_file ? "; the file's LM head is tied to the embedding (build the model "
                                 "with tie_embeddings = true)"
                               : "; the file holds a checkpoint of another configuration",
                     configurations());
    }
    const auto& expected = model_shapes.find(spec.name)->second;
    if (found->second != expected) {
      fail<io_error>(where, "tensor \"", spec.name, "\" has shape ", shape_text(found->second),
                     ", expected ", shape_text(expected),
                     "; the file holds a checkpoint of another configuration", configurations());
    }
    const SafetensorsDtype dtype = file.info(spec.name).dtype;
    require<io_error>(dtype == SafetensorsDtype::f32 || dtype == SafetensorsDtype::f64 ||
                          dtype == SafetensorsDtype::f16 || dtype == SafetensorsDtype::bf16,
                      where, "tensor \"", spec.name, "\" holds ", safetensors_dtype_name(dtype),
                      " values; parameters must be F32, F64, F16 or BF16");
  }
  long layers = 0;
  for (const auto& [name, shape] : model_shapes) {
    if (const auto layer = llama_layer_of(name)) layers = std::max(layers, *layer + 1);
  }
  for (const auto& [name, shape] : file_shapes) {
    const auto layer = llama_layer_of(name);
    require<io_error>(!layer || *layer < layers, where, "tensor \"", name, "\" belongs to layer ",
                      layer.value_or(0), " but the model has ", layers, " layers",
                      "; the file holds a checkpoint of another configuration", configurations());
  }
  for (const ParameterSpec& spec : specs) {
    file.convert_to(spec.name,
                    arena.subspan(std::size_t(spec.offset), std::size_t(spec.shape.numel())));
  }
}

}  // namespace detail

/// Writes every tensor of `specs` (from `arena`) under its Hugging Face Llama name, as F32, with
/// metadata {"format": "pt"} plus `metadata` (whose entries win). Throws shape_error when a spec
/// does not fit the arena, before anything is written.
inline void save_llama_safetensors(const std::filesystem::path& path,
                                   const std::vector<ParameterSpec>& specs,
                                   std::span<const float> arena,
                                   const std::map<std::string, std::string>& metadata = {}) {
  detail::save_parameter_arena<float>("save_llama_safetensors", path, specs, arena, metadata);
}
/// As above, for a double arena, written as F64.
inline void save_llama_safetensors(const std::filesystem::path& path,
                                   const std::vector<ParameterSpec>& specs,
                                   std::span<const double> arena,
                                   const std::map<std::string, std::string>& metadata = {}) {
  detail::save_parameter_arena<double>("save_llama_safetensors", path, specs, arena, metadata);
}

/// Reads every tensor of `specs` from a Llama safetensors file — or from the shards of a
/// `model.safetensors.index.json`, or from a directory holding either — into `arena` (F32, F64,
/// F16 or BF16 values, converted). Throws io_error naming the file and the first tensor (in arena
/// order) that is missing or has another shape (with both configurations) or dtype, a tensor of
/// a layer the model lacks, or a file that is not a Llama (saying so when it holds a GPT-2);
/// shape_error when a spec does not fit the arena. The arena is written only after every check
/// has passed.
inline void load_llama_safetensors(const std::filesystem::path& path,
                                   const std::vector<ParameterSpec>& specs,
                                   std::span<float> arena) {
  detail::load_llama<float>(path, specs, arena);
}
/// As above, into a double arena.
inline void load_llama_safetensors(const std::filesystem::path& path,
                                   const std::vector<ParameterSpec>& specs,
                                   std::span<double> arena) {
  detail::load_llama<double>(path, specs, arena);
}

}  // namespace est
