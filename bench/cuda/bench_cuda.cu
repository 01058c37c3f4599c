// GPU benchmarks of the CUDA backend, timed with CUDA events (median of several runs):
//   gemm            the card's measured FP32 and TF32 GEMM rate (4096^3 through est::gemm);
//   attention/k     the attention half of a GPT-2-small block (C = 768, H = 12), forward and
//                   backward, over k of 12 heads;
//   mlp/pct         the MLP half over pct% of its 3072 neurons;
//   gpt2_124m/...   a GPT-2 124M training step (forward, backward, AdamW) at B x T tokens, full
//                   and at the stage rates of growth::ThreeStage (stage 1: layers, heads and
//                   neurons at 0.5; stage 2: every layer, heads and neurons at 0.5), in FP32
//                   and with TF32 GEMMs; tokens/s and MFU = model FLOPs (est/subnet/flops.hpp,
//                   the products est computes) / time / the measured TF32 GEMM rate.
// Targets: a sampled half at fraction p takes <= p + 0.05 of the full half's time; the full
// TF32 step reaches >= 40% of the TF32 GEMM rate.
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
#include <est/models/gpt2.hpp>
#include <est/subnet/flops.hpp>
#include <est/subnet/sampling.hpp>
#include <est/train/adamw.hpp>
#include <est/train/clip.hpp>

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
    return median_ms(ctx, 2, reps, [&] {
      est::gpt2_attention_forward<float>(ctx, s.rows(s.branch), s.rows(s.input), la, s.w(), heads,
                                         Config.heads, s.B, s.T, s.ws);
      est::gpt2_attention_backward<float>(ctx, s.rows(s.d_input), s.rows(s.d_branch),
                                          s.rows(s.input), la, s.w(), s.g(), heads, Config.heads,
                                          s.B, s.T, s.acts, s.ws);
    });
  };
  auto mlp = [&](const std::vector<int>& neurons) {
    return median_ms(ctx, 2, reps, [&] {
      est::gpt2_mlp_forward<float>(ctx, s.rows(s.branch), s.rows(s.input), la, s.w(), neurons,
                                   Config.mlp_hidden, s.B, s.T, s.ws);
      est::gpt2_mlp_backward<float>(ctx, s.rows(s.d_input), s.rows(s.d_branch), s.rows(s.input),
                                    la, s.w(), s.g(), neurons, Config.mlp_hidden, s.B, s.T,
                                    s.acts, s.ws);
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

template <est::Gpt2Config Config>
void training_step(est::Context<est::cuda>& ctx, Index B, Index T, int reps, double tf32_peak) {
  est::Gpt2<Config, est::cuda> model(ctx, 1);
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
      const est::Subnetwork subnet = est::sampling::Uniform(3).sample(shape, c.rates, 0);
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
      const double flops = double(est::gpt2_step_flops(Config, B, T, subnet).total());
      const double full_flops = double(est::gpt2_step_flops(Config, B, T).total());
      char note[160];
      std::snprintf(note, sizeof note, "%.0f tokens/s, MFU %.1f%% of TF32 GEMM, time %.3f x full "
                    "(FLOPs %.3f)", double(B * T) / (ms * 1e-3),
                    100.0 * flops / (ms * 1e-3) / (tf32_peak * 1e12),
                    full_ms > 0 ? ms / full_ms : 1.0, flops / full_flops);
      add({std::string("gpt2_124m/") + (tf32 ? "tf32/" : "fp32/") + c.name + "/B" +
               std::to_string(B) + "xT" + std::to_string(T),
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
    if (quick) {
      sampled_halves<quick_layer>(ctx, 2, 64, reps);
      training_step<quick_model>(ctx, 2, 64, reps, tf32);
    } else {
      sampled_halves<small_layer>(ctx, 8, 1024, reps);
      training_step<gpt2_124m_padded>(ctx, 8, 1024, 5, tf32);
    }
    std::printf("\nsummary (%s)\n", ctx.properties().name);
    for (const Row& r : rows) print_row(r);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_cuda: %s\n", e.what());
    return 1;
  }
  return 0;
}
