// Evolving subnetwork training on sampled layers: does the FLOPs saving show up as time?
// Forward + backward at GPT-2-small width (C = 768, H = 12, M = 3072, batch 2 x 1024 tokens):
//   attention/k      the attention half of a block (QKV projection, causal attention, output
//                    projection) over k of 12 heads;
//   mlp/pct          the MLP half over pct% of the 3072 neurons;
//   block/...        a one-layer model step (LayerNorms, both halves, residuals, and a 256-token
//                    LM head that costs under 1%) under a few subnetworks;
//   gpt2_124m/...    a whole GPT-2 124M training step (batch 4 x 256, with the active mask and
//                    a frozen-semantics AdamW) at the stage rates of growth::ThreeStage's
//                    defaults: stage 1 (0.5, 0.5, 0.5), stage 2 (1, 0.5, 0.5), stage 3 full.
// GFLOP/s counts the products est computes (est/subnet/flops.hpp); "frac" is the fraction of the
// full layer's FLOPs. Target: time / full time <= frac + 0.05 for attention and MLP.

#include <benchmark/benchmark.h>

#include <random>

#include <est/models/gpt2/model.hpp>
#include <est/subnet/flops.hpp>
#include <est/subnet/sampling.hpp>
#include <est/train/adamw.hpp>

#include "support/layer_plan.hpp"

