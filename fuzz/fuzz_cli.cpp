// est-train's command line: NUL-separated arguments through every option's parsing and checks,
// then the run configuration's range checks.

#include "est_train/cli.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto parts = est_fuzz::split(data, size, 64);
  std::vector<std::string> args{"est-train"};
  for (const auto p : parts) args.emplace_back(p);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  CLI::App app{"est-train"};
  est_train::RunConfig run;
  est_train::Invocation inv;
  std::vector<double> stage1, stage2;
  std::vector<CLI::Option*> run_options;
  est_train::add_options(app, run, inv, stage1, stage2, run_options);
  try {
    app.parse(int(argv.size()), argv.data());
    est_train::check_run_config(run);
  } catch (const CLI::Error&) {
  } catch (const est::error&) {
  }
  return 0;
}
