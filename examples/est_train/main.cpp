// est-train: trains a GPT-2 or Llama model with or without evolving subnetwork training.
//
//   est-train                                 baseline and EST on the default corpus, compared
//   est-train --schedule est --data book.txt  one EST run on any text (or token file)
//   est-train --help                          every option
//
// With no arguments it trains the `mini` preset (3.3M parameters, byte-level) twice on the
// fortune-cookie corpus of Debian's `fortunes` package — once the full model at every step, once
// with EST's three-stage schedule — and prints the two side by side: final validation loss,
// training FLOPs and wall-clock time.

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "presets.hpp"
#include "report.hpp"
#include "run_config.hpp"
#include "train_run.hpp"

namespace {

using est_train::Invocation;
using est_train::RunConfig;
using est_train::RunResult;

RunResult run_one(const RunConfig& run, const Invocation& inv, const std::string& label,
                  const std::filesystem::path& checkpoint_dir) {
  return est_train::with_preset(run.preset, [&]<auto Config>() {
    return est_train::train_run<Config>(run, inv, label, checkpoint_dir);
  });
}

/// Adds every option; the ones that define the run (stored in checkpoints) go to `run_options`.
void add_options(CLI::App& app, RunConfig& run, Invocation& inv, std::vector<double>& stage1,
                 std::vector<double>& stage2, std::vector<CLI::Option*>& run_options) {
  auto add = [&](CLI::Option* o) {
    run_options.push_back(o);
    return o;
  };
  add(app.add_option("--preset", run.preset, "model preset (--list-presets)")
      ->check(CLI::IsMember(est_train::preset_names()))->capture_default_str());
  add(app.add_option("--schedule", run.schedule,
                 "baseline (full model), est (evolving subnetworks) or compare (both)")
      ->check(CLI::IsMember({"baseline", "est", "compare"}))->capture_default_str());
  add(app.add_option("--data", run.data,
                 std::string("training text (file or directory) or token file (.bin: llm.c "
                             "shard or raw uint16); default: ") + est_train::default_corpus));
  add(app.add_option("--data-format", run.data_format, "how to read --data and --val-data: auto "
                 "(.bin files are token files, anything else text), text, llmc (llm.c shard) or "
                 "uint16 (headerless stream)")
      ->check(CLI::IsMember({"auto", "text", "llmc", "uint16"}))->capture_default_str());
  add(app.add_option("--val-data", run.val_data, "validation token/text file (default: the last "
                 "--val-fraction of --data)"));
  add(app.add_option("--val-fraction", run.val_fraction, "held-out fraction of --data")
      ->check(CLI::Range(0.001, 0.5))->capture_default_str());
  add(app.add_option("--tokenizer", run.tokenizer, "byte, gpt2 (OpenAI's files, --gpt2-dir) or "
                 "hf (a Hugging Face tokenizer.json, --tokenizer-file)")
      ->check(CLI::IsMember({"byte", "gpt2", "hf"}))->capture_default_str());
  add(app.add_option("--tokenizer-file", run.tokenizer_file, "tokenizer.json for --tokenizer hf "
                 "(default: the one beside --init-from)")->check(CLI::ExistingFile));
  add(app.add_option("--gpt2-dir", run.gpt2_dir, "directory with GPT-2's encoder.json and vocab.bpe")
      ->check(CLI::ExistingDirectory));
  add(app.add_option("--init-from", run.init_from, "start from the weights of a Hugging Face "
                 "checkpoint: a directory (config.json with model.safetensors or a sharded "
                 "model.safetensors.index.json), a .safetensors file or an index; config.json "
                 "must match the preset, which it chooses when --preset is not given")
      ->check(CLI::ExistingPath));
  add(app.add_option("--steps", run.steps, "optimizer steps")->check(CLI::PositiveNumber)
      ->capture_default_str());
  add(app.add_option("--batch", run.batch, "sequences per micro-batch")->check(CLI::PositiveNumber)
      ->capture_default_str());
  add(app.add_option("--seq", run.seq, "tokens per sequence (default: the preset's context)")
      ->check(CLI::PositiveNumber));
  add(app.add_option("--micro-batches", run.micro_batches, "micro-batches per step (accumulation)")
      ->check(CLI::PositiveNumber)->capture_default_str());
  add(app.add_option("--lr", run.lr, "peak learning rate")->check(CLI::PositiveNumber)
      ->capture_default_str());
  add(app.add_option("--min-lr", run.min_lr, "final learning rate of the cosine decay")
      ->check(CLI::NonNegativeNumber)->capture_default_str());
  add(app.add_option("--warmup", run.warmup, "linear warmup steps (default: steps / 15)")
      ->check(CLI::NonNegativeNumber));
  add(app.add_option("--grad-clip", run.grad_clip, "global gradient-norm limit (0: off)")
      ->check(CLI::NonNegativeNumber)->capture_default_str());
  add(app.add_option("--weight-decay", run.weight_decay, "AdamW weight decay (matrices only)")
      ->check(CLI::NonNegativeNumber)->capture_default_str());
  add(app.add_option("--seed", run.seed, "seed of weights, batches and subnetworks")
      ->check(CLI::NonNegativeNumber)->capture_default_str());
  add(app.add_option("--threads", run.threads, "CPU threads (0: all cores)")
      ->check(CLI::NonNegativeNumber)->capture_default_str());
  add(app.add_option("--eval-interval", run.eval_interval, "steps between validation losses (0: end only)")
      ->check(CLI::NonNegativeNumber)->capture_default_str());
  add(app.add_option("--eval-batches", run.eval_batches, "validation batches per evaluation")
      ->check(CLI::PositiveNumber)->capture_default_str());
  add(app.add_option("--stage1", stage1, "EST stage 1 rates pL,pH,pM in (0, 1]")->delimiter(',')
      ->expected(3)->check(CLI::Range(1e-9, 1.0)));
  add(app.add_option("--stage2", stage2, "EST stage 2 rates pH,pM in (0, 1] (every layer)")
      ->delimiter(',')->expected(2)->check(CLI::Range(1e-9, 1.0)));
  add(app.add_option("--stage1-end", run.stage1_end, "end of stage 1, fraction of the run")
      ->check(CLI::Range(0.0, 1.0))->capture_default_str());
  add(app.add_option("--stage2-end", run.stage2_end, "end of stage 2, fraction of the run")
      ->check(CLI::Range(0.0, 1.0))->capture_default_str());
  add(app.add_option("--granularity", run.granularity, "round sampled neuron counts to a multiple")
      ->check(CLI::PositiveNumber)->capture_default_str());
  add(app.add_option("--head-sampling", run.head_sampling, "heads (query heads one by one) or "
                 "kv-groups (whole key/value groups; Llama presets)")
      ->check(CLI::IsMember({"heads", "kv-groups"}))->capture_default_str());
  add(app.add_option("--sampling", run.sampling, "uniform (the paper's) or importance (heads and "
                 "neurons by their running gradient magnitude, outputs scaled by 1/pi)")
      ->check(CLI::IsMember({"uniform", "importance"}))->capture_default_str());
  add(app.add_option("--importance-share", run.importance_share, "importance sampling: the "
                 "uniform share of every unit's weight, in (0, 1]")
      ->check(CLI::Range(1e-9, 1.0))->capture_default_str());
  add(app.add_option("--importance-decay", run.importance_decay, "importance sampling: decay of "
                 "the running gradient magnitudes, in [0, 1)")
      ->check(CLI::Range(0.0, 0.999999))->capture_default_str());
  add(app.add_option("--inactive", run.inactive, "optimizer treatment of parameters outside the "
                 "subnetwork: frozen or zero-grad")
      ->check(CLI::IsMember({"frozen", "zero-grad"}))->capture_default_str());
  app.add_option("--checkpoint-dir", inv.checkpoint_dir, "write checkpoints here (compare: one "
                 "subdirectory per run)");
  app.add_option("--checkpoint-interval", inv.checkpoint_interval, "steps between checkpoints "
                 "(0: at the end only)")->check(CLI::NonNegativeNumber);
  app.add_option("--keep", inv.keep_checkpoints, "checkpoints to keep (0: all)")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_flag("--resume", inv.resume, "continue from the newest checkpoint in --checkpoint-dir "
               "(with the configuration stored there)");
  app.add_option("--stop-after", inv.stop_after, "stop after this many steps, with a checkpoint")
      ->check(CLI::PositiveNumber);
  app.add_option("--metrics", inv.metrics, "write one JSON line per step to this file");
  app.add_option("--plot", inv.plot, "draw val loss vs FLOPs and vs time into this PNG (gnuplot)");
  app.add_option("--sample", inv.sample_tokens, "tokens to generate at the end (0: none)")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_option("--prompt", inv.prompt, "prompt of the sample")->capture_default_str();
  app.add_flag("--quiet", inv.quiet, "no progress output");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"est-train: train a GPT-2 or Llama model with or without evolving subnetwork "
               "training. With no options: the baseline and EST on the default corpus, compared."};
  RunConfig run;
  run.schedule = "compare";
  Invocation inv;
  std::vector<double> stage1, stage2;
  std::vector<CLI::Option*> run_options;
  add_options(app, run, inv, stage1, stage2, run_options);
  app.add_flag_callback("--list-presets", [] {
    std::printf("%s", est_train::preset_list().c_str());
    throw CLI::Success();
  }, "print the model presets and exit");
  CLI11_PARSE(app, argc, argv);

