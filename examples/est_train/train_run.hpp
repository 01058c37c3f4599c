#pragma once
// One training run of est-train: the model of a preset, trained by est::Trainer under the
// baseline or the EST schedule, with progress, evaluation, metrics, checkpoints and a sample.

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include <est/io/atomic_file.hpp>
#include <est/models/generate.hpp>
#include <est/models/hf_checkpoint.hpp>
#include <est/models/gpt2/model.hpp>
#include <est/models/llama/model.hpp>
#include <est/subnet/schedule.hpp>
#include <est/train/checkpoint.hpp>
#include <est/train/trainer.hpp>

#include "data.hpp"
#include "progress.hpp"
#include "run_config.hpp"
#include "sampling.hpp"

namespace est_train {

struct ValPoint {
  std::int64_t step = 0;      // steps done
  double flops = 0;           // cumulative training FLOPs
  double seconds = 0;         // cumulative training wall-clock
  double loss = 0;
};
// JSON has no NaN: a non-finite loss is stored as null and read back as NaN.
inline void to_json(nlohmann::json& j, const ValPoint& p) {
  j = {{"step", p.step}, {"flops", p.flops}, {"seconds", p.seconds},
       {"loss", std::isfinite(p.loss) ? nlohmann::json(p.loss) : nlohmann::json(nullptr)}};
}
inline void from_json(const nlohmann::json& j, ValPoint& p) {
  p.step = j.at("step").get<std::int64_t>();
  p.flops = j.at("flops").get<double>();
  p.seconds = j.at("seconds").get<double>();
  p.loss = j.at("loss").is_null() ? NAN : j.at("loss").get<double>();
}

struct RunResult {
  std::string label;
  std::int64_t steps = 0;
  double train_loss = 0;      // mean over the last steps
  double val_loss = 0;
  double flops = 0, full_flops = 0;
  double seconds = 0;         // training wall-clock (evaluation and checkpoints excluded)
  std::int64_t skipped = 0;   // non-finite steps
  std::vector<ValPoint> curve;
  std::string sample;
  bool stopped = false;       // stopped early by --stop-after
};

/// The growth schedule of a run: the full model from step 0 for the baseline.
inline est::growth::ThreeStage growth_of(const RunConfig& run) {
  if (run.schedule == "baseline") {
    return est::growth::ThreeStage({.end_of_stage1 = est::Boundary::step(0),
                                    .end_of_stage2 = est::Boundary::step(0)},
                                   run.steps);
  }
  est::require<est::value_error>(run.schedule == "est", "--schedule: expected baseline, est or "
                                 "compare, got '", run.schedule, "'");
  return est::growth::ThreeStage(
      {.stage1 = {run.stage1[0], run.stage1[1], run.stage1[2]},
       .stage2_heads = run.stage2[0],
       .stage2_neurons = run.stage2[1],
       .end_of_stage1 = est::Boundary::fraction(run.stage1_end),
       .end_of_stage2 = est::Boundary::fraction(run.stage2_end)},
      run.steps);
}

/// The sampling policy of a run (heads drawn in groups of `head_group`), from the policies the
/// program registered (est-train's own when it registered none).
inline RunSampling sampling_of(const RunConfig& run, const Invocation& inv, int head_group) {
  if (inv.samplers) return inv.samplers->make(run, head_group);
  return SamplingRegistry::builtin().make(run, head_group);
}

inline est::InactiveParameters inactive_of(const RunConfig& run) {
  if (run.inactive == "frozen") return est::InactiveParameters::frozen;
  if (run.inactive == "mixed") return est::InactiveParameters::mixed;
  est::require<est::value_error>(run.inactive == "zero-grad", "--inactive: expected frozen, "
                                 "zero-grad or mixed, got '", run.inactive, "'");
  return est::InactiveParameters::zero_grad;
}

/// The learning-rate schedule of a run, chosen at run time (one Trainer type for every choice).
class RunLr {
 public:
  explicit RunLr(std::function<double(std::int64_t)> at) : at_(std::move(at)) {}
  /// The rate of `step`.
  [[nodiscard]] double at(std::int64_t step) const { return at_(step); }

