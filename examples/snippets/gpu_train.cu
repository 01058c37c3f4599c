// Training on a GPU (docs/manual/guides/gpu.md): the Trainer of trainer.cpp with the model on
// est::cuda. CTest runs it for a few steps; without a CUDA device it says so and exits 77
// (skipped).   gpu_train FILE [STEPS]

#include <cstdio>
#include <cstdlib>
#include <string>

// [gpu]
#include <est/cuda.cuh>   // everything of est.hpp, plus Context<cuda>, Tensor<T, cuda>, CUDA ops
// [gpu]

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s TEXT_FILE [STEPS]\n", argv[0]);
    return 2;
  }
  const std::int64_t steps = argc > 2 ? std::atoll(argv[2]) : 200;
  if (est::cuda_detail::device_count() == 0) {
    std::printf("skipped: no CUDA device\n");
    return 77;
  }
  try {
    const est::TokenBuffer tokens(est::ByteTokenizer().encode(est::read_text_corpus(argv[1])));
    const est::Index n = tokens.size(), n_val = n / 10;
    const est::BatchSampler train(tokens, {0, n - n_val}, 8, 64, 1, "training split");
    const est::BatchSampler val(tokens, {n - n_val, n_val}, 8, 64, 1, "validation split");
    // [gpu-trainer]
    est::Context<est::cuda> gpu;      // throws est::error naming the reason when there is no GPU
    gpu.allow_tf32 = true;            // optional: TF32 tensor cores for the FP32 GEMMs
    constexpr est::Gpt2Config cfg = est::presets::gpt2_bytes;
    est::Gpt2<cfg, est::cuda> model(gpu, /*seed=*/1);   // the same weights as on the CPU
    est::Trainer trainer(model, gpu,                    // batches stay on the host samplers
                         est::SubnetworkSchedule(est::subnetwork_shape(cfg),
                                                 est::sampling::Uniform(/*seed=*/1),
                                                 est::growth::ThreeStage(steps)),
                         est::lr::WarmupCosine(1e-3, 1e-4, steps / 15, steps), train, val);
    for (std::int64_t s = 0; s < steps; ++s) trainer.step();
    // [gpu-trainer]
    std::printf("val loss %.3f after %lld steps; %.1f%% of the FLOPs saved\n", trainer.evaluate(),
                static_cast<long long>(steps), 100 * trainer.flops().saving());
    return 0;
  } catch (const est::error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
