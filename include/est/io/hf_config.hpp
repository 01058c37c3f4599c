#pragma once
// Reading transformers' config.json: typed settings with transformers' defaults, every problem
// collected so that one error names them all, and the comparison of two configurations key by
// key. The families' readers (models/<family>/hf_config.hpp) say which keys mean what.

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "est/core/error.hpp"
#include "est/io/json_file.hpp"

namespace est::detail {

class HfConfigReader {
 public:
  /// `where` names the file in errors ("config.json \"dir/config.json\"").
  HfConfigReader(const nlohmann::json& config, std::string where)
      : j_(config), where_(std::move(where)) {
    require<io_error>(j_.is_object(), where_, ": expected a JSON object");
  }

  /// Whether `key` is present and not null.
  [[nodiscard]] bool has(const char* key) const {
    return j_.contains(key) && !j_.at(key).is_null();
  }

  /// A positive integer that must be present (the first of `keys` present is read).
  int positive_int(std::initializer_list<const char*> keys) {
    for (const char* key : keys) {
      if (has(key)) return positive_int_or(key, 0);
    }
    problem(std::string("\"") + *keys.begin() + "\" is missing");
    return 0;
  }
  /// A positive integer, or `fallback` when absent or null.
  int positive_int_or(const char* key, int fallback) {
    if (!has(key)) return fallback;
    const auto& v = j_.at(key);
    if (!v.is_number_integer() || v.get<long long>() < 1 ||
        v.get<long long>() > std::numeric_limits<int>::max()) {
      problem(std::string("\"") + key + "\" is " + json_excerpt(v) + ", expected a positive integer");
      return fallback;
    }
    return v.get<int>();
  }
  /// A positive finite number, or `fallback` when absent or null.
  double positive_number_or(const char* key, double fallback, const nlohmann::json* in = nullptr) {
    const nlohmann::json& obj = in ? *in : j_;
    if (!obj.contains(key) || obj.at(key).is_null()) return fallback;
    const auto& v = obj.at(key);
    if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() <= 0) {
      problem(std::string("\"") + key + "\" is " + json_excerpt(v) + ", expected a positive number");
      return fallback;
    }
    return v.get<double>();
  }
  bool boolean_or(const char* key, bool fallback) {
    if (!has(key)) return fallback;
    if (!j_.at(key).is_boolean()) {
      problem(std::string("\"") + key + "\" is " + json_excerpt(j_.at(key)) + ", expected true or false");
      return fallback;
    }
    return j_.at(key).get<bool>();
  }
  std::string string_or(const char* key, std::string fallback) {
    if (!has(key)) return fallback;
    if (!j_.at(key).is_string()) {
      problem(std::string("\"") + key + "\" is " + json_excerpt(j_.at(key)) + ", expected a string");
      return fallback;
    }
    return j_.at(key).get<std::string>();
  }

  /// Records `text` as a problem unless `ok`.
  void expect(bool ok, const std::string& text) {
    if (!ok) problem(text);
  }
  void problem(std::string text) { problems_.push_back(std::move(text)); }

  /// Throws io_error listing every problem recorded, if any.
  void finish() const {
    if (problems_.empty()) return;
    std::string all;
    for (const std::string& p : problems_) all += "\n  " + p;
    fail<io_error>(where_, ": est cannot build this model:", all);
  }

  [[nodiscard]] const nlohmann::json& json() const noexcept { return j_; }

 private:
  const nlohmann::json& j_;
  std::string where_;
  std::vector<std::string> problems_;
};

/// "key: checkpoint X, model Y" for every key whose values differ between two config.json
/// objects (keys of `a` and of `b`, sorted).
[[nodiscard]] inline std::vector<std::string> hf_config_differences(const nlohmann::json& a,
                                                                   const nlohmann::json& b,
                                                                   const char* a_name,
                                                                   const char* b_name) {
  std::vector<std::string> out;
  nlohmann::json keys = nlohmann::json::object();
  for (const auto& [k, v] : a.items()) keys[k] = true;
  for (const auto& [k, v] : b.items()) keys[k] = true;
  for (const auto& [k, unused] : keys.items()) {
    const auto va = a.contains(k) ? a.at(k) : nlohmann::json(nullptr);
    const auto vb = b.contains(k) ? b.at(k) : nlohmann::json(nullptr);
    if (va != vb) {
      out.push_back(k + ": " + a_name + " " + json_excerpt(va) + ", " + b_name + " " + json_excerpt(vb));
    }
  }
  return out;
}

}  // namespace est::detail
