#pragma once
// Starting from a model someone else trained: the weights of a transformers checkpoint — a
// directory (model.safetensors, or model.safetensors.index.json and its shards, with
// config.json), a safetensors file, or an index — loaded into an est model of a given
// configuration, and an est model saved back as a directory that from_pretrained reads.
//
// Loading checks the checkpoint's config.json (when there is one beside the weights) against the
// model's configuration setting by setting, in transformers' terms: a Llama whose rope_theta or
// rms_norm_eps differs from the model's computes a different function, so it is refused with
// every difference named, as is a config.json asking for something est does not implement.
// Without a config.json only the tensors' names and shapes can be checked, and the result says
// so. Values may be F32, F64, F16 or BF16 (converted); nothing is written into the model before
// every check has passed.
//
//   est::Gpt2<est::presets::gpt2_small> model(ctx);
//   est::load_hf_checkpoint("gpt2/", model);   // the Hugging Face "gpt2" download

#include <cstddef>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "est/core/device.hpp"
#include "est/core/error.hpp"
#include "est/core/parameter_spec.hpp"
#include "est/io/hf_config.hpp"
#include "est/io/json_file.hpp"
#include "est/io/safetensors.hpp"
#include "est/models/family.hpp"

namespace est {

/// The config.json that belongs to weights at `path`: inside a directory, beside a file.
[[nodiscard]] inline std::filesystem::path hf_config_path(const std::filesystem::path& path) {
  std::error_code ec;
  return std::filesystem::is_directory(path, ec) ? path / "config.json"
                                                 : path.parent_path() / "config.json";
}

/// The parsed config.json of the checkpoint at `path`, or nullopt when there is none.
[[nodiscard]] inline std::optional<nlohmann::json> read_hf_config(
    const std::filesystem::path& path) {
  const auto file = hf_config_path(path);
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) return std::nullopt;
  return read_json_file(file, "config.json");
}

/// What load_hf_checkpoint read.
struct HfCheckpointInfo {
  std::filesystem::path weights;       ///< The file or index the tensors came from.
  std::size_t files = 0;               ///< Safetensors files read (the shards; 1 unless sharded).
  /// A config.json was found and matched the model; false: only the tensors' names and shapes
  /// were checked.
  bool config_checked = false;
};

/// The model configuration described by the config.json of the checkpoint at `path`, for
/// family `Config`'s type; throws io_error when there is none or it is not of that family or
/// asks for what est does not implement.
template <ModelConfig Config>
[[nodiscard]] Config hf_checkpoint_config(const std::filesystem::path& path) {
  const auto json = read_hf_config(path);
  const auto file = hf_config_path(path).string();
  require<io_error>(json.has_value(), "\"", path.string(), "\": there is no config.json (looked "
                    "for \"", file, "\")");
  return family_t<Config>::config_from_hf(*json, "config.json \"" + file + "\"");
}

/// Reads the checkpoint at `path` into `arena` (laid out by `specs`) for a model of
/// configuration `config`, after checking config.json against `config` (see above). Throws
/// io_error naming every setting that differs, or the file and tensor that is missing or does
/// not fit, and shape_error when a spec does not fit `arena`; `arena` is written only after
/// every check has passed.
template <ModelConfig Config, class T>
HfCheckpointInfo load_hf_checkpoint(const std::filesystem::path& path, const Config& config,
                                    const std::vector<ParameterSpec>& specs, std::span<T> arena) {
  using Family = family_t<Config>;
  HfCheckpointInfo info;
  if (const auto json = read_hf_config(path)) {
    const std::string file = hf_config_path(path).string();
    const Config theirs = Family::config_from_hf(*json, "config.json \"" + file + "\"");
    const auto differences = detail::hf_config_differences(Family::hf_config(theirs),
                                                           Family::hf_config(config),
                                                           "checkpoint", "model");
    if (!differences.empty()) {
      std::string all;
      for (const auto& d : differences) all += "\n  " + d;
      fail<io_error>("config.json \"", file, "\": the checkpoint is not of the model's "
                     "configuration:", all);
    }
    info.config_checked = true;
  }
  const SafetensorsShards shards = SafetensorsShards::open(path);
  info.weights = shards.source();
  info.files = shards.file_count();
  Family::load_weights(path, config, specs, arena);
  return info;
}

/// load_hf_checkpoint into `model` (an est model on the CPU): its weights are replaced only
/// when everything has been read and checked.
template <class Model>
HfCheckpointInfo load_hf_checkpoint(const std::filesystem::path& path, Model& model) {
  static_assert(std::is_same_v<typename Model::device_type, cpu>,
                "load_hf_checkpoint: reads into models on the CPU; load into a CPU model and "
                "copy its parameter arena to the device");
  using T = typename Model::scalar_type;
  auto arena = model.parameter_arena();
  std::vector<T> staged(std::size_t(arena.numel()));
  const auto info = load_hf_checkpoint(path, Model::config, model.parameter_specs(),
                                       std::span<T>(staged));
  std::copy(staged.begin(), staged.end(), arena.data());
  return info;
}

/// Writes `model` (on the CPU) to directory `dir` as transformers saves a model:
/// model.safetensors and config.json. Creates `dir`; files already there are replaced
/// atomically.
template <class Model>
void save_hf_checkpoint(const std::filesystem::path& dir, const Model& model) {
  static_assert(std::is_same_v<typename Model::device_type, cpu>,
                "save_hf_checkpoint: writes models on the CPU");
  using T = typename Model::scalar_type;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  require<io_error>(!ec && std::filesystem::is_directory(dir), "save_hf_checkpoint: cannot "
                    "create directory \"", dir.string(), "\": ", ec.message());
  const auto arena = model.parameter_arena();
  family_t<std::remove_cvref_t<decltype(Model::config)>>::save_weights(
      dir, Model::config, model.parameter_specs(),
      std::span<const T>(arena.data(), std::size_t(arena.numel())), {});
}

}  // namespace est
