// GPU benchmarks of the CUDA backend, timed with CUDA events (median of several runs):
//   gemm            the card's measured FP32 and TF32 GEMM rate (4096^3 through est::gemm);
//   attention/k     the attention half of a GPT-2-small block (C = 768, H = 12), forward and
//                   backward, over k of 12 heads;
//   mlp/pct         the MLP half over pct% of its 3072 neurons;
//   gpt2_124m/...   a GPT-2 124M training step (forward, backward, gradient clipping, AdamW) at
//                   B x T tokens, full and at the stage rates of growth::ThreeStage (stage 1:
//                   layers, heads and neurons at 0.5; stage 2: every layer, heads and neurons at
//                   0.5), in FP32 and with TF32 GEMMs; tokens/s and MFU = model FLOPs
//                   (est/subnet/flops.hpp, the products est computes) / time / the measured TF32
//                   GEMM rate;
//   llama_attention/k         the grouped-query attention half of one Llama layer at TinyLlama
//                   width (C = 2048, 32 query heads in 4 key/value groups, head size 64), forward
//                   and backward at B x T = 4 x 1024, over k of 32 query heads drawn one by one
//                   (almost every group stays in use, so K and V barely shrink);
//   llama_attention_groups/g  the same over g of 4 whole key/value groups (8·g query heads);
//   llama_swiglu/pct  the SwiGLU MLP half of that layer over pct% of its 5632 neurons;
//   tinyllama_1b/...  a TinyLlama-1.1B training step (est::presets::tinyllama_1b, B x T =
//                   1 x 2048), the same passes and cases as gpt2_124m (the active mask written
//                   on the device; AdamW leaving inactive elements frozen).
// The half rows give the time as a fraction of the full half's; for Llama attention they also
// give the FLOPs fraction ("frac", which counts the K/V groups the active heads read).
// Targets: a sampled half takes <= frac + 0.05 of the full half's time (frac = p for GPT-2 and
// for SwiGLU); the full TF32 step reaches >= 40% of the TF32 GEMM rate.
//
// Usage: bench_cuda [--quick]   (--quick: small shapes, a few seconds; the CI smoke run)
// Exits with 77 ("skipped") when there is no CUDA device.

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <est/backend/cuda.cuh>
#include <est/ops/rope_table.hpp>
#include <est/models/gpt2/model.hpp>
#include <est/models/llama/model.hpp>
#include <est/subnet/flops.hpp>
#include <est/subnet/sampling.hpp>
#include <est/train/adamw.hpp>
#include <est/backend/cpu/norm.hpp>

#include "../support/layer_plan.hpp"

