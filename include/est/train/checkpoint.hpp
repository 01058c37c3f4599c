#pragma once
// Checkpoints of a training run: a directory per checkpoint, `step-00000100/`, holding
//   model files            what the model's family writes (models/<family>/family.hpp,
//                          save_weights): model.safetensors under Hugging Face names (GPT-2's
//                          in GPT2Model's layout, the tied LM head omitted and the vocabulary
//                          unpadded; Llama's in LlamaForCausalLM's) and transformers'
//                          config.json, so that from_pretrained(checkpoint) loads the directory
//   optimizer.safetensors  AdamW's moments "m" and "v" (F32/F64, laid out like the parameter
//                          arena) and, in frozen mode, its per-element step counts
//   state.json             the step, the optimizer's step count, the counters, the FLOPs meter,
//                          the state of a sampling policy that learns from training
//                          (ObservingSamplingPolicy), the model configuration and the caller's
//                          full run configuration
//
// Writing is atomic: the files go to a hidden temporary directory `.step-00000100.tmp-<pid>`,
// each fsynced, then the directory is renamed into place and its parent fsynced. A crash leaves
// at most a hidden temporary directory, which loaders ignore and a later save removes (once its
// process is gone). state.json records a digest of each file, checked on load, and weights must
// be finite to be saved or loaded. Nothing is ever written over an existing file, so a
// checkpoint being read (memory-mapped) is never modified. `keep_last` prunes older complete
// checkpoints after a successful save, never the new one or a later one.
//
// Batches, subnetworks and learning rates are pure functions of (seed, step), so restoring the
// weights, the optimizer and the step resumes a run bit for bit on the same thread count.

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <charconv>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <unistd.h>
#include <vector>

#include <nlohmann/json.hpp>

#include "est/core/error.hpp"
#include "est/io/atomic_file.hpp"
#include "est/io/json_file.hpp"
#include "est/models/family.hpp"
#include "est/io/safetensors.hpp"
#include "est/subnet/flops.hpp"
#include "est/subnet/sampling/policy.hpp"

namespace est {

namespace detail {

inline nlohmann::json flops_json(const StepFlops& f) { return {f.forward, f.backward}; }

/// A stored count: an integer in [0, 2^62] (a stored 1e30 or -1 is refused, never converted);
/// io_error naming `file` and `what` otherwise.
inline std::int64_t stored_count(const nlohmann::json& j, const std::string& file,
                                 const char* what) {
  require<io_error>(j.is_number_integer() && (j.is_number_unsigned() || j.get<std::int64_t>() >= 0) &&
                        j.get<std::uint64_t>() <= (std::uint64_t(1) << 62),
                    file, ": \"", what, "\" is ", json_excerpt(j),
                    ", expected a non-negative integer");
  return j.get<std::int64_t>();
}

inline StepFlops flops_from(const nlohmann::json& j, const std::string& file) {
  require<io_error>(j.is_array() && j.size() == 2, file, ": a FLOPs pair is ", json_excerpt(j),
                    ", expected [forward, backward]");
  return {stored_count(j[0], file, "flops"), stored_count(j[1], file, "flops")};
}

/// "step-00000100" -> 100; anything else -> nullopt.
inline std::optional<std::int64_t> checkpoint_step(const std::filesystem::path& dir) {
  const std::string name = dir.filename().string();
  if (!name.starts_with("step-") || name.size() <= 5) return std::nullopt;
  std::int64_t step = 0;
  const char* first = name.data() + 5;
  const char* last = name.data() + name.size();
  const auto [end, ec] = std::from_chars(first, last, step);
  if (ec != std::errc() || end != last || step < 0 || *first == '-') return std::nullopt;
  return step;
}

inline std::string checkpoint_name(std::int64_t step) {
  std::string digits = std::to_string(step);
  if (digits.size() < 8) digits.insert(0, 8 - digits.size(), '0');
  return "step-" + digits;
}

/// A 64-bit digest of a file's bytes (word-wise multiply-rotate, then an avalanche), stored in
/// state.json so that a load notices a damaged data section, which the formats cannot.
inline std::string file_digest(const std::filesystem::path& path) {
  const MappedFile file(path);
  const auto bytes = file.bytes();
  std::uint64_t h = 0x6573742d636b7074ULL ^ bytes.size();
  std::size_t i = 0;
  for (; i + 8 <= bytes.size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, bytes.data() + i, 8);
    h = std::rotl(h ^ (w * 0x9E3779B97F4A7C15ULL), 31) * 0xBF58476D1CE4E5B9ULL;
  }
  for (; i < bytes.size(); ++i) {
    h = std::rotl(h ^ (std::uint64_t(bytes[i]) * 0x9E3779B97F4A7C15ULL), 31) * 0xBF58476D1CE4E5B9ULL;
  }
  h ^= h >> 33;
  h *= 0xFF51AFD7ED558CCDULL;
  h ^= h >> 33;
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(h));
  return text;
}