 private:
  std::function<double(std::int64_t)> at_;
};

/// --lr-schedule (cosine or wsd) with --warmup, --min-lr and --decay-start, and for an EST run
/// with --rewarm a second warmup where `growth`'s full-model stage starts.
inline RunLr lr_of(const RunConfig& run, const est::growth::ThreeStage& growth) {
  const std::int64_t warmup = run.warmup >= 0 ? run.warmup : run.steps / 15;
  RunLr base([](std::int64_t) { return 0.0; });
  if (run.lr_schedule == "wsd") {
    const est::lr::WarmupStableDecay wsd(run.lr, run.min_lr, warmup,
                                         std::llround(run.decay_start * double(run.steps)),
                                         run.steps);
    base = RunLr([wsd](std::int64_t step) { return wsd.at(step); });
  } else {
    est::require<est::value_error>(run.lr_schedule == "cosine", "--lr-schedule: expected cosine "
                                   "or wsd, got '", run.lr_schedule, "'");
    const est::lr::WarmupCosine cosine(run.lr, run.min_lr, warmup, run.steps);
    base = RunLr([cosine](std::int64_t step) { return cosine.at(step); });
  }
  if (run.rewarm == 0 || run.schedule != "est") return base;
  const est::lr::Rewarm<RunLr> rewarm(std::move(base), growth.end_of_stage2(), run.rewarm);
  return RunLr([rewarm](std::int64_t step) { return rewarm.at(step); });
}

/// What the newest checkpoint of a directory stores about its run: the configuration and the
/// checkpoint settings it was running with (which a resume keeps unless told otherwise).
struct StoredRun {
  RunConfig config;
  std::optional<std::int64_t> checkpoint_interval;  // absent in checkpoints of older versions
  std::optional<int> keep_checkpoints;
};

/// The run stored in the newest checkpoint of `dir`, or nullopt when there is none. Throws
/// io_error naming state.json and the field when it is malformed or out of range.
inline std::optional<StoredRun> stored_run(const std::filesystem::path& dir) {
  const auto latest = est::latest_checkpoint(dir);
  if (!latest) return std::nullopt;
  const auto file = *latest / "state.json";
  const nlohmann::json state = est::read_json_file(file, "checkpoint state");
  StoredRun out;
  try {
    out.config = state.at("run").at("config").get<RunConfig>();
    check_run_config(out.config);
    if (state.at("run").contains("checkpointing")) {
      const auto& c = state["run"]["checkpointing"];
      out.checkpoint_interval = detail::field_value<std::int64_t>(c.at("interval"), "interval");
      out.keep_checkpoints = detail::field_value<int>(c.at("keep"), "keep");
      est::require<est::value_error>(*out.checkpoint_interval >= 0 && *out.keep_checkpoints >= 0,
                                     "checkpoint interval and keep must be >= 0");
    }
  } catch (const nlohmann::json::exception& e) {
    est::fail<est::io_error>(file.string(), ": missing or malformed run configuration: ", e.what());
  } catch (const est::value_error& e) {
    est::fail<est::io_error>(file.string(), ": run configuration: ", e.what());
  }
  return out;
}

/// Before a new run: creates the checkpoint directory, refuses one that already holds a run's
/// checkpoints (resume it, or choose another directory). Whether it can take a checkpoint is
/// proved when the run starts (probe_checkpoint_space), for new and resumed runs alike.
inline void prepare_checkpoint_dir(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  est::require<est::io_error>(!ec && fs::is_directory(dir), "--checkpoint-dir: cannot create '",
                              dir.string(), "': ", ec ? ec.message() : "not a directory");
  for (const fs::path& d : {dir, dir / "baseline", dir / "est"}) {
    est::require<est::io_error>(!est::latest_checkpoint(d), "--checkpoint-dir: '", d.string(),
                                "' already holds checkpoints; continue that run with --resume, "
                                "or choose another directory");
  }
}

/// Proves, before training, that `dir` can take a checkpoint of about `bytes`: a probe file
/// gets that much space reserved (posix_fallocate: a full disk or quota shows now, not at the
/// first save after hours of training) and is removed again.
inline void probe_checkpoint_space(const std::filesystem::path& dir, std::uint64_t bytes) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);  // (a comparison's baseline/ and est/)
  const std::filesystem::path probe = dir / ".est-train-space-probe";
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  const int open_errno = errno;
  est::require<est::io_error>(fd >= 0, "--checkpoint-dir: cannot write to '", dir.string(),
                              "': ", std::strerror(open_errno));
  const int err = ::posix_fallocate(fd, 0, static_cast<off_t>(bytes));
  ::close(fd);
  std::filesystem::remove(probe, ec);
  est::require<est::io_error>(err == 0, "--checkpoint-dir: '", dir.string(), "' cannot take a ",
                              "checkpoint of ", bytes / 1000000.0, " MB: ", std::strerror(err));
}

