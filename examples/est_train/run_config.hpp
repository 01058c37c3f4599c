#pragma once
// What defines a training run of est-train: everything a checkpoint stores and a resume reuses
// (RunConfig), and what only steers this invocation (Invocation).

#include <array>
#include <cstdint>
#include <cmath>
#include <initializer_list>
#include <limits>
#include <memory>
#include <string>
#include <tuple>
#include <type_traits>

#include <nlohmann/json.hpp>

#include <est/core/error.hpp>
#include <est/dist/communicator.hpp>
#include <est/io/json_file.hpp>

namespace est_train {

struct RunConfig {
  std::string preset = "mini";
  std::string schedule = "est";  // "baseline" or "est" (one run; "compare" runs both)
  std::int64_t steps = 600;
  std::int64_t batch = 16;
  std::int64_t seq = 0;          // tokens per sequence (<= the preset's context); 0: the context
  int micro_batches = 1;
  double lr = 2e-3;
  double min_lr = 2e-4;
  std::int64_t warmup = -1;      // linear warmup steps; -1: steps / 15
  double grad_clip = 1.0;
  double weight_decay = 0.1;
  std::uint64_t seed = 1337;
  std::int64_t eval_interval = 100;
  std::int64_t eval_batches = 8;
  std::string data;              // text file or directory, or token file; empty = default corpus
  std::string data_format = "auto";  // "auto" (.bin: token file), "text", "llmc" or "uint16"
  std::string val_data;          // a separate validation token file; empty = last val_fraction
  double val_fraction = 0.1;
  std::string tokenizer = "byte";  // "byte", "gpt2" or "hf"
  std::string gpt2_dir;            // encoder.json and vocab.bpe for the GPT-2 tokenizer
  std::string tokenizer_file;      // tokenizer.json for "hf"; empty: the one beside init_from
  std::string init_from;           // start from these Hugging Face weights; empty: random init
  // Evolving subnetwork training (growth::ThreeStage; sampling::Uniform or sampling::Importance).
  std::array<double, 3> stage1{0.5, 0.5, 0.5};  // (pL, pH, pM)
  std::array<double, 2> stage2{0.5, 0.5};       // (pH, pM); every layer
  double stage1_end = 0.25;                     // fractions of the run
  double stage2_end = 0.5;
  int granularity = 8;                          // neuron counts rounded to a multiple
  std::string head_sampling = "heads";          // "heads" or "kv-groups" (Llama: whole groups)
  std::string sampling = "uniform";             // "uniform" or "importance"
  double importance_share = 0.5;                // importance: the uniform share α of the weights
  double importance_decay = 0.9;                // importance: decay β of the running magnitudes
  std::string inactive = "frozen";              // "frozen", "zero-grad" or "mixed"
  std::string pin_layers = "none";              // uniform: "none", "first", "last" or "both"
  std::string layer_draw = "exact";             // uniform: "exact" count or "bernoulli" draws
  bool rescale_layers = false;                  // uniform: kept layers' branches scaled by 1/p_l
  // Learning rate: "cosine" (warmup, cosine decay over the run) or "wsd" (warmup, stable until
  // decay_start, linear decay); rewarm > 0 re-warms over that many steps when EST's full-model
  // stage starts.
  std::string lr_schedule = "cosine";
  double decay_start = 0.5;                     // wsd: the decay's first step, fraction of the run
  std::int64_t rewarm = 0;
  int threads = 0;                              // 0: all cores

