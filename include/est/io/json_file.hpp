#pragma once
// Reading the small JSON files that come with a model (transformers' config.json, a sharded
// checkpoint's model.safetensors.index.json): the whole file, bounded in size and nesting, with
// every failure an io_error naming the file.

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "est/core/error.hpp"

namespace est {

/// Files larger than this are not configuration files and are refused unread.
inline constexpr std::uintmax_t max_json_file_bytes = 64u << 20;
/// Deeper nesting than any configuration file needs is refused while parsing (so a hostile
/// file cannot exhaust the stack).
inline constexpr int max_json_depth = 64;

/// Parses `path` as JSON; `what` says what the file is meant to be ("config.json"). Throws
/// io_error naming the file when it cannot be read, is too large, nests too deeply or is not
/// valid JSON.
[[nodiscard]] inline nlohmann::json read_json_file(const std::filesystem::path& path,
                                                   const char* what) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  require<io_error>(!ec, "cannot read ", what, " \"", path.string(), "\": ", ec.message());
  require<io_error>(size <= max_json_file_bytes, what, " \"", path.string(), "\" is ", size,
                    " bytes; a ", what, " is at most ", max_json_file_bytes, " bytes");
  std::ifstream in(path, std::ios::binary);
  require<io_error>(static_cast<bool>(in), "cannot read ", what, " \"", path.string(), "\"");
  std::ostringstream text;
  text << in.rdbuf();
  const std::string s = text.str();
  bool too_deep = false;
  auto limit = [&](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
    if (depth > max_json_depth) too_deep = true;
    return !too_deep;
  };
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(s, limit);
  } catch (const nlohmann::json::exception& e) {
    if (!too_deep) fail<io_error>(what, " \"", path.string(), "\" is not valid JSON: ", e.what());
  }
  require<io_error>(!too_deep, what, " \"", path.string(), "\" nests deeper than ",
                    max_json_depth, " levels");
  return j;
}

}  // namespace est