/// Throws `Error` naming `what` unless every value is finite.
template <class Error, class T>
void require_finite(std::span<const T> values, const std::string& what) {
  for (std::size_t i = 0; i < values.size(); ++i) {
    require<Error>(std::isfinite(values[i]), what, ": element ", i, " is ", values[i],
                   " (not finite)");
  }
}

/// Whether process `pid` still exists (so its temporary checkpoint is not stale).
inline bool process_alive(long pid) {
  return pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM);
}

/// Whether a parsed state.json says `"complete": true` (anything else, of any type, is not).
inline bool marked_complete(const nlohmann::json& state) {
  return state.is_object() && state.contains("complete") && state["complete"].is_boolean() &&
         state["complete"].get<bool>();
}

/// state.json, bounded in size and nesting (io/json_file.hpp).
inline nlohmann::json read_json(const std::filesystem::path& path) {
  return read_json_file(path, "checkpoint state");
}

}  // namespace detail

/// The newest complete checkpoint in `dir` (a `step-N` directory with a readable state.json),
/// or nullopt when there is none (or `dir` does not exist).
[[nodiscard]] inline std::optional<std::filesystem::path> latest_checkpoint(
    const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return std::nullopt;
  std::vector<std::pair<std::int64_t, fs::path>> found;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const auto step = detail::checkpoint_step(entry.path());
    if (step && entry.is_directory() && fs::is_regular_file(entry.path() / "state.json")) {
      found.emplace_back(*step, entry.path());
    }
  }
  std::sort(found.begin(), found.end());
  for (auto it = found.rbegin(); it != found.rend(); ++it) {
    try {
      const auto state = detail::read_json(it->second / "state.json");
      if (detail::marked_complete(state)) return it->second;
    } catch (const io_error&) {
      // An unreadable state: fall back to the previous checkpoint.
    }
  }
  return std::nullopt;
}

/// Why the newest `step-N` directory of `dir` is not a usable checkpoint ("" when `dir` has
/// none, or the newest is complete): for messages when latest_checkpoint finds nothing.
[[nodiscard]] inline std::string newest_checkpoint_problem(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::optional<std::pair<std::int64_t, fs::path>> newest;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const auto step = detail::checkpoint_step(entry.path());
    if (step && (!newest || *step > newest->first)) newest.emplace(*step, entry.path());
  }
  if (!newest) return "";
  try {
    const auto state = detail::read_json(newest->second / "state.json");
    if (detail::marked_complete(state)) return "";
    return newest->second.string() + " is incomplete";
  } catch (const io_error& e) {
    return e.what();
  }
}

namespace detail {

/// Removes the hidden directories that a crash left in `dir`: temporaries of a save
/// (`.step-N.tmp-<pid>`) and checkpoints being pruned (`.step-N.pruned-<pid>`), of processes
/// that are gone.
inline void remove_stale_temporaries(const std::filesystem::path& dir) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (!name.starts_with(".step-")) continue;
    for (const char* marker : {".tmp-", ".pruned-"}) {
      const auto at = name.find(marker);
      if (at != std::string::npos &&
          !process_alive(std::atol(name.c_str() + at + std::strlen(marker)))) {
        std::filesystem::remove_all(entry.path(), ec);
      }
    }
  }
}

/// Removes checkpoint directory `path` so that a crash halfway leaves no `step-N` directory
/// behind: it is first renamed to a hidden `.step-N.pruned-<pid>` (atomic), then deleted; a
/// leftover is removed by the next save (remove_stale_temporaries).
inline void remove_checkpoint(const std::filesystem::path& path) {
  std::error_code ec;
  const auto hidden = path.parent_path() / ("." + path.filename().string() + ".pruned-" +
                                            std::to_string(::getpid()));
  std::filesystem::rename(path, hidden, ec);
  std::filesystem::remove_all(ec ? path : hidden, ec);
}

