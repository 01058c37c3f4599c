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

#if defined(EST_TRAIN_WITH_MPI)
#include <est/dist/mpi.hpp>
#endif

#include "cli.hpp"
#include "presets.hpp"
#include "report.hpp"
#include "run_config.hpp"
#include "train_run.hpp"

namespace est_train {

namespace detail {

/// " (rank r of N)" in a world of several processes, "" otherwise.
inline std::string rank_tag(const est::Communicator* world) {
  if (world == nullptr || world->size() == 1) return "";
  return " (rank " + std::to_string(world->rank()) + " of " + std::to_string(world->size()) + ")";
}

inline int run_program(int argc, char** argv, std::shared_ptr<const SamplingRegistry> samplers,
                est::Communicator* world);

inline RunResult run_one(const RunConfig& run, const Invocation& inv, const std::string& label,
                  const std::filesystem::path& checkpoint_dir) {
  return with_preset(run.preset, [&]<auto Config>() {
    return train_run<Config>(run, inv, label, checkpoint_dir);
  });
}

}  // namespace detail

/// Runs est-train with `argv` and returns its exit status (0: success). `samplers` are the
/// --sampling policies it offers (null: est-train's own, SamplingRegistry::builtin()).
///
/// Started by an MPI launcher (`mpirun -np N est-train ...`, in a build with MPI), the N
/// processes train one run data-parallel: each takes its share of every batch, rank 0 prints,
/// writes metrics and checkpoints, and an error on any rank stops them all.
inline int run_program(int argc, char** argv,
                       std::shared_ptr<const SamplingRegistry> samplers = nullptr) {
#if defined(EST_TRAIN_WITH_MPI)
  // [mpi-world]
  std::unique_ptr<est::MpiCommunicator> world;
  try {
    world = est::MpiCommunicator::from_launcher(argc, argv);  // null without a launcher
  } catch (const est::error& e) {
    std::fprintf(stderr, "est-train: %s\n", e.what());
    return 1;
  }
  const int status = detail::run_program(argc, argv, std::move(samplers), world.get());
  if (status != 0 && world && world->size() > 1) world->abort(status);  // stops every rank
  return status;
  // [mpi-world]
#else
  if (est::launched_as_one_of_several()) {
    std::fprintf(stderr, "est-train: started by an MPI launcher as one of several processes, "
                 "but this est-train was built without MPI (install Open MPI's development "
                 "files, e.g. Debian's libopenmpi-dev, and rebuild); refusing to train the same "
                 "run several times side by side\n");
    return 1;
  }
  return detail::run_program(argc, argv, std::move(samplers), nullptr);
#endif
}

namespace detail {

/// run_program() in a world of processes (null: one process).
inline int run_program(int argc, char** argv, std::shared_ptr<const SamplingRegistry> samplers,
                       est::Communicator* world) {
  CLI::App app{"est-train: train a GPT-2 or Llama model with or without evolving subnetwork "
               "training. With no options: the baseline and EST on the default corpus, compared."};
  RunConfig run;
  run.schedule = "compare";
  Invocation inv;
  inv.samplers = std::move(samplers);
  inv.world = world;
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
  const bool leader = inv.leader();
  if (!leader) inv.quiet = true;  // rank 0 speaks for the run
  // What only rank 0 prints.
  auto summary = [&](const RunResult& r) {
    if (leader) print_summary(r);
  };

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
        if (leader) {
          std::printf("est-train --dry-run: the options are valid (--resume from '%s')\n",
                      dir.c_str());
        }
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
        summary(results.back());
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
          summary(results.back());
          if (results.back().stopped) return 0;
        }
        if (leader) print_comparison(results[0], results[1]);
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
        if (leader) {
          std::printf("est-train --dry-run: the options are valid (%s, preset %s, %lld steps)\n",
                      run.schedule.c_str(), run.preset.c_str(), static_cast<long long>(run.steps));
        }
        return 0;
      }
      if (!dir.empty() && leader) prepare_checkpoint_dir(dir);
      if (run.schedule == "compare") {
        for (const char* schedule : {"baseline", "est"}) {
          RunConfig one = run;
          one.schedule = schedule;
          Invocation this_inv = inv;
          this_inv.append_metrics = results.size() == 1;
          results.push_back(run_one(one, this_inv, schedule, dir.empty() ? dir : dir / schedule));
          summary(results.back());
          if (results.back().stopped) return 0;
        }
        if (leader) print_comparison(results[0], results[1]);
      } else {
        results.push_back(run_one(run, inv, run.schedule, dir));
        summary(results.back());
      }
    }
    if (!inv.plot.empty() && leader && !plot(inv.plot, results)) return 1;
    return 0;
  } catch (const est::error& e) {
    std::fprintf(stderr, "\nest-train%s: %s\n", rank_tag(world).c_str(), e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "\nest-train%s: unexpected error: %s\n", rank_tag(world).c_str(),
                 e.what());
    return 1;
  }
}

}  // namespace detail

}  // namespace est_train
