#pragma once
// Reading the JSON that est is handed (transformers' config.json, a sharded checkpoint's index,
// tokenizer.json, safetensors headers, checkpoint state): bounded in size and nesting, parsed in
// linear time, with every failure an error naming the file.

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "est/core/error.hpp"

namespace est {

namespace detail {

/// The pre-pass of parse_json_bounded: nesting depth and, optionally, duplicate keys, checked
/// as the text streams by (nlohmann's callback parser would rescan an object at each of its
/// members' ends, quadratic in the members).
class JsonShapeCheck : public nlohmann::json_sax<nlohmann::json> {
 public:
  JsonShapeCheck(int max_depth, bool unique_keys) : max_depth_(max_depth), unique_(unique_keys) {}
  std::string error;       // empty while the text is acceptable
  int error_depth = 0;     // the nesting depth at which `error` arose

  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override {
    keys_.emplace_back();
    return open();
  }
  bool key(string_t& k) override {
    if (unique_ && !keys_.back().insert(k).second) {
      return refuse("repeats the key \"" + k + "\" in one object");
    }
    return true;
  }
  bool end_object() override {
    keys_.pop_back();
    --depth_;
    return true;
  }
  bool start_array(std::size_t) override { return open(); }
  bool end_array() override {
    --depth_;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    return refuse(std::string("is not valid JSON: ") + e.what());
  }

 private:
  bool open() {
    if (++depth_ > max_depth_) {
      return refuse("nests deeper than " + std::to_string(max_depth_) + " levels");
    }
    return true;
  }
  bool refuse(std::string why) {
    if (error.empty()) {
      error = std::move(why);
      error_depth = depth_;
    }
    return false;
  }
  int max_depth_, depth_ = 0;
  bool unique_;
  std::vector<std::unordered_set<std::string>> keys_;
};

/// `j` as JSON text for an error message, cut to about `limit` characters: a value from a file
/// is never printed whole (it may be megabytes).
inline std::string json_excerpt(const nlohmann::json& j, std::size_t limit = 160) {
  std::string text = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (text.size() > limit) {
    const std::size_t full = text.size();
    text.resize(limit);
    text += "... (the first " + std::to_string(limit) + " of " + std::to_string(full) +
            " characters)";
  }
  return text;
}

/// A parse result: the value, or why the text was refused (and at which nesting depth).
struct BoundedJson {
  nlohmann::json value;
  std::string error;
  int error_depth = 0;
};

/// Parses `text` in linear time, refusing a NUL byte (which nlohmann's lexer would take for the
/// end of the text), nesting deeper than `max_depth`, a key repeated in one object (when
/// `unique_keys`; JSON parsers otherwise keep one silently) and invalid JSON.
inline BoundedJson parse_json_bounded(std::string_view text, int max_depth, bool unique_keys) {
  if (const auto nul = text.find('\0'); nul != std::string_view::npos) {
    return {{}, "holds a NUL byte at offset " + std::to_string(nul), 0};
  }
  JsonShapeCheck check(max_depth, unique_keys);
  const bool ok = nlohmann::json::sax_parse(text.begin(), text.end(), &check);
  if (!ok || !check.error.empty()) {
    return {{}, check.error.empty() ? std::string("is not valid JSON") : check.error,
            check.error_depth};
  }
  return {nlohmann::json::parse(text.begin(), text.end()), {}, 0};
}

}  // namespace detail

/// Files larger than this are not configuration files and are refused unread.
inline constexpr std::uintmax_t max_json_file_bytes = 64u << 20;
/// Deeper nesting than any configuration file needs is refused while parsing (so a hostile
/// file cannot exhaust the stack).
inline constexpr int max_json_depth = 64;

/// Parses `path` as JSON; `what` says what the file is meant to be ("config.json"). Throws
/// io_error naming the file when it cannot be read, is not a regular file, is too large, holds
/// a NUL byte, nests too deeply or is not valid JSON.
[[nodiscard]] inline nlohmann::json read_json_file(const std::filesystem::path& path,
                                                   const char* what) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  require<io_error>(std::filesystem::exists(status), "cannot read ", what, " \"", path.string(),
                    "\": no such file");
  require<io_error>(std::filesystem::is_regular_file(status), "cannot read ", what, " \"",
                    path.string(), "\": not a regular file");
  const auto size = std::filesystem::file_size(path, ec);
  require<io_error>(!ec, "cannot read ", what, " \"", path.string(), "\": ", ec.message());
  require<io_error>(size <= max_json_file_bytes, what, " \"", path.string(), "\" is ", size,
                    " bytes; a ", what, " is at most ", max_json_file_bytes, " bytes");
  std::ifstream in(path, std::ios::binary);
  require<io_error>(static_cast<bool>(in), "cannot read ", what, " \"", path.string(), "\"");
  std::ostringstream text;
  text << in.rdbuf();
  auto parsed = detail::parse_json_bounded(text.str(), max_json_depth, false);
  require<io_error>(parsed.error.empty(), what, " \"", path.string(), "\" ", parsed.error);
  return std::move(parsed.value);
}

}  // namespace est