/// Removes the complete checkpoints of `dir` older than `step` beyond the newest
/// `keep_last - 1` of them; the one at `step`, and any later one (another run's), stay.
inline void prune_checkpoints(const std::filesystem::path& dir, std::int64_t step,
                              int keep_last) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<std::pair<std::int64_t, fs::path>> older;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const auto s = checkpoint_step(entry.path());
    if (s && *s < step && entry.is_directory() &&
        fs::is_regular_file(entry.path() / "state.json")) {
      older.emplace_back(*s, entry.path());
    }
  }
  std::sort(older.begin(), older.end());
  const std::size_t keep_older = std::size_t(keep_last) - 1;
  for (std::size_t i = 0; i + keep_older < older.size(); ++i) remove_checkpoint(older[i].second);
}

/// optimizer.safetensors: AdamW's moments and, in frozen mode, its per-element step counts.
template <class T, class Optimizer>
void write_optimizer_file(const std::filesystem::path& path, Optimizer& opt) {
  const auto m = opt.first_moments(), v = opt.second_moments();
  const auto counts = opt.element_steps();
  std::vector<SafetensorsEntry> entries{
      safetensors_entry<T>("m", {m.numel()}, std::span<const T>(m.data(), std::size_t(m.numel()))),
      safetensors_entry<T>("v", {v.numel()}, std::span<const T>(v.data(), std::size_t(v.numel())))};
  if (counts.numel() > 0) {
    entries.push_back(safetensors_entry<std::int32_t>(
        "element_steps", {counts.numel()},
        std::span<const std::int32_t>(counts.data(), std::size_t(counts.numel()))));
  }
  write_safetensors(path, entries, {{"steps_taken", std::to_string(opt.steps_taken())}});
}

/// state.json of a checkpoint whose other files are already in `dir`.
template <class Trainer, class Family>
nlohmann::json checkpoint_state(const std::filesystem::path& dir, Trainer& trainer,
                                const nlohmann::json& run) {
  const auto& meter = trainer.flops();
  nlohmann::json state = {
      {"format", "est-checkpoint"},
      {"version", 1},
      {"step", trainer.steps_done()},
      {"non_finite_steps", trainer.non_finite_steps()},
      {"optimizer_steps", trainer.optimizer().steps_taken()},
      {"model", Family::config_json(Trainer::config)},
      {"flops",
       {{"steps", meter.steps()},
        {"total", meter.total()},
        {"total_full", meter.total_full()},
        {"last", flops_json(meter.last())},
        {"last_full", flops_json(meter.last_full())}}},
      {"run", run},
      {"files",
       {{"model.safetensors", file_digest(dir / "model.safetensors")},
        {"optimizer.safetensors", file_digest(dir / "optimizer.safetensors")}}},
      {"complete", true}};
  if constexpr (ObservingSamplingPolicy<typename Trainer::sampling_type>) {
    // Doubles are written with 17 significant digits: they read back bit for bit.
    state["sampling"] = trainer.subnetworks().sampling().state();
  }
  return state;
}

}  // namespace detail

/// Saves the training state of `trainer` (an est::Trainer) at its current step into
/// `dir/step-N` (N zero-padded to 8 digits), with `run` (the caller's run configuration) stored
/// alongside; keeps the newest `keep_last` checkpoints (0 or less keeps all). Returns the
/// checkpoint's path. Throws io_error naming the directory when it cannot be created or written
/// or a complete checkpoint of this step exists, value_error when a weight is not finite;
/// earlier checkpoints are untouched. CPU training runs only (a compile-time check).
template <class Trainer>
std::filesystem::path save_checkpoint(const std::filesystem::path& dir, Trainer& trainer,
                                      const nlohmann::json& run, int keep_last = 3) {
  static_assert(std::is_same_v<typename Trainer::device_type, cpu>,
                "save_checkpoint: checkpoints are written from and read into CPU training runs; this "
                "version of est does not checkpoint a run on the GPU");
  namespace fs = std::filesystem;
  using T = typename Trainer::scalar_type;
  using Family = family_t<std::remove_cvref_t<decltype(Trainer::config)>>;
  std::error_code ec;
  fs::create_directories(dir, ec);
  require<io_error>(!ec && fs::is_directory(dir), "cannot create checkpoint directory '",
                    dir.string(), "': ", ec.message());
  const std::int64_t step = trainer.steps_done();
  const fs::path final_dir = dir / detail::checkpoint_name(step);
  // Checked before anything is created, so that a refusal leaves nothing behind.
  auto& model = trainer.model();
  const auto arena = model.parameter_arena();
  const std::span<const T> weights(arena.data(), std::size_t(arena.numel()));
  detail::require_finite<value_error>(weights,
                                      "save_checkpoint: refusing to save non-finite weights");
  detail::remove_stale_temporaries(dir);
  if (fs::exists(final_dir)) {
    // A directory without a complete state.json is no checkpoint (the remains of a deletion by
    // hand or of an older est's pruning): it makes way. A complete one is never overwritten.
    bool complete = false;
    try {
      complete = detail::marked_complete(detail::read_json(final_dir / "state.json"));
    } catch (const io_error&) {
    }
    require<io_error>(!complete, "checkpoint '", final_dir.string(),
                      "' already exists; checkpoints are never overwritten");
    detail::remove_checkpoint(final_dir);
  }
  const fs::path tmp =
      dir / ("." + detail::checkpoint_name(step) + ".tmp-" + std::to_string(::getpid()));
  fs::create_directory(tmp, ec);
  require<io_error>(!ec, "cannot write to checkpoint directory '", dir.string(), "': ",
                    ec.message());
  try {
    Family::save_weights(tmp, Trainer::config, model.parameter_specs(), weights,
                         {{"est.step", std::to_string(step)}});
    detail::write_optimizer_file<T>(tmp / "optimizer.safetensors", trainer.optimizer());
    const std::string text =
        detail::checkpoint_state<Trainer, Family>(tmp, trainer, run).dump(2) + "\n";
    write_file_atomically(tmp / "state.json",
                          std::as_bytes(std::span<const char>(text.data(), text.size())));
    fs::rename(tmp, final_dir, ec);
    require<io_error>(!ec, "cannot move checkpoint into place at '", final_dir.string(), "': ",
                      ec.message());
    detail::sync_directory(dir, final_dir);
  } catch (...) {
    fs::remove_all(tmp, ec);  // a crash would leave it; the next save removes it then
    throw;
  }
  if (keep_last > 0) detail::prune_checkpoints(dir, step, keep_last);
  return final_dir;
}

