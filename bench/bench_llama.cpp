// Evolving subnetwork training on a Llama: do sampled query heads and SwiGLU neurons save time?
// Forward + backward at TinyLlama width (C = 2048, 32 query heads in 4 key/value groups of
// size-64 heads, M = 5632), one sequence of 1024 tokens, on the CPU:
//   gqa_attention/k       the attention half (packed Q/K/V projection of the active heads and the
//                         groups they read, RoPE, causal attention, output projection) over k of
//                         32 query heads drawn one by one (almost every group stays in use);
//   gqa_attention_groups/g  the same over g whole key/value groups (8·g heads), so the K and V
//                         projections shrink too;
//   swiglu/pct            the SwiGLU MLP half over pct% of the 5632 neurons;
//   llama_10m/...         a whole training step (forward, backward, active mask, frozen AdamW)
//                         of the llama_10m preset, batch 8 x 256, full and at the default EST
//                         stage rates; tok/s is the training throughput.
// GFLOP/s counts the products est computes (est/subnet/flops.hpp); "frac" is the fraction of the
// full layer's (model's) FLOPs. Target: time / full time <= frac + 0.05 for the two halves.

#include <benchmark/benchmark.h>

#include <random>

#include <est/models/llama/model.hpp>
#include <est/subnet/flops.hpp>
#include <est/subnet/sampling.hpp>
#include <est/train/adamw.hpp>

#include "support/layer_plan.hpp"

namespace {

constexpr est::LlamaConfig tinyllama_layer{.layers = 1, .heads = 32, .kv_heads = 4,
                                           .width = 2048, .mlp_hidden = 5632, .vocab = 256,
                                           .context = 1024};
constexpr est::LlamaConfig smoke_layer{.layers = 1, .heads = 8, .kv_heads = 2, .width = 64,
                                       .mlp_hidden = 128, .vocab = 64, .context = 32};
constexpr est::LlamaConfig smoke_model{.layers = 2, .heads = 4, .kv_heads = 2, .width = 64,
                                       .mlp_hidden = 128, .vocab = 64, .context = 32};

void fill(est::Tensor<float>& t, unsigned seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> normal(0.f, 1.f);
  for (est::Index i = 0; i < t.numel(); ++i) t[i] = normal(gen);
}

/// One layer's parameters, activations and inputs, for the half-block benchmarks.
template <est::LlamaConfig Config>
struct HalfBlock {
  est::Context<est::cpu> ctx;
  est::Llama<Config> model;
  est::LlamaActivations<float> acts;
  est::LlamaSliceWorkspace<float> ws;
  est::RopeTable<float> rope = est::rope_table<float>(Config.context, Config.head_dim(),
                                                      Config.rope_theta);
  est::Tensor<float> input, d_branch, branch, d_input;  // (B, T, C)
  est::Index B, T;

