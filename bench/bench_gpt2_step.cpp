// A GPT-2 training step on the CPU: forward + backward, and forward + backward + AdamW, in
// tokens/s and achieved GFLOP/s (nanoGPT's count: B·T·[6·(12·L·C² + V·C) + 12·L·T·C] per
// step, forward and backward). bench_peak measures the machine's peak to compare against.
//
// Shapes: small = 6 layers, 6 heads, width 384, batch 8 x 256 tokens; gpt2_124m = 12/12/768,
// batch 4 x 256; vocabulary 50304 for both, as ../shared/peers/torch_gpt2_bench.py runs them.

#include <benchmark/benchmark.h>

#include <random>

#include <est/models/gpt2/model.hpp>
#include <est/train/adamw.hpp>

namespace {

template <est::Gpt2Config Config>
double flops_per_step(double B, double T) {
  const double L = Config.layers, C = Config.width, V = Config.vocab;
  return B * T * (6.0 * (12.0 * L * C * C + V * C) + 12.0 * L * T * C);
}

template <est::Gpt2Config Config>
void BM_gpt2_step(benchmark::State& state) {
  const int B = int(state.range(0)), T = int(state.range(1)), threads = int(state.range(2));
  const bool with_optimizer = state.range(3) != 0;
  const est::Context<est::cpu> ctx(threads);
  est::Gpt2<Config> model(ctx, 1);
  est::AdamW<float> optimizer(model.parameter_specs());
  est::Tensor<std::int32_t> tokens({B, T}), targets({B, T});
  std::mt19937 gen(2);
  std::uniform_int_distribution<int> pick(0, std::min(Config.vocab, 50257) - 1);
  for (est::Index i = 0; i < tokens.numel(); ++i) tokens[i] = pick(gen), targets[i] = pick(gen);
  for (auto _ : state) {
    model.zero_grad();
    benchmark::DoNotOptimize(model.forward(tokens.view(), targets.view()));
    model.backward();
    if (with_optimizer) optimizer.step(ctx, model.parameter_arena(), model.gradient_arena(), 1e-4);
  }
  const double flops = flops_per_step<Config>(B, T);
  state.counters["tok"] = benchmark::Counter(double(B) * T, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GFLOP"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

constexpr est::Gpt2Config smoke{.layers = 2, .heads = 2, .width = 32, .mlp_hidden = 128,
                                .vocab = 512, .context = 32};

}  // namespace

// Args: batch, sequence, threads, with AdamW (0/1).
BENCHMARK(BM_gpt2_step<est::presets::gpt2_small6>)
    ->Name("gpt2_small6")->ArgNames({"B", "T", "threads", "adamw"})
    ->Args({8, 256, 2, 0})->Args({8, 256, 2, 1})->Args({8, 256, 1, 0})
    ->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);
BENCHMARK(BM_gpt2_step<est::presets::gpt2_124m>)
    ->Name("gpt2_124m")->ArgNames({"B", "T", "threads", "adamw"})
    ->Args({4, 256, 2, 0})->Args({4, 256, 2, 1})
    ->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(2);
BENCHMARK(BM_gpt2_step<smoke>)
    ->Name("smoke/gpt2")->ArgNames({"B", "T", "threads", "adamw"})->Args({2, 32, 2, 1})
    ->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK_MAIN();
