// JSON as est reads it from outside: parsed with the bounds of io/json_file.hpp, then read as a
// transformers config.json of either family and as est-train's stored run configuration (the
// "run" of a checkpoint's state.json, checked as a resume checks it).

#include <est/io/json_file.hpp>
#include <est/models/gpt2/hf_config.hpp>
#include <est/models/llama/hf_config.hpp>

#include "est_train/run_config.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = est::detail::parse_json_bounded(text, est::max_json_depth, false);
  if (!parsed.error.empty()) return 0;
  const nlohmann::json& j = parsed.value;
  (void)est::detail::json_excerpt(j);
  try {
    (void)est::gpt2_config_from_hf(j, "config.json");
  } catch (const est::error&) {
  }
  try {
    (void)est::llama_config_from_hf(j, "config.json");
  } catch (const est::error&) {
  }
  try {
    const auto run = j.get<est_train::RunConfig>();
    est_train::check_run_config(run);
    nlohmann::json back = run;
    if (back.get<est_train::RunConfig>() != run) __builtin_trap();  // a round trip is exact
  } catch (const est::error&) {
  } catch (const nlohmann::json::exception&) {  // a type the configuration does not have
  }
  return 0;
}
