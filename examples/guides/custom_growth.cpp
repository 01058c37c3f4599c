// Training with a growth policy of one's own (docs/manual/guides/growth-schedule.md): a
// byte-level GPT-2 on a text file under Staircase growth, through est::Trainer.
//   custom_growth FILE [STEPS]

#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>

#include <est/est.hpp>

#include "staircase.hpp"

namespace {
std::string to_string(const est::Rates& r) {
  std::ostringstream out;
  out << r;
  return out.str();
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s TEXT_FILE [STEPS]\n", argv[0]);
    return 2;
  }
  const std::int64_t steps = argc > 2 ? std::atoll(argv[2]) : 300;
  try {
    est::Context<est::cpu> ctx(2);
    constexpr est::Gpt2Config cfg = est::presets::gpt2_bytes;
    est::Gpt2<cfg> model(ctx, /*seed=*/1);
    const est::TokenBuffer tokens(est::ByteTokenizer().encode(est::read_text_corpus(argv[1])));
    const est::Index n = tokens.size(), n_val = n / 10;
    const est::BatchSampler train(tokens, {0, n - n_val}, 8, 64, 1, "training split");
    const est::BatchSampler val(tokens, {n - n_val, n_val}, 8, 64, 1, "validation split");
    // [trainer]
    // Four stairs from a quarter of everything, the full model for the last 40% of the run.
    const Staircase growth({0.25, 0.25, 0.25}, /*stairs=*/4, est::Boundary::fraction(0.6), steps);
    est::Trainer trainer(model, ctx,
                         est::SubnetworkSchedule(est::subnetwork_shape(cfg),
                                                 est::sampling::Uniform(/*seed=*/1), growth),
                         est::lr::WarmupCosine(1e-3, 1e-4, steps / 15, steps), train, val);
    for (std::int64_t s = 0; s < steps; ++s) {
      const est::StepReport r = trainer.step();   // r.active_*: the step's subnetwork
      if (s % (steps / 10 + 1) == 0) {
        std::printf("step %4lld  rates %s  layers %d  heads %.1f  neurons %.0f  loss %.3f\n",
                    static_cast<long long>(r.step), to_string(growth.rates(r.step)).c_str(),
                    r.active_layers, r.active_heads, r.active_neurons, r.loss);
      }
    }
    // [trainer]
    std::printf("val loss %.3f after %lld steps; %.1f%% of the full model's FLOPs saved\n",
                trainer.evaluate(), static_cast<long long>(steps),
                100 * trainer.flops().saving());
    return 0;
  } catch (const est::error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