/// Removes from a metrics file the lines of run `label` at step >= `from`.
inline void drop_metrics_from(const std::string& path, const std::string& label, std::int64_t from) {
  std::ifstream in(path);
  if (!in) return;
  std::string kept, line;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    const bool drop = !j.is_discarded() && j.value("run", "") == label &&
                      j.value("step", std::int64_t(-1)) >= from;
    if (!drop) kept += line + '\n';
  }
  in.close();
  est::write_file_atomically(path, std::as_bytes(std::span<const char>(kept.data(), kept.size())));
}

template <auto Config>
constexpr bool is_llama = std::is_same_v<std::remove_cv_t<decltype(Config)>, est::LlamaConfig>;

/// The model type of a preset's configuration.
template <auto Config>
auto model_type() {
  if constexpr (is_llama<Config>) {
    return std::type_identity<est::Llama<Config>>{};
  } else {
    return std::type_identity<est::Gpt2<Config>>{};
  }
}
template <auto Config>
using ModelOf = typename decltype(model_type<Config>())::type;

/// Query heads drawn together by --head-sampling: 1 (heads one by one) or a Llama's group size.
template <auto Config>
int head_group_of(const RunConfig& run) {
  if (run.head_sampling == "heads") return 1;
  est::require<est::value_error>(run.head_sampling == "kv-groups", "--head-sampling: expected "
                                 "heads or kv-groups, got '", run.head_sampling, "'");
  if constexpr (is_llama<Config>) {
    return Config.group_size();
  } else {
    est::fail<est::value_error>("--head-sampling kv-groups needs a Llama preset (GPT-2 has no "
                                "key/value groups)");
  }
}

/// One line of --metrics: what step `r` did, and the run's totals after it (val_loss when the
/// step ended with an evaluation). JSON has no NaN: a non-finite value is null.
inline nlohmann::json metrics_line(const std::string& label, const est::StepReport& r,
                                   const est::FlopsMeter& flops, double elapsed,
                                   std::optional<double> val_loss) {
  nlohmann::json line = {{"run", label}, {"step", r.step}, {"loss", r.loss}, {"lr", r.lr},
                         {"grad_norm", r.grad_norm}, {"skipped", r.skipped},
                         {"active_layers", r.active_layers}, {"active_heads", r.active_heads},
                         {"active_neurons", r.active_neurons},
                         {"flops", r.flops.total()}, {"full_flops", r.full_flops.total()},
                         {"cumulative_flops", flops.total()},
                         {"cumulative_full_flops", flops.total_full()},
                         {"seconds", r.seconds}, {"elapsed", elapsed},
                         {"reduced_bytes", r.reduced_bytes},
                         {"reduce_seconds", r.reduce_seconds}};
  if (val_loss) line["val_loss"] = *val_loss;
  if (!std::isfinite(r.loss)) line["loss"] = nullptr;
  if (!std::isfinite(r.grad_norm)) line["grad_norm"] = nullptr;
  return line;
}

/// The totals of a finished (or stopped) run: steps, mean of the recent training losses, the
/// last validation loss, FLOPs and skipped steps.
template <class Trainer>
void summarise(RunResult& result, const Trainer& trainer, const std::vector<double>& recent) {
  result.steps = trainer.steps_done();
  result.train_loss = recent.empty() ? NAN : 0.0;
  for (double l : recent) result.train_loss += l / double(recent.size());
  result.val_loss = result.curve.empty() ? NAN : result.curve.back().loss;
  result.flops = trainer.flops().total();
  result.full_flops = trainer.flops().total_full();
  result.skipped = trainer.non_finite_steps();
}