namespace detail {

/// The optimizer state of a checkpoint, read and checked.
template <class T>
struct StoredOptimizer {
  std::vector<T> m, v;                // (P) moments
  std::vector<std::int32_t> counts;   // (P) per-element step counts, or empty
  long long steps_taken = 0;
};

/// Reads optimizer.safetensors of checkpoint `path` for `size` parameters; the counts must lie
/// in [0, steps_taken] and steps_taken in [0, step].
template <class T>
StoredOptimizer<T> read_optimizer_file(const std::filesystem::path& path, std::size_t size,
                                       long long steps_taken, std::int64_t step,
                                       const std::string& state_file) {
  const std::string name = (path / "optimizer.safetensors").string();
  const auto file = SafetensorsFile::open(path / "optimizer.safetensors");
  StoredOptimizer<T> out{std::vector<T>(size), std::vector<T>(size), {}, steps_taken};
  file.copy_to<T>("m", out.m);
  file.copy_to<T>("v", out.v);
  if (file.contains("element_steps")) {
    out.counts.resize(size);
    file.copy_to<std::int32_t>("element_steps", out.counts);
  }
  require_finite<io_error>(std::span<const T>(out.m), name + ": a first moment");
  require_finite<io_error>(std::span<const T>(out.v), name + ": a second moment");
  require<io_error>(steps_taken >= 0 && steps_taken <= step, state_file, ": optimizer_steps ",
                    steps_taken, " is outside [0, step = ", step, "]");
  for (std::size_t i = 0; i < out.counts.size(); ++i) {
    require<io_error>(out.counts[i] >= 0 && out.counts[i] <= steps_taken, name,
                      ": element_steps[", i, "] = ", out.counts[i], " is outside [0, ",
                      steps_taken, "]");
  }
  return out;
}

/// A copy of `current` with the state a checkpoint's state.json holds for it: none (then the
/// policy must accept an empty state) or "sampling".
template <class Sampling>
Sampling restored_sampling(const Sampling& current, const nlohmann::json& state,
                           const std::string& file) {
  Sampling sampling = current;
  if (!state.contains("sampling")) {
    // Written by a policy that keeps no state: fine for a policy whose state may be empty.
    try {
      sampling.restore({});
    } catch (const value_error&) {
      fail<io_error>(file, ": the checkpoint holds no state of ", sampling.name(),
                     " (it was written by a run with another sampling policy)");
    }
    return sampling;
  }
  try {
    sampling.restore(state.at("sampling").get<std::map<std::string, std::vector<double>>>());
  } catch (const value_error& e) {
    fail<io_error>(file, ": \"sampling\": ", e.what());
  }
  return sampling;
}

}  // namespace detail