  friend bool operator==(const RunConfig&, const RunConfig&) = default;
};

/// Calls visit(name, member, added_later) for every field of `c` in order. `added_later` marks
/// the fields that est versions after the first added: checkpoints written before them lack
/// them, and such a field then keeps its default. Every other field must be present.
template <class Config, class Visit>
void visit_fields(Config& c, Visit&& visit) {
  visit("preset", c.preset, false);
  visit("schedule", c.schedule, false);
  visit("steps", c.steps, false);
  visit("batch", c.batch, false);
  visit("seq", c.seq, false);
  visit("micro_batches", c.micro_batches, false);
  visit("lr", c.lr, false);
  visit("min_lr", c.min_lr, false);
  visit("warmup", c.warmup, false);
  visit("grad_clip", c.grad_clip, false);
  visit("weight_decay", c.weight_decay, false);
  visit("seed", c.seed, false);
  visit("eval_interval", c.eval_interval, false);
  visit("eval_batches", c.eval_batches, false);
  visit("data", c.data, false);
  visit("data_format", c.data_format, true);
  visit("val_data", c.val_data, false);
  visit("val_fraction", c.val_fraction, false);
  visit("tokenizer", c.tokenizer, false);
  visit("gpt2_dir", c.gpt2_dir, false);
  visit("tokenizer_file", c.tokenizer_file, true);
  visit("init_from", c.init_from, true);
  visit("stage1", c.stage1, false);
  visit("stage2", c.stage2, false);
  visit("stage1_end", c.stage1_end, false);
  visit("stage2_end", c.stage2_end, false);
  visit("granularity", c.granularity, false);
  visit("head_sampling", c.head_sampling, true);
  visit("sampling", c.sampling, true);
  visit("importance_share", c.importance_share, true);
  visit("importance_decay", c.importance_decay, true);
  visit("inactive", c.inactive, false);
  visit("pin_layers", c.pin_layers, true);
  visit("layer_draw", c.layer_draw, true);
  visit("rescale_layers", c.rescale_layers, true);
  visit("lr_schedule", c.lr_schedule, true);
  visit("decay_start", c.decay_start, true);
  visit("rewarm", c.rewarm, true);
  visit("threads", c.threads, false);
}

inline void to_json(nlohmann::json& j, const RunConfig& c) {
  j = nlohmann::json::object();
  visit_fields(c, [&](const char* name, const auto& value, bool) { j[name] = value; });
}

namespace detail {

/// `j` as T, or value_error naming `name`: integers must be integers of T's range (a stored
/// 1e30 is refused, not converted), numbers finite, strings strings.
template <class T>
T field_value(const nlohmann::json& j, const char* name) {
  auto wrong = [&](const char* expected) {
    est::fail<est::value_error>("\"", name, "\" is ", est::detail::json_excerpt(j), ", expected ",
                                expected);
  };
  if constexpr (std::is_same_v<T, std::string>) {
    if (!j.is_string()) wrong("a string");
    return j.get<std::string>();
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!j.is_boolean()) wrong("true or false");
    return j.get<bool>();
  } else if constexpr (std::is_integral_v<T>) {
    if (!j.is_number_integer()) wrong("an integer");
    if (j.is_number_unsigned()) {
      if (j.get<std::uint64_t>() > std::uint64_t(std::numeric_limits<T>::max())) wrong("a smaller integer");
      return static_cast<T>(j.get<std::uint64_t>());
    }
    const auto v = j.get<std::int64_t>();
    if (v < std::int64_t(std::numeric_limits<T>::min()) ||
        (std::is_signed_v<T> && v > std::int64_t(std::numeric_limits<T>::max()))) {
      wrong(std::is_signed_v<T> ? "an integer in the field's range" : "a non-negative integer");
    }
    return static_cast<T>(v);
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!j.is_number() || !std::isfinite(j.get<double>())) wrong("a finite number");
    return j.get<T>();
  } else {  // std::array<double, N>
    if (!j.is_array() || j.size() != std::tuple_size_v<T>) wrong("a list of numbers of the right length");
    T out{};
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = field_value<double>(j[i], name);
    return out;
  }
}

}  // namespace detail

/// Reads a stored run configuration: every field present (or added later, see visit_fields) and
/// of its type; throws value_error naming the first field that is not.
inline void from_json(const nlohmann::json& j, RunConfig& c) {
  est::require<est::value_error>(j.is_object(), "the run configuration is a JSON ", j.type_name(),
                                 ", not an object");
  visit_fields(c, [&](const char* name, auto& value, bool added_later) {
    if (!j.contains(name)) {
      est::require<est::value_error>(added_later, "\"", name, "\" is missing");
      return;
    }
    value = detail::field_value<std::remove_cvref_t<decltype(value)>>(j.at(name), name);
  });
}

