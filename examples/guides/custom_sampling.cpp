// est-train with one more sampling policy: `--sampling pinned-ends` (pinned_ends.hpp), next to
// est-train's own. The program of docs/manual/guides/custom-sampling.md; every option of
// est-train works as before (--help lists them, with pinned-ends among the policies).

// [program]
#include <memory>

#include "est_train/program.hpp"
#include "pinned_ends.hpp"

int main(int argc, char** argv) {
  auto samplers = std::make_shared<est_train::SamplingRegistry>(
      est_train::SamplingRegistry::builtin());
  samplers->add("pinned-ends", [](const est_train::RunConfig& run, int head_group) {
    return est_train::RunSampling(PinnedEnds(run.seed, run.granularity, head_group));
  });
  return est_train::run_program(argc, argv, samplers);
}
// [program]
