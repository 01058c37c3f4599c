#pragma once
// est-train as a function: the whole program (options, runs, report) behind run_program(), so
// that a program of your own can be est-train with sampling policies of its own registered
// (docs/manual/guides/custom-sampling.md). examples/est_train/main.cpp is est-train itself:
//
//   int main(int argc, char** argv) { return est_train::run_program(argc, argv); }

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli.hpp"
#include "presets.hpp"
#include "report.hpp"
#include "run_config.hpp"
#include "train_run.hpp"

namespace est_train {

namespace detail {

inline RunResult run_one(const RunConfig& run, const Invocation& inv, const std::string& label,
                  const std::filesystem::path& checkpoint_dir) {
  return with_preset(run.preset, [&]<auto Config>() {
    return train_run<Config>(run, inv, label, checkpoint_dir);
  });
}

}  // namespace detail

/// Runs est-train with `argv` and returns its exit status (0: success). `samplers` are the
/// --sampling policies it offers (null: est-train's own, SamplingRegistry::builtin()).
inline int run_program(int argc, char** argv,
                       std::shared_ptr<const SamplingRegistry> samplers = nullptr) {
  using detail::run_one;
  CLI::App app{"est-train: train a GPT-2 or Llama model with or without evolving subnetwork "
               "training. With no options: the baseline and EST on the default corpus, compared."};
  RunConfig run;
  run.schedule = "compare";
  Invocation inv;
  inv.samplers = std::move(samplers);
  std::vector<double> stage1, stage2;
  std::vector<CLI::Option*> run_options;
  add_options(app, run, inv, stage1, stage2, run_options);
  bool dry_run = false;
  app.add_flag("--dry-run", dry_run, "check the options and exit: nothing is read, trained or "
               "written (the data, checkpoints and outputs are not opened)");
  app.add_flag_callback("--list-presets", [] {
    std::printf("%s", preset_list().c_str());
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
      if (dry_run) {
        std::printf("est-train --dry-run: the options are valid (--resume from '%s')\n",
                    dir.c_str());
        return 0;
      }
      // The stored checkpoint settings continue unless given again now.
      auto with_stored = [&](Invocation one, const StoredRun& stored) {
        if (app.get_option("--checkpoint-interval")->count() == 0 && stored.checkpoint_interval) {
          one.checkpoint_interval = *stored.checkpoint_interval;
        }
        if (app.get_option("--keep")->count() == 0 && stored.keep_checkpoints) {
          one.keep_checkpoints = *stored.keep_checkpoints;
        }
        return one;
      };
      if (const auto stored = stored_run(dir)) {
        results.push_back(run_one(stored->config, with_stored(inv, *stored),
                                  stored->config.schedule, dir));
        print_summary(results.back());
      } else {
        // A comparison: the baseline's stored configuration defines both runs.
        const auto base = stored_run(dir / "baseline");
        if (!base) {
          std::string why = est::newest_checkpoint_problem(dir);
          if (why.empty()) why = est::newest_checkpoint_problem(dir / "baseline");
          est::fail<est::io_error>("--resume: no complete checkpoint in '", dir.string(),
                                   "' or in its baseline/ and est/ subdirectories",
                                   why.empty() ? "" : " (the newest: " + why + ")");
        }
        for (const char* schedule : {"baseline", "est"}) {
          const fs::path sub = dir / schedule;
          const auto own = stored_run(sub);
          RunConfig one = own ? own->config : base->config;
          one.schedule = schedule;
          Invocation this_inv = with_stored(inv, own ? *own : *base);
          this_inv.resume = own.has_value();
          this_inv.append_metrics = results.size() == 1;
          results.push_back(run_one(one, this_inv, schedule, sub));
          print_summary(results.back());
          if (results.back().stopped) return 0;
        }
        print_comparison(results[0], results[1]);
      }
    } else {
      if (!dry_run && !run.init_from.empty() && app.get_option("--preset")->count() == 0) {
        run.preset = preset_for_checkpoint(run.init_from);
      }
      if (stage1.size() == 3) run.stage1 = {stage1[0], stage1[1], stage1[2]};
      if (stage2.size() == 2) run.stage2 = {stage2[0], stage2[1]};
      check_run_config(run);
      est::require<est::value_error>(run.stage1_end <= run.stage2_end, "--stage1-end ",
                                     run.stage1_end, " is after --stage2-end ", run.stage2_end);
      if (dry_run) {
        std::printf("est-train --dry-run: the options are valid (%s, preset %s, %lld steps)\n",
                    run.schedule.c_str(), run.preset.c_str(), static_cast<long long>(run.steps));
        return 0;
      }
      if (!dir.empty()) prepare_checkpoint_dir(dir);
      if (run.schedule == "compare") {
        for (const char* schedule : {"baseline", "est"}) {
          RunConfig one = run;
          one.schedule = schedule;
          Invocation this_inv = inv;
          this_inv.append_metrics = results.size() == 1;
          results.push_back(run_one(one, this_inv, schedule, dir.empty() ? dir : dir / schedule));
          print_summary(results.back());
          if (results.back().stopped) return 0;
        }
        print_comparison(results[0], results[1]);
      } else {
        results.push_back(run_one(run, inv, run.schedule, dir));
        print_summary(results.back());
      }
    }
    if (!inv.plot.empty() && !plot(inv.plot, results)) return 1;
    return 0;
  } catch (const est::error& e) {
    std::fprintf(stderr, "\nest-train: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "\nest-train: unexpected error: %s\n", e.what());
    return 1;
  }
}

}  // namespace est_train