/// Throws value_error naming the option (its flag) whose value is outside what est-train can
/// run: the same checks for flags given now and for a configuration read back from state.json.
inline void check_run_config(const RunConfig& c) {
  auto in = [](const char* flag, auto value, auto lo, auto hi) {
    est::require<est::value_error>(value >= lo && value <= hi, flag, " ", value,
                                   " is outside [", lo, ", ", hi, "]");
  };
  in("--steps", c.steps, 1, std::int64_t(1'000'000'000'000));
  in("--batch", c.batch, 1, std::int64_t(1) << 20);
  in("--seq", c.seq, 0, std::int64_t(1) << 24);
  in("--micro-batches", c.micro_batches, 1, 1 << 16);
  in("--lr", c.lr, 1e-12, 1e3);
  in("--min-lr", c.min_lr, 0.0, 1e3);
  in("--warmup", c.warmup, -1, std::int64_t(1'000'000'000'000));
  in("--grad-clip", c.grad_clip, 0.0, 1e12);
  in("--weight-decay", c.weight_decay, 0.0, 1e3);
  in("--eval-interval", c.eval_interval, 0, std::int64_t(1'000'000'000'000));
  in("--eval-batches", c.eval_batches, 1, std::int64_t(1) << 20);
  in("--val-fraction", c.val_fraction, 0.001, 0.5);
  for (const double r : c.stage1) in("--stage1", r, 1e-9, 1.0);
  for (const double r : c.stage2) in("--stage2", r, 1e-9, 1.0);
  in("--stage1-end", c.stage1_end, 0.0, 1.0);
  in("--stage2-end", c.stage2_end, c.stage1_end, 1.0);
  in("--granularity", c.granularity, 1, 1 << 20);
  in("--importance-share", c.importance_share, 1e-9, 1.0);
  in("--importance-decay", c.importance_decay, 0.0, 0.999999);
  in("--threads", c.threads, 0, 4096);
  in("--decay-start", c.decay_start, 0.0, 1.0);
  in("--rewarm", c.rewarm, std::int64_t(0), c.steps);
  auto one_of = [](const char* flag, const std::string& value,
                   std::initializer_list<const char*> allowed) {
    std::string names;
    for (const char* a : allowed) {
      if (value == a) return;
      names += names.empty() ? a : std::string(", ") + a;
    }
    est::fail<est::value_error>(flag, ": expected one of ", names, ", got '", value, "'");
  };
  one_of("--inactive", c.inactive, {"frozen", "zero-grad", "mixed"});
  one_of("--pin-layers", c.pin_layers, {"none", "first", "last", "both"});
  one_of("--layer-draw", c.layer_draw, {"exact", "bernoulli"});
  one_of("--lr-schedule", c.lr_schedule, {"cosine", "wsd"});
}

class SamplingRegistry;  // sampling.hpp

struct Invocation {
  std::string checkpoint_dir;        // empty: no checkpoints
  std::int64_t checkpoint_interval = 0;  // 0: only at the end
  int keep_checkpoints = 3;
  bool resume = false;
  std::int64_t stop_after = 0;       // stop (with a checkpoint) after this many steps; 0: never
  std::string metrics;               // JSON lines, one per step
  std::string plot;                  // PNG of val loss against FLOPs and wall-clock
  int sample_tokens = 200;
  std::string prompt = "The ";
  bool quiet = false;
  bool append_metrics = false;       // add to --metrics instead of starting it (second run)
  std::shared_ptr<const SamplingRegistry> samplers;  // the --sampling names; null: est-train's own
  est::Communicator* world = nullptr;  // the ranks of an mpirun launch; null: one process
  /// Rank 0 (or the only process) prints, writes metrics and checkpoints.
  [[nodiscard]] bool leader() const noexcept { return world == nullptr || world->rank() == 0; }
  /// Ranks of the run (1 without a launcher).
  [[nodiscard]] int ranks() const noexcept { return world == nullptr ? 1 : world->size(); }
};

}  // namespace est_train
