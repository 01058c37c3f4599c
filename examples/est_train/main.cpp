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

#include "cli.hpp"
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

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"est-train: train a GPT-2 or Llama model with or without evolving subnetwork "
               "training. With no options: the baseline and EST on the default corpus, compared."};
  RunConfig run;
  run.schedule = "compare";
  Invocation inv;
  std::vector<double> stage1, stage2;
  std::vector<CLI::Option*> run_options;
  est_train::add_options(app, run, inv, stage1, stage2, run_options);
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