  try {
    namespace fs = std::filesystem;
    const fs::path dir = inv.checkpoint_dir;
    est::require<est::value_error>(inv.stop_after == 0 || !dir.empty(),
                                   "--stop-after needs --checkpoint-dir (to resume from)");
    std::vector<RunResult> results;
    if (inv.resume) {
      // A resumed run is the stored run: flags that would change it are refused, not ignored.
      est::require<est::value_error>(!dir.empty(), "--resume needs --checkpoint-dir");
      for (const CLI::Option* o : run_options) {
        est::require<est::value_error>(o->count() == 0, "--resume continues the run stored in '",
                                       dir.string(), "' with its own configuration; ",
                                       o->get_name(), " cannot be changed (start a new run in "
                                       "another directory instead)");
      }
      // The stored checkpoint settings continue unless given again now.
      auto with_stored = [&](Invocation one, const est_train::StoredRun& stored) {
        if (app.get_option("--checkpoint-interval")->count() == 0 && stored.checkpoint_interval) {
          one.checkpoint_interval = *stored.checkpoint_interval;
        }
        if (app.get_option("--keep")->count() == 0 && stored.keep_checkpoints) {
          one.keep_checkpoints = *stored.keep_checkpoints;
        }
        return one;
      };
      if (const auto stored = est_train::stored_run(dir)) {
        results.push_back(run_one(stored->config, with_stored(inv, *stored),
                                  stored->config.schedule, dir));
        est_train::print_summary(results.back());
      } else {
        // A comparison: the baseline's stored configuration defines both runs.
        const auto base = est_train::stored_run(dir / "baseline");
        if (!base) {
          std::string why = est::newest_checkpoint_problem(dir);
          if (why.empty()) why = est::newest_checkpoint_problem(dir / "baseline");
          est::fail<est::io_error>("--resume: no complete checkpoint in '", dir.string(),
                                   "' or in its baseline/ and est/ subdirectories",
                                   why.empty() ? "" : " (the newest: " + why + ")");
        }
        for (const char* schedule : {"baseline", "est"}) {
          const fs::path sub = dir / schedule;
          const auto own = est_train::stored_run(sub);
          RunConfig one = own ? own->config : base->config;
          one.schedule = schedule;
          Invocation this_inv = with_stored(inv, own ? *own : *base);
          this_inv.resume = own.has_value();
          this_inv.append_metrics = results.size() == 1;
          results.push_back(run_one(one, this_inv, schedule, sub));
          est_train::print_summary(results.back());
          if (results.back().stopped) return 0;
        }
        est_train::print_comparison(results[0], results[1]);
      }
    } else {
      if (!run.init_from.empty() && app.get_option("--preset")->count() == 0) {
        run.preset = est_train::preset_for_checkpoint(run.init_from);
      }
      if (stage1.size() == 3) run.stage1 = {stage1[0], stage1[1], stage1[2]};
      if (stage2.size() == 2) run.stage2 = {stage2[0], stage2[1]};
      est_train::check_run_config(run);
      est::require<est::value_error>(run.stage1_end <= run.stage2_end, "--stage1-end ",
                                     run.stage1_end, " is after --stage2-end ", run.stage2_end);
      if (!dir.empty()) est_train::prepare_checkpoint_dir(dir);
      if (run.schedule == "compare") {
        for (const char* schedule : {"baseline", "est"}) {
          RunConfig one = run;
          one.schedule = schedule;
          Invocation this_inv = inv;
          this_inv.append_metrics = results.size() == 1;
          results.push_back(run_one(one, this_inv, schedule, dir.empty() ? dir : dir / schedule));
          est_train::print_summary(results.back());
          if (results.back().stopped) return 0;
        }
        est_train::print_comparison(results[0], results[1]);
      } else {
        results.push_back(run_one(run, inv, run.schedule, dir));
        est_train::print_summary(results.back());
      }
    }
    if (!inv.plot.empty() && !est_train::plot(inv.plot, results)) return 1;
    return 0;
  } catch (const est::error& e) {
    std::fprintf(stderr, "\nest-train: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "\nest-train: unexpected error: %s\n", e.what());
    return 1;
  }
}
