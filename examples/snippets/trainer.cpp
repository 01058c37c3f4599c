// Training with est::Trainer (docs/manual/library.md): a byte-level GPT-2 on a text file, the
// EST schedule, evaluation on a held-out tenth. CTest runs it on the project's README.
//   trainer FILE [STEPS]

#include <cstdio>
#include <cstdlib>
#include <string>

#include <est/est.hpp>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s TEXT_FILE [STEPS]\n", argv[0]);
    return 2;
  }
  const std::int64_t steps = argc > 2 ? std::atoll(argv[2]) : 200;
  try {
    // [trainer]
    est::Context<est::cpu> ctx(2);
    constexpr est::Gpt2Config cfg = est::presets::gpt2_bytes;       // 4 layers, width 128
    est::Gpt2<cfg> model(ctx, /*seed=*/1);

    // Tokens: the bytes of a text file; the last tenth is the validation split.
    const est::TokenBuffer tokens(est::ByteTokenizer().encode(est::read_text_corpus(argv[1])));
    const est::Index n = tokens.size(), n_val = n / 10;
    const est::BatchSampler train(tokens, {0, n - n_val}, /*batch=*/8, /*seq=*/64, /*seed=*/1,
                                  "training split");
    const est::BatchSampler val(tokens, {n - n_val, n_val}, 8, 64, 1, "validation split");

    est::Trainer trainer(model, ctx,
                         est::SubnetworkSchedule(est::subnetwork_shape(cfg),
                                                 est::sampling::Uniform(/*seed=*/1),
                                                 est::growth::ThreeStage(steps)),
                         est::lr::WarmupCosine(/*max=*/1e-3, /*min=*/1e-4, /*warmup=*/steps / 15,
                                               steps),
                         train, val);
    for (std::int64_t s = 0; s < steps; ++s) {
      const est::StepReport r = trainer.step();
      if ((s + 1) % 50 == 0) {
        std::printf("step %lld  loss %.3f  layers %d  val %.3f\n",
                    static_cast<long long>(r.step + 1), r.loss, r.active_layers,
                    trainer.evaluate());
      }
    }
    std::printf("%.1f%% of the full model's training FLOPs saved\n",
                100 * trainer.flops().saving());
    // [trainer]
    return 0;
  } catch (const est::error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