/// Trains `run`, resuming from the newest checkpoint of `checkpoint_dir` when inv.resume (the
/// caller passes the configuration stored there).
template <auto Config>
RunResult train_run(RunConfig run, const Invocation& inv, const std::string& label,
                    const std::filesystem::path& checkpoint_dir) {
  namespace fs = std::filesystem;
  std::optional<fs::path> resume_from;
  if (inv.resume) {
    resume_from = est::latest_checkpoint(checkpoint_dir);
    est::require<est::io_error>(resume_from.has_value(), "--resume: no complete checkpoint in '",
                                checkpoint_dir.string(), "'");
  }
  if (run.seq == 0) run.seq = Config.context;
  est::require<est::value_error>(run.seq >= 1 && run.seq <= Config.context, "--seq ", run.seq,
                                 " must be in [1, ", Config.context, "] (the preset's context)");
  const Tokenizer tokenizer(run);
  est::require<est::value_error>(tokenizer.vocab_size() <= Config.vocab, "the ", run.tokenizer,
                                 " tokenizer's ", tokenizer.vocab_size(),
                                 " tokens do not fit preset '", run.preset, "' (vocabulary ",
                                 Config.vocab, ")");
  const Dataset data = load_dataset(run, tokenizer);
  const est::BatchSampler<Tokens> train(*data.train, data.train_range, run.batch, run.seq,
                                        run.seed, data.name + " (training split)");
  const est::BatchSampler<Tokens> val(
      data.val_source(), data.val_range, run.batch, run.seq, run.seed,
      run.val_data.empty() ? data.name + " (validation split)" : run.val_data);

  // Ranks on one host share its cores.
  const int local_ranks = inv.world ? inv.world->local_size() : 1;
  const est::Context<est::cpu> ctx(
      run.threads > 0 ? run.threads
                      : std::max(1, est::Context<est::cpu>::default_threads() / local_ranks));
  ModelOf<Config> model(ctx, run.seed);
  if (!resume_from && !run.init_from.empty()) {
    // Weights only: the optimizer, the step and the schedules start afresh.
    est::HfCheckpointInfo loaded;
    try {
      loaded = est::load_hf_checkpoint(run.init_from, model);
    } catch (const est::io_error& e) {
      est::fail<est::io_error>("--init-from: ", e.what());
    }
    if (!inv.quiet) {
      std::printf("[%s] weights from %s (%zu file%s; %s)\n", label.c_str(),
                  loaded.weights.c_str(), loaded.files, loaded.files == 1 ? "" : "s",
                  loaded.config_checked ? "config.json matches the preset"
                                        : "no config.json: only tensor names and shapes checked");
    }
  }
  const est::growth::ThreeStage growth = growth_of(run);
  est::SubnetworkSchedule subnetworks(est::subnetwork_shape(Config),
                                      sampling_of(run, inv, head_group_of<Config>(run)), growth);
  est::Trainer trainer(model, ctx, std::move(subnetworks), lr_of(run, growth), train, val,
                       {.micro_batches = run.micro_batches,
                        .grad_clip = run.grad_clip,
                        .eval_batches = run.eval_batches},
                       {.weight_decay = run.weight_decay, .inactive = inactive_of(run)});
  // [set-communicator]
  if (inv.ranks() > 1) trainer.set_communicator(*inv.world);
  // [set-communicator]

  RunResult result;
  result.label = label;
  std::vector<double> recent;  // finite training losses of the last steps
  if (resume_from) {
    const nlohmann::json stored = est::load_checkpoint(*resume_from, trainer);
    try {
      result.seconds = stored.at("seconds").get<double>();
      result.curve = stored.at("curve").get<std::vector<ValPoint>>();
      recent = stored.at("recent").get<std::vector<double>>();
    } catch (const nlohmann::json::exception& e) {
      est::fail<est::io_error>((*resume_from / "state.json").string(),
                               ": missing or malformed run progress: ", e.what());
    }
    est::require<est::io_error>(trainer.steps_done() <= run.steps, (*resume_from / "state.json").string(),
                                ": step ", trainer.steps_done(), " is past the run's --steps ",
                                run.steps);
    if (!inv.quiet) {
      std::printf("[%s] resumed from %s at step %lld\n", label.c_str(), resume_from->c_str(),
                  static_cast<long long>(trainer.steps_done()));
    }
  }
  if (!inv.quiet) {
    std::string heads = std::to_string(Config.heads) + " heads";
    if constexpr (is_llama<Config>) {
      heads += " (" + std::to_string(Config.kv_heads) + " key/value)";
    }
    const std::string ranks =
        inv.ranks() > 1 ? std::to_string(inv.ranks()) + " ranks x " : std::string();
    std::printf("[%s] %s: %d layers, %s, width %d, %.1fM parameters | %s, %lld tokens | "
                "batch %lld x %lld x %d | %s%d thread%s%s\n",
                label.c_str(), run.preset.c_str(), Config.layers, heads.c_str(), Config.width,
                double(Config.parameter_count()) / 1e6, data.name.c_str(),
                static_cast<long long>(data.train->size()), static_cast<long long>(run.batch),
                static_cast<long long>(run.seq), run.micro_batches, ranks.c_str(), ctx.threads(),
                ctx.threads() == 1 ? "" : "s",
                run.schedule == "est" ? (" | sampling " + run.sampling).c_str() : "");
  }

  if (!checkpoint_dir.empty() && inv.leader()) {
    // Weights, two moments and (frozen mode) per-element step counts, plus the small files.
    const auto params = std::uint64_t(Config.parameter_count());
    probe_checkpoint_space(checkpoint_dir,
                           params * (3 * sizeof(float) + sizeof(std::int32_t)) + (1u << 20));
  }
  std::ofstream metrics;
  if (!inv.metrics.empty() && inv.leader()) {
    // A resumed run first drops its own lines from the checkpoint's step on (steps that ran
    // after the checkpoint and run again now).
    if (resume_from) drop_metrics_from(inv.metrics, label, trainer.steps_done());
    metrics.open(inv.metrics, resume_from || inv.append_metrics ? std::ios::app : std::ios::trunc);
    est::require<est::io_error>(static_cast<bool>(metrics), "--metrics: cannot write '",
                                inv.metrics, "'");
  }
  auto save = [&] {
    if (checkpoint_dir.empty()) return;
    // [rank-0-saves]
    // Ranks hold the same weights (checked here, every rank); rank 0 writes them.
    trainer.check_replicas();
    if (!inv.leader()) return;
    // [rank-0-saves]
    est::save_checkpoint(checkpoint_dir, trainer,
                         {{"config", run}, {"seconds", result.seconds}, {"curve", result.curve},
                          {"recent", recent},
                          {"checkpointing", {{"interval", inv.checkpoint_interval},
                                             {"keep", inv.keep_checkpoints}}}},
                         inv.keep_checkpoints);
  };
  auto evaluate = [&] {
    const double loss = trainer.evaluate();
    result.curve.push_back({trainer.steps_done(), trainer.flops().total(), result.seconds, loss});
    return loss;
  };

  Progress progress(label, trainer.steps_done(), run.steps,
                    run.batch * run.seq * run.micro_batches, inv.quiet);
  if (trainer.steps_done() == 0) evaluate();
  while (trainer.steps_done() < run.steps) {
    const est::StepReport r = trainer.step();
    result.seconds += r.seconds;
    if (!r.skipped) {
      recent.push_back(r.loss);
      if (recent.size() > 20) recent.erase(recent.begin());
    }
    const std::int64_t done = trainer.steps_done();
    const bool eval_now = done == run.steps || (run.eval_interval > 0 && done % run.eval_interval == 0);
    const double val_loss = eval_now ? evaluate() : NAN;
    progress.update(r, trainer.flops(), result.seconds, val_loss);
    if (metrics.is_open()) {
      const auto evaluated = eval_now ? std::optional<double>(val_loss) : std::nullopt;
      metrics << metrics_line(label, r, trainer.flops(), result.seconds, evaluated).dump()
              << '\n' << std::flush;
      est::require<est::io_error>(static_cast<bool>(metrics), "--metrics: writing '",
                                  inv.metrics, "' failed (is the disk full?)");
    }
    const bool interval = inv.checkpoint_interval > 0 && done % inv.checkpoint_interval == 0;
    if (inv.stop_after > 0 && done >= inv.stop_after && done < run.steps) {
      save();
      result.stopped = true;
      break;
    }
    if (interval || done == run.steps) save();
  }
  progress.finish();
  // Nobody finishes while rank 0 may still fail to write the last checkpoint.
  if (inv.world) inv.world->barrier();

  summarise(result, trainer, recent);
  if (!result.stopped && inv.sample_tokens > 0 && inv.leader()) {
    const auto prompt = tokenizer.encode(inv.prompt);
    if (!prompt.empty()) {
      const auto ids = est::generate(model, prompt, inv.sample_tokens,
                                     {.temperature = 0.8, .top_k = 40, .seed = run.seed,
                                      .vocab = tokenizer.vocab_size()});
      result.sample = tokenizer.decode(ids);
    }
  }
  return result;
}

}  // namespace est_train