  HalfBlock(int threads, est::Index batch, est::Index seq)
      : ctx(threads), model(ctx, 1), B(batch), T(seq) {
    acts.allocate(Config, B, T);
    for (auto* t : {&input, &d_branch, &branch, &d_input}) {
      *t = est::Tensor<float>({B, T, Config.width});
    }
    fill(input, 1);
    fill(d_branch, 2);
  }
  const est::LlamaLayerTensors<float>& w() { return model.parameters().layers[0]; }
  const est::LlamaLayerTensors<float>& g() { return model.gradients().layers[0]; }
  auto rows(est::Tensor<float>& t) { return t.view().matrix(B * T); }
  est::LlamaAttentionShape<float, est::cpu> shape() const {
    return {Config.heads, Config.kv_heads, Config.head_dim(), B, T, rope.cos.view(),
            rope.sin.view()};
  }
};

void report(benchmark::State& state, double flops, double full_flops) {
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["frac"] = flops / full_flops;
}

/// range(0) = heads drawn one by one, or (groups = true) whole key/value groups.
template <est::LlamaConfig Config, bool Groups>
void BM_gqa_attention(benchmark::State& state) {
  constexpr int group_size = Config.heads / Config.kv_heads;
  HalfBlock<Config> s(int(state.range(1)), state.range(2), state.range(3));
  const est::sampling::Uniform sampler(7, 1, Groups ? group_size : 1);
  const double rate = double(state.range(0)) / (Groups ? Config.kv_heads : Config.heads);
  const est::Subnetwork subnet = sampler.sample({1, Config.heads, Config.mlp_hidden},
                                                {1, rate, 1}, 0);
  const auto heads = subnet.heads(0);
  const auto plan = est_bench::layer0_plan(Config, {heads.begin(), heads.end()}, {});
  const est::LlamaAttentionSlice half = est::llama_attention_slice(plan, 0);
  auto& la = s.acts.layers[0];
  const auto shape = s.shape();
  auto pass = [&] {
    est::llama_attention_forward<float>(s.ctx, s.rows(s.branch), s.rows(s.input), la, s.w(),
                                        heads, half, shape, s.acts.projection, s.ws);
    est::llama_attention_backward<float>(s.ctx, s.rows(s.d_input), s.rows(s.d_branch),
                                         s.rows(s.input), la, s.w(), s.g(), heads, half, shape,
                                         s.acts, s.ws);
    benchmark::ClobberMemory();
  };
  pass();  // warm-up
  for (auto _ : state) pass();
  auto flops = [&](double h, double g) {
    const double N = double(s.B * s.T), C = Config.width, d = Config.head_dim(), T = double(s.T);
    return 3.0 * (2 * N * C * (h + 2 * g) * d + 4 * double(s.B) * h * T * T * d +
                  2 * N * h * d * C);
  };
  double groups = 0, last = -1;
  for (int h : heads) {
    if (h / group_size != last) ++groups;
    last = h / group_size;
  }
  report(state, flops(double(heads.size()), groups), flops(Config.heads, Config.kv_heads));
  state.counters["groups"] = groups;
}

template <est::LlamaConfig Config>
void BM_swiglu(benchmark::State& state) {
  const int m = std::max(1, int(state.range(0) * Config.mlp_hidden / 100));
  HalfBlock<Config> s(int(state.range(1)), state.range(2), state.range(3));
  const auto plan = est_bench::layer0_plan(
      Config, {}, est::draw_without_replacement(7, 0, 0, m, Config.mlp_hidden));
  const est::HalfSlice half = est::llama_mlp_slice(plan, 0);
  auto& la = s.acts.layers[0];
  auto pass = [&] {
    est::llama_mlp_forward<float>(s.ctx, s.rows(s.branch), s.rows(s.input), la, s.w(), half,
                                  Config.mlp_hidden, s.B, s.T, s.ws);
    est::llama_mlp_backward<float>(s.ctx, s.rows(s.d_input), s.rows(s.d_branch), s.rows(s.input),
                                   la, s.w(), s.g(), half, Config.mlp_hidden, s.B, s.T, s.acts,
                                   s.ws);
    benchmark::ClobberMemory();
  };
  pass();  // warm-up
  for (auto _ : state) pass();
  const double N = double(s.B * s.T), C = Config.width;
  report(state, 3.0 * 6 * N * C * m, 3.0 * 6 * N * C * Config.mlp_hidden);
}

/// A training step of a whole model at rates (pL, pH, pM) in percent, with the active mask and
/// a frozen-semantics AdamW step (none of the mask for the full model, as est::Trainer does).
template <est::LlamaConfig Config>
void BM_model_step(benchmark::State& state) {
  const est::Rates rates{double(state.range(0)) / 100, double(state.range(1)) / 100,
                         double(state.range(2)) / 100};
  const est::Subnetwork subnet =
      est::sampling::Uniform(3, 8).sample(est::subnetwork_shape(Config), rates, 0);
  const est::Context<est::cpu> ctx(int(state.range(3)));
  const est::Index B = state.range(4), T = state.range(5);
  est::Llama<Config> model(ctx, 1);
  est::AdamW<float> optimizer(model.parameter_specs());
  est::Tensor<std::uint8_t> mask({Config.parameter_count()});
  est::Tensor<std::int32_t> tokens({B, T}), targets({B, T});
  std::mt19937 gen(2);
  std::uniform_int_distribution<int> token(0, Config.vocab - 1);
  for (est::Index i = 0; i < tokens.numel(); ++i) tokens[i] = token(gen), targets[i] = token(gen);
  auto step = [&] {
    model.zero_grad();
    benchmark::DoNotOptimize(model.forward(tokens.view(), targets.view(), subnet));
    model.backward();
    if (subnet.is_full()) {
      optimizer.step(ctx, model.parameter_arena(), model.gradient_arena(), 1e-4);
    } else {
      est::mark_active_parameters(Config, subnet, mask);
      optimizer.step(ctx, model.parameter_arena(), model.gradient_arena(), 1e-4, mask);
    }
  };
  step();  // warm-up
  for (auto _ : state) step();
  report(state, double(est::llama_step_flops(Config, B, T, subnet).total()),
         double(est::llama_step_flops(Config, B, T).total()));
  state.counters["tok/s"] =
      benchmark::Counter(double(B * T), benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

// Args: active heads (groups) / neuron percent, threads, batch, sequence.
BENCHMARK(BM_gqa_attention<tinyllama_layer, false>)
    ->Name("gqa_attention")->ArgNames({"heads", "threads", "B", "T"})
    ->Args({8, 2, 1, 1024})->Args({16, 2, 1, 1024})->Args({24, 2, 1, 1024})
    ->Args({32, 2, 1, 1024})
    ->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(1.0);
BENCHMARK(BM_gqa_attention<tinyllama_layer, true>)
    ->Name("gqa_attention_groups")->ArgNames({"groups", "threads", "B", "T"})
    ->Args({1, 2, 1, 1024})->Args({2, 2, 1, 1024})->Args({3, 2, 1, 1024})->Args({4, 2, 1, 1024})
    ->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(1.0);
BENCHMARK(BM_swiglu<tinyllama_layer>)
    ->Name("swiglu")->ArgNames({"pct", "threads", "B", "T"})
    ->Args({25, 2, 1, 1024})->Args({50, 2, 1, 1024})->Args({75, 2, 1, 1024})
    ->Args({100, 2, 1, 1024})
    ->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(1.0);
// Args: pL, pH, pM (percent), threads, batch, sequence.
BENCHMARK(BM_model_step<est::presets::llama_10m>)
    ->Name("llama_10m")->ArgNames({"pL", "pH", "pM", "threads", "B", "T"})
    ->Args({100, 100, 100, 2, 8, 256})->Args({100, 50, 50, 2, 8, 256})
    ->Args({50, 50, 50, 2, 8, 256})
    ->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);

// Seconds-long versions for CI.
BENCHMARK(BM_gqa_attention<smoke_layer, false>)
    ->Name("smoke/gqa_attention")->Args({3, 2, 2, 32})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_gqa_attention<smoke_layer, true>)
    ->Name("smoke/gqa_attention_groups")->Args({1, 2, 2, 32})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_swiglu<smoke_layer>)->Name("smoke/swiglu")->Args({50, 2, 2, 32})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_model_step<smoke_model>)
    ->Name("smoke/llama_step")->Args({50, 50, 50, 2, 2, 32})->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