/// Restores `trainer` (model weights, optimizer state, step and counters, and the state of a
/// sampling policy that learns) from checkpoint directory `path`; returns the stored run
/// configuration. Throws io_error naming the file and field when the checkpoint is incomplete,
/// malformed or of another model configuration; the model and optimizer are written only
/// after every file has been checked. CPU training runs only (a compile-time check).
template <class Trainer>
nlohmann::json load_checkpoint(const std::filesystem::path& path, Trainer& trainer) {
  static_assert(std::is_same_v<typename Trainer::device_type, cpu>,
                "load_checkpoint: checkpoints are written from and read into CPU training runs; this "
                "version of est does not checkpoint a run on the GPU");
  using T = typename Trainer::scalar_type;
  using Family = family_t<std::remove_cvref_t<decltype(Trainer::config)>>;
  using Sampling = typename Trainer::sampling_type;
  const auto state_path = path / "state.json";
  const nlohmann::json state = detail::read_json(state_path);
  const std::string file = state_path.string();
  try {
    require<io_error>(state.at("format") == "est-checkpoint" && state.at("version") == 1,
                      file, ": not an est checkpoint of version 1");
    require<io_error>(detail::marked_complete(state), file, ": the checkpoint is incomplete");
    const auto expected = Family::config_json(Trainer::config);
    require<io_error>(state.at("model") == expected, file,
                      ": the checkpoint is of another model configuration: it has ",
                      detail::json_excerpt(state.at("model")), ", this model is ",
                      expected.dump());
    for (const char* name : {"model.safetensors", "optimizer.safetensors"}) {
      const std::string stored = state.at("files").at(name).get<std::string>();
      require<io_error>(detail::file_digest(path / name) == stored, (path / name).string(),
                        ": the file's contents do not match the digest recorded in state.json "
                        "(the file is damaged)");
    }
    // Read and check everything into buffers first, so a failure leaves the trainer as it was.
    auto& model = trainer.model();
    std::vector<T> weights(std::size_t(model.parameter_arena().numel()));
    Family::load_weights(path, Trainer::config, model.parameter_specs(), std::span<T>(weights));
    detail::require_finite<io_error>(std::span<const T>(weights),
                                     (path / "model.safetensors").string() + ": a weight");
    const auto step = detail::stored_count(state.at("step"), file, "step");
    const auto non_finite =
        detail::stored_count(state.at("non_finite_steps"), file, "non_finite_steps");
    const auto stored = detail::read_optimizer_file<T>(
        path, weights.size(),
        detail::stored_count(state.at("optimizer_steps"), file, "optimizer_steps"), step, file);
    const auto& f = state.at("flops");
    for (const char* key : {"total", "total_full"}) {
      require<io_error>(f.at(key).is_number() && std::isfinite(f.at(key).get<double>()) &&
                            f.at(key).get<double>() >= 0,
                        file, ": \"flops\".\"", key, "\" is ", detail::json_excerpt(f.at(key)),
                        ", expected a non-negative number");
    }
    FlopsMeter meter;
    try {
      meter = FlopsMeter::restore(
          detail::stored_count(f.at("steps"), file, "flops.steps"), f.at("total").get<double>(),
          f.at("total_full").get<double>(), detail::flops_from(f.at("last"), file),
          detail::flops_from(f.at("last_full"), file));
    } catch (const value_error& e) {
      fail<io_error>(file, ": \"flops\": ", e.what());
    }
    try {
      Trainer::check_restore(step, non_finite);
    } catch (const value_error& e) {
      fail<io_error>(file, ": ", e.what());
    }
    std::optional<Sampling> sampling;
    if constexpr (ObservingSamplingPolicy<Sampling>) {
      sampling = detail::restored_sampling(trainer.subnetworks().sampling(), state, file);
    }

    // Every check has passed: restore.
    auto& opt = trainer.optimizer();
    std::copy(weights.begin(), weights.end(), model.parameter_arena().data());
    std::copy(stored.m.begin(), stored.m.end(), opt.first_moments().data());
    std::copy(stored.v.begin(), stored.v.end(), opt.second_moments().data());
    opt.clear_element_steps();
    opt.set_steps_taken(stored.steps_taken);
    if (!stored.counts.empty()) {
      opt.set_element_steps(ConstView<std::int32_t>(TensorView<const std::int32_t>(
          stored.counts.data(), {Index(stored.counts.size())})));
    }
    trainer.restore(step, non_finite, meter);
    if constexpr (ObservingSamplingPolicy<Sampling>) {
      trainer.subnetworks().sampling() = std::move(*sampling);
    }
    return state.at("run");
  } catch (const nlohmann::json::exception& e) {
    fail<io_error>(file, ": missing or malformed field: ", e.what());
  }
}

}  // namespace est
