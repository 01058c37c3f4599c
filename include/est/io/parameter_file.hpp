#pragma once
// What every model family's Hugging Face format shares: writing a parameter arena as one
// safetensors file (a tensor per ParameterSpec, under its name) with a config.json beside it,
// checking that specs fit an arena, and the small helpers the loaders use to describe what they found (shapes as text,
// the layer a tensor name belongs to). The family-specific loaders live with their families
// (models/<family>/hf_format.hpp).

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "est/core/error.hpp"
#include "est/io/atomic_file.hpp"
#include "est/core/shape.hpp"
#include "est/io/safetensors.hpp"
#include "est/core/parameter_spec.hpp"

namespace est::detail {

/// Tensor name -> shape, as a file or a model holds them.
using TensorShapeMap = std::map<std::string, std::vector<std::int64_t>, std::less<>>;

/// "[2, 3]".
inline std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

inline std::vector<std::int64_t> shape_vector(const Shape& shape) {
  std::vector<std::int64_t> v;
  for (int i = 0; i < shape.rank(); ++i) v.push_back(shape[i]);
  return v;
}

/// The layer N of a name "<prefix><N>.<rest>", or nothing (also for a number past 10^6).
inline std::optional<long> layer_of(std::string_view name, std::string_view prefix) {
  if (!name.starts_with(prefix)) return std::nullopt;
  name.remove_prefix(prefix.size());
  const std::size_t dot = name.find('.');
  if (dot == 0 || dot == std::string_view::npos) return std::nullopt;
  long layer = 0;
  for (const char c : name.substr(0, dot)) {
    if (c < '0' || c > '9' || layer > 1'000'000) return std::nullopt;
    layer = layer * 10 + (c - '0');
  }
  return layer;
}

/// Throws shape_error naming `who` unless every spec lies inside an arena of `size` elements.
inline void check_arena(const char* who, const std::vector<ParameterSpec>& specs,
                        std::size_t size) {
  for (const ParameterSpec& spec : specs) {
    require<shape_error>(spec.offset >= 0 && std::uint64_t(spec.offset) <= size &&
                             std::uint64_t(spec.shape.numel()) <= size - std::uint64_t(spec.offset),
                         who, ": tensor \"", spec.name, "\" (offset ", spec.offset, ", ",
                         spec.shape.numel(), " elements) does not fit the arena of ", size,
                         " elements");
  }
}

/// Writes the tensors of `specs` from `arena` (any model family) with metadata {"format": "pt"}
/// (which transformers requires) plus `metadata`; `who` names the caller in errors.
template <class Scalar>
void save_parameter_arena(const char* who, const std::filesystem::path& path,
                          const std::vector<ParameterSpec>& specs, std::span<const Scalar> arena,
                          const std::map<std::string, std::string>& metadata) {
  check_arena(who, specs, arena.size());
  std::vector<SafetensorsEntry> entries;
  entries.reserve(specs.size());
  for (const ParameterSpec& spec : specs) {
    entries.push_back(safetensors_entry<Scalar>(
        spec.name, shape_vector(spec.shape),
        arena.subspan(std::size_t(spec.offset), std::size_t(spec.shape.numel()))));
  }
  std::map<std::string, std::string> meta{{"format", "pt"}};
  for (const auto& [key, value] : metadata) meta[key] = value;
  write_safetensors(path, entries, meta);
}

/// transformers' name of a parameter type ("torch_dtype" in config.json).
template <class Scalar>
constexpr const char* torch_dtype_name() {
  return std::is_same_v<Scalar, double> ? "float64" : "float32";
}

/// Writes `config` as `dir`/config.json (atomically, indented as transformers writes it).
inline void write_hf_config(const std::filesystem::path& dir, const nlohmann::json& config) {
  const std::string text = config.dump(2) + "\n";
  write_file_atomically(dir / "config.json",
                        std::as_bytes(std::span<const char>(text.data(), text.size())));
}

}  // namespace est::detail
