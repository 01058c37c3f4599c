#pragma once
// The weights of a Hugging Face checkpoint as one set of tensors, however they are stored: one
// safetensors file, or the shards that a `model.safetensors.index.json` names (the form larger
// models ship in: {"metadata": {...}, "weight_map": {tensor name: shard file name}}).
//
// `SafetensorsShards::open` takes the file, the index, or the checkpoint's directory (where it
// looks for model.safetensors, then model.safetensors.index.json). Every shard is opened and
// validated (SafetensorsFile), and the index is checked against them: each shard a plain file
// name in the index's directory, each listed tensor in the shard the index names, no tensor in
// two shards, no shard tensor the index leaves out. Errors are io_errors naming the file.

#include <cstddef>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "est/core/error.hpp"
#include "est/io/json_file.hpp"
#include "est/io/safetensors/reader.hpp"

namespace est {

/// The tensors of a checkpoint stored as one safetensors file or as the shards a
/// model.safetensors.index.json names ({"weight_map": {tensor name: shard file name}}), looked
/// up by tensor name. Every shard is opened and validated, and the index checked against them
/// (each shard a plain file name in the index's directory, each listed tensor in its shard, no
/// tensor in two shards or left out of the index), when the set is opened.
class SafetensorsShards {
 public:
  /// Opens `path`: a .safetensors file, a *.index.json, or a directory holding either
  /// (model.safetensors first). Throws io_error naming what is missing or inconsistent.
  [[nodiscard]] static SafetensorsShards open(const std::filesystem::path& path) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      if (fs::exists(path / "model.safetensors", ec)) return open(path / "model.safetensors");
      if (fs::exists(path / "model.safetensors.index.json", ec)) {
        return open(path / "model.safetensors.index.json");
      }
      const bool pickle = fs::exists(path / "pytorch_model.bin", ec);
      fail<io_error>("\"", path.string(), "\" holds neither model.safetensors nor "
                     "model.safetensors.index.json",
                     pickle ? " (only pytorch_model.bin, a pickle, which est does not read: save "
                              "the model again with save_pretrained, which writes safetensors)"
                            : "");
    }
    SafetensorsShards set;
    set.source_ = path;
    if (path.filename().string().ends_with(".index.json")) {
      set.open_index(path);
    } else {
      set.files_.push_back(SafetensorsFile::open(path));
      for (const std::string& name : set.files_.back().names()) set.owner_.emplace(name, 0);
    }
    return set;
  }

  /// The path `open` was given.
  [[nodiscard]] const std::filesystem::path& source() const noexcept { return source_; }
  /// Number of files (1 unless sharded).
  [[nodiscard]] std::size_t file_count() const noexcept { return files_.size(); }
  /// Every tensor name, sorted.
  [[nodiscard]] std::vector<std::string> names() const {
    std::vector<std::string> out;
    out.reserve(owner_.size());
    for (const auto& [name, file] : owner_) out.push_back(name);
    return out;
  }
  /// Whether some file of the set holds a tensor named `name`.
  [[nodiscard]] bool contains(std::string_view name) const { return owner_.contains(name); }
  /// The file that holds `name`; io_error naming the set when there is none.
  [[nodiscard]] const SafetensorsFile& file_of(std::string_view name) const {
    const auto it = owner_.find(name);
    require<io_error>(it != owner_.end(), "\"", source_.string(), "\": no tensor \"", name, "\"");
    return files_[it->second];
  }
  /// Dtype, shape and offsets (within its own file) of `name`; io_error when there is none.
  [[nodiscard]] const SafetensorsTensorInfo& info(std::string_view name) const {
    return file_of(name).info(name);
  }
  /// SafetensorsFile::convert_to on the file holding `name`.
  template <class T>
  void convert_to(std::string_view name, std::span<T> out) const {
    file_of(name).convert_to(name, out);
  }

 private:
  void open_index(const std::filesystem::path& index) {
    const nlohmann::json j = read_json_file(index, "safetensors index");
    const std::string where = "safetensors index \"" + index.string() + "\": ";
    require<io_error>(j.is_object() && j.contains("weight_map") && j["weight_map"].is_object(),
                      where, "expected an object with a \"weight_map\" object");
    std::map<std::string, std::size_t> shard_of_file;
    std::map<std::string, std::string, std::less<>> listed;  // tensor -> shard file name
    for (const auto& [tensor, shard] : j["weight_map"].items()) {
      require<io_error>(shard.is_string(), where, "the shard of tensor \"", tensor,
                        "\" is not a string");
      const std::string file = shard.get<std::string>();
      require<io_error>(!file.empty() && file.find('/') == std::string::npos &&
                            file.find('\\') == std::string::npos && file != "." && file != "..",
                        where, "shard \"", file, "\" of tensor \"", tensor,
                        "\" is not a file name in the index's directory");
      listed.emplace(tensor, file);
      if (!shard_of_file.contains(file)) {
        shard_of_file.emplace(file, files_.size());
        files_.push_back(SafetensorsFile::open(index.parent_path() / file));
      }
    }
    require<io_error>(!listed.empty(), where, "the weight_map is empty");
    for (const auto& [tensor, file] : listed) {
      const std::size_t i = shard_of_file.at(file);
      require<io_error>(files_[i].contains(tensor), where, "tensor \"", tensor, "\" is not in ",
                        "its shard \"", file, "\"");
      owner_.emplace(tensor, i);
    }
    for (const auto& [file, i] : shard_of_file) {
      for (const std::string& tensor : files_[i].names()) {
        const auto it = listed.find(tensor);
        require<io_error>(it != listed.end(), where, "shard \"", file, "\" holds tensor \"",
                          tensor, "\", which the weight_map does not list");
        require<io_error>(it->second == file, where, "tensor \"", tensor, "\" is in shard \"",
                          file, "\" and in shard \"", it->second, "\"");
      }
    }
  }

  std::filesystem::path source_;
  std::vector<SafetensorsFile> files_;
  std::map<std::string, std::size_t, std::less<>> owner_;  // tensor -> index into files_
};

}  // namespace est