namespace {

using est::Index;

/// Median milliseconds of `reps` timed runs of f() after `warmup` untimed ones.
template <class F>
double median_ms(const est::Context<est::cuda>& ctx, int warmup, int reps, F&& f) {
  for (int i = 0; i < warmup; ++i) f();
  cudaEvent_t start, stop;
  EST_CUDA_CHECK(cudaEventCreate(&start));
  EST_CUDA_CHECK(cudaEventCreate(&stop));
  std::vector<double> times;
  for (int i = 0; i < reps; ++i) {
    EST_CUDA_CHECK(cudaEventRecord(start, ctx.stream()));
    f();
    EST_CUDA_CHECK(cudaEventRecord(stop, ctx.stream()));
    EST_CUDA_CHECK(cudaEventSynchronize(stop));
    float ms = 0;
    EST_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
    times.push_back(ms);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

template <class T>
est::Tensor<T, est::cuda> random_device(const est::Context<est::cuda>& ctx, est::Shape shape,
                                        unsigned seed) {
  est::Tensor<T> host(shape);
  std::mt19937 gen(seed);
  std::normal_distribution<float> normal(0.f, 1.f);
  for (Index i = 0; i < host.numel(); ++i) host[i] = T(normal(gen));
  est::Tensor<T, est::cuda> device(shape);
  est::copy(ctx, device.view(), host.view());
  return device;
}

struct Row {
  std::string name;
  double ms, value;
  std::string unit, note;
};
std::vector<Row> rows;

void print_row(const Row& r) {
  std::printf("%-34s %10.3f ms %12.2f %-9s %s\n", r.name.c_str(), r.ms, r.value, r.unit.c_str(),
              r.note.c_str());
  std::fflush(stdout);
}
void add(Row r) {
  print_row(r);
  rows.push_back(std::move(r));
}

double gemm_rate(est::Context<est::cuda>& ctx, bool tf32, Index n, int reps) {
  auto a = random_device<float>(ctx, {n, n}, 1), b = random_device<float>(ctx, {n, n}, 2);
  est::Tensor<float, est::cuda> c({n, n});
  ctx.allow_tf32 = tf32;
  const double ms = median_ms(ctx, 2, reps, [&] {
    est::gemm<float>(ctx, c.view().matrix(), a.view().matrix(), est::Transpose::no,
                     b.view().matrix(), est::Transpose::no);
  });
  ctx.allow_tf32 = false;
  const double tflops = 2.0 * double(n) * double(n) * double(n) / (ms * 1e-3) / 1e12;
  add({std::string("gemm/") + (tf32 ? "tf32" : "fp32") + "/" + std::to_string(n), ms, tflops,
       "TFLOP/s", ""});
  return tflops;
}

/// One GPT-2-small layer on the GPU, for the half-block benchmarks.
template <est::Gpt2Config Config>
struct HalfBlock {
  const est::Context<est::cuda>& ctx;
  est::Gpt2<Config, est::cuda> model;
  est::Gpt2Activations<float, est::cuda> acts;
  est::SliceWorkspace<float, est::cuda> ws;
  est::Tensor<float, est::cuda> input, d_branch, branch, d_input;  // (B, T, C)
  Index B, T;
  HalfBlock(const est::Context<est::cuda>& c, Index batch, Index seq)
      : ctx(c), model(c, 1), B(batch), T(seq) {
    acts.allocate(Config, B, T);
    input = random_device<float>(c, {B, T, Config.width}, 1);
    d_branch = random_device<float>(c, {B, T, Config.width}, 2);
    branch = est::Tensor<float, est::cuda>({B, T, Config.width});
    d_input = est::Tensor<float, est::cuda>({B, T, Config.width});
  }
  auto rows(est::Tensor<float, est::cuda>& t) { return t.view().matrix(B * T); }
  const auto& w() { return model.parameters().layers[0]; }
  const auto& g() { return model.gradients().layers[0]; }
};

template <est::Gpt2Config Config>
void sampled_halves(const est::Context<est::cuda>& ctx, Index B, Index T, int reps) {
  HalfBlock<Config> s(ctx, B, T);
  auto& la = s.acts.layers[0];
  auto attention = [&](const std::vector<int>& heads) {
    const auto plan = est_bench::layer0_plan(Config, heads, {});
    const est::HalfSlice half = est::gpt2_attention_slice(plan, 0);
    const Index h = std::ssize(heads);
    return median_ms(ctx, 2, reps, [&] {
      est::gpt2_attention_forward<float>(ctx, s.rows(s.branch), s.rows(s.input), la, s.w(), half,
                                         h, Config.heads, s.B, s.T, s.ws);
      est::gpt2_attention_backward<float>(ctx, s.rows(s.d_input), s.rows(s.d_branch),
                                          s.rows(s.input), la, s.w(), s.g(), half, h,
                                          Config.heads, s.B, s.T, s.acts, s.ws);
    });
  };
  auto mlp = [&](const std::vector<int>& neurons) {
    const auto plan = est_bench::layer0_plan(Config, {}, neurons);
    const est::HalfSlice half = est::gpt2_mlp_slice(plan, 0);
    return median_ms(ctx, 2, reps, [&] {
      est::gpt2_mlp_forward<float>(ctx, s.rows(s.branch), s.rows(s.input), la, s.w(), half, s.B,
                                   s.T, s.ws);
      est::gpt2_mlp_backward<float>(ctx, s.rows(s.d_input), s.rows(s.d_branch), s.rows(s.input),
                                    la, s.w(), s.g(), half, s.B, s.T, s.acts, s.ws);
    });
  };
  const int H = Config.heads, M = Config.mlp_hidden;
  const double full_attention = attention(est::draw_without_replacement(7, 0, 0, H, H));
  for (int k : {H / 4, H / 2, 3 * H / 4, H}) {
    const double ms = k == H ? full_attention : attention(est::draw_without_replacement(7, 0, 0, k, H));
    const double p = double(k) / H, ratio = ms / full_attention;
    add({"attention/" + std::to_string(k) + "_of_" + std::to_string(H), ms, ratio, "x full",
         k == H ? "" : (ratio <= p + 0.05 ? "ok (<= p+0.05)" : "MISSES p+0.05")});
  }
  const double full_mlp = mlp(est::draw_without_replacement(7, 0, 0, M, M));
  for (int pct : {25, 50, 75, 100}) {
    const int m = M * pct / 100;
    const double ms = pct == 100 ? full_mlp : mlp(est::draw_without_replacement(7, 0, 0, m, M));
    const double p = pct / 100.0, ratio = ms / full_mlp;
    add({"mlp/" + std::to_string(pct) + "pct", ms, ratio, "x full",
         pct == 100 ? "" : (ratio <= p + 0.05 ? "ok (<= p+0.05)" : "MISSES p+0.05")});
  }
}

/// One Llama layer on the GPU with its RoPE tables, for the half-block benchmarks.
template <est::LlamaConfig Config>
struct LlamaHalfBlock {
  const est::Context<est::cuda>& ctx;
  est::Llama<Config, est::cuda> model;
  est::LlamaActivations<float, est::cuda> acts;
  est::LlamaSliceWorkspace<float, est::cuda> ws;
  est::Tensor<float, est::cuda> cos, sin;                  // (context, d/2)
  est::Tensor<float, est::cuda> input, d_branch, branch, d_input;  // (B, T, C)
  Index B, T;
  LlamaHalfBlock(const est::Context<est::cuda>& c, Index batch, Index seq)
      : ctx(c), model(c, 1), B(batch), T(seq) {
    acts.allocate(Config, B, T);
    const auto rope = est::rope_table<float>(Config.context, Config.head_dim(), Config.rope_theta);
    cos = est::Tensor<float, est::cuda>(rope.cos.shape());
    sin = est::Tensor<float, est::cuda>(rope.sin.shape());
    est::copy(c, cos.view(), rope.cos.view());
    est::copy(c, sin.view(), rope.sin.view());
    input = random_device<float>(c, {B, T, Config.width}, 1);
    d_branch = random_device<float>(c, {B, T, Config.width}, 2);
    branch = est::Tensor<float, est::cuda>({B, T, Config.width});
    d_input = est::Tensor<float, est::cuda>({B, T, Config.width});
  }
  auto rows(est::Tensor<float, est::cuda>& t) { return t.view().matrix(B * T); }
  const auto& w() { return model.parameters().layers[0]; }
  const auto& g() { return model.gradients().layers[0]; }
  est::LlamaAttentionShape<float, est::cuda> shape() const {
    return {Config.heads, Config.kv_heads, Config.head_dim(), B, T, cos.view(), sin.view()};
  }
};

/// The query heads sampling::Uniform draws for one layer: `count` of the H heads one by one, or
/// (groups) `count` of the G key/value groups, every query head of a drawn group.
std::vector<int> llama_heads(const est::LlamaConfig& c, int count, bool groups) {
  const double rate = double(count) / (groups ? c.kv_heads : c.heads);
  const est::Subnetwork s = est::sampling::Uniform(7, 1, groups ? c.group_size() : 1)
                                .sample({1, c.heads, c.mlp_hidden}, {1, rate, 1}, 0);
  return {s.heads(0).begin(), s.heads(0).end()};
}

/// Key/value groups that `heads` (sorted) read.
int llama_groups(const est::LlamaConfig& c, const std::vector<int>& heads) {
  int groups = 0, last = -1;
  for (int h : heads) {
    if (h / c.group_size() != last) ++groups;
    last = h / c.group_size();
  }
  return groups;
}

/// FLOPs of the attention half, forward and backward, over h query heads reading g groups (the
/// per-layer attention terms of est::llama_step_flops).
double llama_attention_flops(const est::LlamaConfig& c, Index B, Index T, double h, double g) {
  const double N = double(B * T), C = c.width, d = c.head_dim(), t = double(T);
  return 3.0 * (2 * N * C * (h + 2 * g) * d + 4 * double(B) * h * t * t * d + 2 * N * h * d * C);
}

std::string against(double ratio, double frac) {
  return ratio <= frac + 0.05 ? "ok (<= frac+0.05)" : "MISSES frac+0.05";
}

template <est::LlamaConfig Config>
void llama_sampled_halves(const est::Context<est::cuda>& ctx, Index B, Index T, int reps) {
  LlamaHalfBlock<Config> s(ctx, B, T);
  auto& la = s.acts.layers[0];
  const auto shape = s.shape();
  auto attention = [&](const std::vector<int>& heads) {
    const auto plan = est_bench::layer0_plan(Config, heads, {});
    const est::LlamaAttentionSlice half = est::llama_attention_slice(plan, 0);
    return median_ms(ctx, 2, reps, [&] {
      est::llama_attention_forward<float>(ctx, s.rows(s.branch), s.rows(s.input), la, s.w(),
                                          heads, half, shape, s.acts.projection, s.ws);
      est::llama_attention_backward<float>(ctx, s.rows(s.d_input), s.rows(s.d_branch),
                                           s.rows(s.input), la, s.w(), s.g(), heads, half, shape,
                                           s.acts, s.ws);
    });
  };
  auto mlp = [&](const std::vector<int>& neurons) {
    const auto plan = est_bench::layer0_plan(Config, {}, neurons);
    const est::HalfSlice half = est::llama_mlp_slice(plan, 0);
    return median_ms(ctx, 2, reps, [&] {
      est::llama_mlp_forward<float>(ctx, s.rows(s.branch), s.rows(s.input), la, s.w(), half,
                                    Config.mlp_hidden, s.B, s.T, s.ws);
      est::llama_mlp_backward<float>(ctx, s.rows(s.d_input), s.rows(s.d_branch), s.rows(s.input),
                                     la, s.w(), s.g(), half, Config.mlp_hidden, s.B, s.T, s.acts,
                                     s.ws);
    });
  };
  const int H = Config.heads, G = Config.kv_heads, M = Config.mlp_hidden;
  const double full_attention = attention(llama_heads(Config, H, false));
  const double full_flops = llama_attention_flops(Config, B, T, H, G);
  // Heads drawn one by one (k of H), then whole groups (k of G).
  for (bool groups : {false, true}) {
    const int units = groups ? G : H;
    std::vector<int> counts = {H / 4, H / 2, 3 * H / 4, H};
    if (groups) {
      counts.clear();
      for (int k = 1; k <= G; ++k) counts.push_back(k);
    }
    for (int k : counts) {
      if (k < 1) continue;
      const std::vector<int> heads = llama_heads(Config, k, groups);
      const int g = llama_groups(Config, heads);
      const double ms = k == units ? full_attention : attention(heads);
      const double frac =
          llama_attention_flops(Config, B, T, double(heads.size()), g) / full_flops;
      const double ratio = ms / full_attention;
      char note[120];
      std::snprintf(note, sizeof note, "FLOPs %.3f (%d heads, %d of %d groups)%s%s", frac,
                    int(heads.size()), g, G, k == units ? "" : ", ",
                    k == units ? "" : against(ratio, frac).c_str());
      add({std::string(groups ? "llama_attention_groups/" : "llama_attention/") +
               std::to_string(k) + "_of_" + std::to_string(units),
           ms, ratio, "x full", note});
    }
  }
  const double full_mlp = mlp(est::draw_without_replacement(7, 0, 0, M, M));
  for (int pct : {25, 50, 75, 100}) {
    const int m = std::max(1, M * pct / 100);
    const double ms = pct == 100 ? full_mlp : mlp(est::draw_without_replacement(7, 0, 0, m, M));
    const double frac = double(m) / M, ratio = ms / full_mlp;
    char note[120];
    std::snprintf(note, sizeof note, "FLOPs %.3f%s%s", frac, pct == 100 ? "" : ", ",
                  pct == 100 ? "" : against(ratio, frac).c_str());
    add({"llama_swiglu/" + std::to_string(pct) + "pct", ms, ratio, "x full", note});
  }
}

/// Device bytes a Llama training step at (B, T) needs, roughly: weights, gradients and the two
/// AdamW moments (FP32), the one-byte active mask, every layer's saved activations (the
/// (B, H, T, T) probabilities the largest), the shared buffers and the attention backward's
/// (B, H, T, T) scratch. Gathered weight slices and cuBLAS workspaces come on top (well under
/// 1 GB at TinyLlama size).
double llama_step_bytes(const est::LlamaConfig& c, Index B, Index T) {
  const double P = double(c.parameter_count()), N = double(B * T), C = c.width, M = c.mlp_hidden,
               V = c.vocab, q = double(c.heads) * c.head_dim(),
               packed = double(c.heads + 2 * c.kv_heads) * c.head_dim(),
               probs = double(B) * c.heads * double(T) * double(T);
  const double layer = N * (4 * C + 4 * q) + 2 * N + 3 * N * M + probs;
  const double shared = N * (5 * C + V + packed + 4 * q + 3 * M) + 2 * N + probs;
  return 4 * (4 * P + c.layers * layer + shared) + P;
}

/// Whether `bytes` fit in the device's free memory (with 10% to spare); adds a "skipped" row for
/// `name` when they do not.
bool fits(const std::string& name, double bytes) {
  std::size_t free_bytes = 0, total_bytes = 0;
  EST_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  if (bytes * 1.1 <= double(free_bytes)) return true;
  char note[120];
  std::snprintf(note, sizeof note, "skipped: needs about %.1f GB, %.1f GB free", bytes / 1e9,
                double(free_bytes) / 1e9);
  add({name, 0, bytes / 1e9, "GB", note});
  return false;
}

/// A training step of `Model` (forward, backward, gradient clipping, the active mask and AdamW,
/// inactive elements frozen) full and at the stage rates of growth::ThreeStage, FP32 and TF32.
template <class Model, class Sampler>
void training_step(est::Context<est::cuda>& ctx, const std::string& label, const Sampler& sampler,
                   Index B, Index T, int reps, double tf32_peak) {
  constexpr auto Config = Model::config;
  Model model(ctx, 1);
  est::AdamW<float, est::cuda> optimizer(model.parameter_specs());
  est::Tensor<std::uint8_t, est::cuda> mask({Config.parameter_count()});
  est::Tensor<std::int32_t> tokens({B, T}), targets({B, T});
  std::mt19937 gen(2);
  std::uniform_int_distribution<int> token(0, std::min(Config.vocab, 50257) - 1);
  for (Index i = 0; i < tokens.numel(); ++i) tokens[i] = token(gen), targets[i] = token(gen);
  const auto shape = est::subnetwork_shape(Config);
  struct Case {
    const char* name;
    est::Rates rates;
  };
  const Case cases[] = {{"full", {1, 1, 1}}, {"stage1", {0.5, 0.5, 0.5}}, {"stage2", {1, 0.5, 0.5}}};
  for (bool tf32 : {false, true}) {
    ctx.allow_tf32 = tf32;
    double full_ms = 0;
    for (const Case& c : cases) {
      const est::Subnetwork subnet = sampler.sample(shape, c.rates, 0);
      const bool masked = !subnet.is_full();
      auto step = [&] {
        model.zero_grad();
        (void)model.forward(tokens.view(), targets.view(), subnet);
        model.backward();
        (void)est::clip_grad_norm<float>(ctx, model.gradient_arena(), 1.0);
        if (masked) {
          est::mark_active_parameters(ctx, Config, subnet, mask.view());
          optimizer.step(ctx, model.parameter_arena(), model.gradient_arena(), 1e-4, mask.view());
        } else {
          optimizer.step(ctx, model.parameter_arena(), model.gradient_arena(), 1e-4);
        }
      };
      const double ms = median_ms(ctx, 2, reps, step);
      if (!masked) full_ms = ms;
      const double flops = double(est::step_flops(Config, B, T, subnet).total());
      const double full_flops = double(est::step_flops(Config, B, T).total());
      char note[160];
      std::snprintf(note, sizeof note, "%.0f tokens/s, MFU %.1f%% of TF32 GEMM, time %.3f x full "
                    "(FLOPs %.3f)", double(B * T) / (ms * 1e-3),
                    100.0 * flops / (ms * 1e-3) / (tf32_peak * 1e12),
                    full_ms > 0 ? ms / full_ms : 1.0, flops / full_flops);
      add({label + (tf32 ? "/tf32/" : "/fp32/") + c.name + "/B" + std::to_string(B) + "xT" +
               std::to_string(T),
           ms, flops / (ms * 1e-3) / 1e12, "TFLOP/s", note});
    }
  }
  ctx.allow_tf32 = false;
}

constexpr est::Gpt2Config small_layer{.layers = 1, .heads = 12, .width = 768, .mlp_hidden = 3072,
                                      .vocab = 256, .context = 1024};
constexpr est::Gpt2Config quick_layer{.layers = 1, .heads = 4, .width = 128, .mlp_hidden = 512,
                                      .vocab = 64, .context = 64};
constexpr est::Gpt2Config gpt2_124m_padded{.layers = 12, .heads = 12, .width = 768,
                                           .mlp_hidden = 3072, .vocab = 50304, .context = 1024};
constexpr est::Gpt2Config quick_model{.layers = 2, .heads = 4, .width = 128, .mlp_hidden = 512,
                                      .vocab = 512, .context = 64};
// One Llama layer at TinyLlama width; its vocabulary is unused by the halves.
constexpr est::LlamaConfig tinyllama_layer{.layers = 1, .heads = 32, .kv_heads = 4,
                                           .width = 2048, .mlp_hidden = 5632, .vocab = 256,
                                           .context = 1024};
constexpr est::LlamaConfig quick_llama_layer{.layers = 1, .heads = 8, .kv_heads = 2, .width = 128,
                                             .mlp_hidden = 512, .vocab = 64, .context = 64};
constexpr est::LlamaConfig quick_llama_model{.layers = 2, .heads = 4, .kv_heads = 2, .width = 128,
                                             .mlp_hidden = 512, .vocab = 512, .context = 64};

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  if (est::cuda_detail::device_count() == 0) {
    std::printf("skipped: no CUDA device\n");
    return 77;
  }
  try {
    est::Context<est::cuda> ctx;
    std::printf("device: %s, %d SMs, bench_cuda%s\n", ctx.properties().name,
                ctx.multiprocessors(), quick ? " --quick" : "");
    const int reps = quick ? 3 : 10;
    gemm_rate(ctx, false, quick ? 512 : 4096, reps);
    const double tf32 = gemm_rate(ctx, true, quick ? 512 : 4096, reps);
    // Llama steps sample neurons in multiples of 8, as bench_llama does.
    const est::sampling::Uniform gpt2_sampler(3), llama_sampler(3, 8);
    if (quick) {
      sampled_halves<quick_layer>(ctx, 2, 64, reps);
      training_step<est::Gpt2<quick_model, est::cuda>>(ctx, "gpt2_quick", gpt2_sampler, 2, 64,
                                                        reps, tf32);
      llama_sampled_halves<quick_llama_layer>(ctx, 2, 64, reps);
      training_step<est::Llama<quick_llama_model, est::cuda>>(ctx, "llama_quick", llama_sampler,
                                                               2, 64, reps, tf32);
    } else {
      sampled_halves<small_layer>(ctx, 8, 1024, reps);
      training_step<est::Gpt2<gpt2_124m_padded, est::cuda>>(ctx, "gpt2_124m", gpt2_sampler, 8,
                                                            1024, 5, tf32);
      llama_sampled_halves<tinyllama_layer>(ctx, 4, 1024, reps);
      // TinyLlama-1.1B at one sequence of its full context, B x T = 1 x 2048: 1.10e9 parameters
      // x (weights, gradients, two AdamW moments) x 4 bytes = 17.6 GB, the mask 1.1 GB, and per
      // layer 0.54 GB of (B, H, T, T) probabilities plus 0.27 GB of other activations (17.8 GB
      // over 22 layers): about 38 GB in all (llama_step_bytes). 2 x 1024 would need about 31 GB.
      // Initialising 1.1e9 weights on the host takes a while (tens of seconds); 3 timed steps.
      constexpr auto tinyllama = est::presets::tinyllama_1b;
      if (fits("tinyllama_1b/B1xT2048", llama_step_bytes(tinyllama, 1, 2048))) {
        training_step<est::Llama<tinyllama, est::cuda>>(ctx, "tinyllama_1b", llama_sampler, 1,
                                                        2048, 3, tf32);
      }
    }
    std::printf("\nsummary (%s)\n", ctx.properties().name);
    for (const Row& r : rows) print_row(r);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_cuda: %s\n", e.what());
    return 1;
  }
  return 0;
}