namespace {

constexpr est::Gpt2Config small_layer{.layers = 1, .heads = 12, .width = 768, .mlp_hidden = 3072,
                                      .vocab = 256, .context = 1024};
constexpr est::Gpt2Config smoke_layer{.layers = 1, .heads = 4, .width = 64, .mlp_hidden = 256,
                                      .vocab = 64, .context = 32};

/// Random tensor entries, normal(0, 1).
void fill(est::Tensor<float>& t, unsigned seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> normal(0.f, 1.f);
  for (est::Index i = 0; i < t.numel(); ++i) t[i] = normal(gen);
}

/// One layer's parameters, activations and inputs, for the half-block benchmarks.
template <est::Gpt2Config Config>
struct HalfBlock {
  est::Context<est::cpu> ctx;
  est::Gpt2<Config> model;
  est::Gpt2Activations<float> acts;
  est::SliceWorkspace<float> ws;
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
  const est::Gpt2LayerTensors<float>& w() { return model.parameters().layers[0]; }
  const est::Gpt2LayerTensors<float>& g() { return model.gradients().layers[0]; }
  auto rows(est::Tensor<float>& t) { return t.view().matrix(B * T); }
};

/// k of `heads` heads (or neurons), drawn uniformly, sorted.
std::vector<int> pick(int k, int total) {
  return est::draw_without_replacement(7, 0, 0, k, total);
}

template <est::Gpt2Config Config>
void report(benchmark::State& state, double flops, double full_flops) {
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["frac"] = flops / full_flops;
}

template <est::Gpt2Config Config>
void BM_attention(benchmark::State& state) {
  const int k = int(state.range(0));
  HalfBlock<Config> s(int(state.range(1)), state.range(2), state.range(3));
  const auto plan = est_bench::layer0_plan(Config, pick(k, Config.heads), {});
  const est::HalfSlice half = est::gpt2_attention_slice(plan, 0);
  auto& la = s.acts.layers[0];
  auto pass = [&] {
    est::gpt2_attention_forward<float>(s.ctx, s.rows(s.branch), s.rows(s.input), la, s.w(), half,
                                       k, Config.heads, s.B, s.T, s.ws);
    est::gpt2_attention_backward<float>(s.ctx, s.rows(s.d_input), s.rows(s.d_branch),
                                        s.rows(s.input), la, s.w(), s.g(), half, k, Config.heads,
                                        s.B, s.T, s.acts, s.ws);
    benchmark::ClobberMemory();
  };
  pass();  // warm-up
  for (auto _ : state) pass();
  auto flops = [&](double h) {
    const double N = double(s.B * s.T), C = Config.width, d = Config.head_dim(), T = double(s.T);
    return 3.0 * (2 * N * C * 3 * h * d + 4 * double(s.B) * h * T * T * d + 2 * N * h * d * C);
  };
  report<Config>(state, flops(k), flops(Config.heads));
}

template <est::Gpt2Config Config>
void BM_mlp(benchmark::State& state) {
  const int m = std::max(1, int(state.range(0) * Config.mlp_hidden / 100));
  HalfBlock<Config> s(int(state.range(1)), state.range(2), state.range(3));
  const auto plan = est_bench::layer0_plan(Config, {}, pick(m, Config.mlp_hidden));
  const est::HalfSlice half = est::gpt2_mlp_slice(plan, 0);
  auto& la = s.acts.layers[0];
  auto pass = [&] {
    est::gpt2_mlp_forward<float>(s.ctx, s.rows(s.branch), s.rows(s.input), la, s.w(), half, s.B,
                                 s.T, s.ws);
    est::gpt2_mlp_backward<float>(s.ctx, s.rows(s.d_input), s.rows(s.d_branch), s.rows(s.input),
                                  la, s.w(), s.g(), half, s.B, s.T, s.acts, s.ws);
    benchmark::ClobberMemory();
  };
  pass();  // warm-up
  for (auto _ : state) pass();
  const double N = double(s.B * s.T), C = Config.width;
  report<Config>(state, 3.0 * 4 * N * C * m, 3.0 * 4 * N * C * Config.mlp_hidden);
}

/// A subnetwork at rates (pL, pH, pM) in percent, drawn by sampling::Uniform at step 0.
est::Subnetwork subnet_at(const est::Gpt2Config& config, const benchmark::State& state) {
  const est::Rates rates{double(state.range(0)) / 100, double(state.range(1)) / 100,
                         double(state.range(2)) / 100};
  return est::sampling::Uniform(3).sample(est::subnetwork_shape(config), rates, 0);
}

/// A training step of a whole model under one subnetwork; with_optimizer adds the active mask
/// and a frozen-semantics AdamW step (no mask for the full model, which is then exactly plain
/// training).
template <est::Gpt2Config Config>
void BM_model_step(benchmark::State& state) {
  const est::Subnetwork subnet = subnet_at(Config, state);
  const int threads = int(state.range(3));
  const est::Index B = state.range(4), T = state.range(5);
  const bool with_optimizer = state.range(6) != 0;
  const est::Context<est::cpu> ctx(threads);
  est::Gpt2<Config> model(ctx, 1);
  est::AdamW<float> optimizer(model.parameter_specs());
  est::Tensor<std::uint8_t> mask({Config.parameter_count()});
  est::Tensor<std::int32_t> tokens({B, T}), targets({B, T});
  std::mt19937 gen(2);
  std::uniform_int_distribution<int> token(0, std::min(Config.vocab, 50257) - 1);
  for (est::Index i = 0; i < tokens.numel(); ++i) tokens[i] = token(gen), targets[i] = token(gen);
  auto step = [&](const est::Subnetwork& s) {
    model.zero_grad();
    benchmark::DoNotOptimize(model.forward(tokens.view(), targets.view(), s));
    model.backward();
    if (!with_optimizer) return;
    if (s.is_full()) {  // as est::Trainer does: the full model needs no mask
      optimizer.step(ctx, model.parameter_arena(), model.gradient_arena(), 1e-4);
    } else {
      est::mark_active_parameters(Config, s, mask);
      optimizer.step(ctx, model.parameter_arena(), model.gradient_arena(), 1e-4, mask);
    }
  };
  // Warm-up (the first step's page faults on fresh buffers are not the method's cost). With
  // after_masked, a stage-1 step comes first, so the frozen AdamW keeps per-element step counts
  // from then on, as it does in stage 3 of a real run.
  if (state.range(7) != 0) {
    step(est::sampling::Uniform(5).sample(est::subnetwork_shape(Config), {0.5, 0.5, 0.5}, 0));
  }
  step(subnet);
  auto step_subnet = [&] { step(subnet); };
  for (auto _ : state) step_subnet();
  report<Config>(state, double(est::gpt2_step_flops(Config, B, T, subnet).total()),
                 double(est::gpt2_step_flops(Config, B, T).total()));
  state.counters["tok/s"] =
      benchmark::Counter(double(B * T), benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

// Args: active heads / neuron percent, threads, batch, sequence.
BENCHMARK(BM_attention<small_layer>)
    ->Name("attention")->ArgNames({"heads", "threads", "B", "T"})
    ->Args({3, 2, 2, 1024})->Args({6, 2, 2, 1024})->Args({9, 2, 2, 1024})->Args({12, 2, 2, 1024})
    ->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(1.0);
BENCHMARK(BM_mlp<small_layer>)
    ->Name("mlp")->ArgNames({"pct", "threads", "B", "T"})
    ->Args({25, 2, 2, 1024})->Args({50, 2, 2, 1024})->Args({75, 2, 2, 1024})
    ->Args({100, 2, 2, 1024})
    ->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(1.0);
// Args: pL, pH, pM (percent), threads, batch, sequence, with AdamW, after a masked step.
BENCHMARK(BM_model_step<small_layer>)
    ->Name("block")->ArgNames({"pL", "pH", "pM", "threads", "B", "T", "adamw", "after_masked"})
    ->Args({100, 100, 100, 2, 2, 1024, 0, 0})->Args({100, 75, 75, 2, 2, 1024, 0, 0})
    ->Args({100, 50, 50, 2, 2, 1024, 0, 0})->Args({100, 25, 25, 2, 2, 1024, 0, 0})
    ->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(1.0);
BENCHMARK(BM_model_step<est::presets::gpt2_124m>)
    ->Name("gpt2_124m")->ArgNames({"pL", "pH", "pM", "threads", "B", "T", "adamw", "after_masked"})
    ->Args({50, 50, 50, 2, 4, 256, 1, 0})->Args({100, 50, 50, 2, 4, 256, 1, 0})
    ->Args({100, 100, 100, 2, 4, 256, 1, 1})->Args({100, 100, 100, 2, 4, 256, 1, 0})
    ->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(2);

// Seconds-long versions for CI.
BENCHMARK(BM_attention<smoke_layer>)
    ->Name("smoke/attention")->Args({2, 2, 2, 32})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_mlp<smoke_layer>)->Name("smoke/mlp")->Args({50, 2, 2, 32})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_model_step<smoke_layer>)
    ->Name("smoke/block")->Args({100, 50, 50, 2, 2, 32, 1, 1})->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
