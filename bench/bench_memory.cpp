// Memory of CPU training: the peak resident set of GPT-2 training steps against the analytic
// minimum, and the resident set over thousands of EST steps (it must not grow).
//
// Analytic minimum of a step = 4 · P floats (parameters, gradients, AdamW's two moments) + the
// activations the backward pass reads, counted per layer from the shapes (LayerNorm outputs and
// statistics, QKV, attention probabilities (B, H, T, T), head outputs, the two residual sums, the
// MLP pre-activation and activation) plus the embeddings, the final LayerNorm, the (B, T, V)
// logits (which the fused loss turns into their gradient) and the per-token losses. What est
// holds besides: the backward pass's scratch buffers (one layer's worth, shared), the GEMM
// packing buffers, and the program itself.
//
// Each case runs in a child process, so every peak is its own (VmHWM of /proc/self/status).
//
// Usage: bench_memory [--quick]   (--quick: small shapes and 300 steps, for CI)

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <string>

#include <est/data/batches.hpp>
#include <est/models/gpt2/model.hpp>
#include <est/subnet/schedule.hpp>
#include <est/train/adamw.hpp>
#include <est/train/trainer.hpp>

namespace {

/// A field of /proc/self/status in MiB ("VmHWM" peak resident set, "VmRSS" current).
double status_mib(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0) return std::stod(line.substr(std::strlen(field) + 1)) / 1024.0;
  }
  return -1;
}

/// Bytes the backward pass needs besides the parameters: the saved activations of est's GPT-2.
double activation_bytes(const est::Gpt2Config& c, double B, double T) {
  const double N = B * T, C = c.width, M = c.mlp_hidden, H = c.heads, V = c.vocab;
  const double per_layer = N * C          // ln_1
                           + 2 * N        // its mean and rstd
                           + 3 * N * C    // qkv
                           + B * H * T * T  // probs
                           + N * C        // attn
                           + N * C        // residual_2
                           + N * C + 2 * N  // ln_2 and its statistics
                           + 2 * N * M    // fc, fc_gelu
                           + N * C;       // residual_3
  return 4.0 * (c.layers * per_layer + N * C /*encoded*/ + N * C + 2 * N /*ln_f*/ + N * V +
                N /*losses*/);
}

/// Runs `f` in a child process; the child's printed line is the result.
template <class F>
void in_child(F&& f) {
  std::fflush(stdout);
  const pid_t pid = fork();
  if (pid == 0) {
    f();
    std::fflush(stdout);
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) std::printf("  (case failed)\n");
}

template <est::Gpt2Config Config>
void peak_of_steps(const char* name, est::Index B, est::Index T, int steps) {
  in_child([&] {
    const est::Context<est::cpu> ctx(2);
    est::Gpt2<Config> model(ctx, 1);
    est::AdamW<float> optimizer(model.parameter_specs());
    est::Tensor<std::int32_t> tokens({B, T}), targets({B, T});
    std::mt19937 gen(2);
    std::uniform_int_distribution<int> pick(0, std::min(Config.vocab, 50257) - 1);
    for (est::Index i = 0; i < tokens.numel(); ++i) tokens[i] = pick(gen), targets[i] = pick(gen);
    for (int s = 0; s < steps; ++s) {
      model.zero_grad();
      model.forward(tokens.view(), targets.view());
      model.backward();
      optimizer.step(ctx, model.parameter_arena(), model.gradient_arena(), 1e-4);
    }
    const double state = 16.0 * double(Config.parameter_count());
    const double minimum = (state + activation_bytes(Config, double(B), double(T))) / 1048576.0;
    const double peak = status_mib("VmHWM:");
    std::printf("%-10s B %3lld T %4lld | parameters+gradients+moments %8.1f MiB | saved "
                "activations %8.1f MiB | minimum %8.1f MiB | peak RSS %8.1f MiB | ratio %.3f\n",
                name, static_cast<long long>(B), static_cast<long long>(T), state / 1048576.0,
                minimum - state / 1048576.0, minimum, peak, peak / minimum);
  });
}

/// EST training through the Trainer for `steps` steps: the resident set after the first tenth and
/// at the end.
template <est::Gpt2Config Config>
void growth_over_steps(const char* name, est::Index B, est::Index T, std::int64_t steps) {
  in_child([&] {
    std::vector<std::int32_t> ids(200000);
    std::mt19937 gen(3);
    std::uniform_int_distribution<int> pick(0, Config.vocab - 1);
    for (auto& id : ids) id = pick(gen);
    const est::TokenBuffer corpus(std::move(ids));
    const est::Context<est::cpu> ctx(2);
    const est::BatchSampler<est::TokenBuffer> train(corpus, {0, 180000}, B, T, 1, "train");
    const est::BatchSampler<est::TokenBuffer> val(corpus, {180000, 20000}, B, T, 1, "val");
    est::Gpt2<Config> model(ctx, 1);
    est::Trainer trainer(model, ctx,
                         est::SubnetworkSchedule(est::subnetwork_shape(Config),
                                                 est::sampling::Uniform(1, 8),
                                                 est::growth::ThreeStage(steps)),
                         est::lr::WarmupCosine(1e-3, 1e-4, steps / 20, steps), train, val,
                         est::TrainerOptions{.eval_batches = 2});
    double early = 0;
    for (std::int64_t s = 0; s < steps; ++s) {
      trainer.step();
      if ((s + 1) % 100 == 0) trainer.evaluate();
      if (s + 1 == steps / 10) early = status_mib("VmRSS:");
    }
    const double late = status_mib("VmRSS:");
    std::printf("%-10s %lld EST steps (all three stages, evaluation every 100) | RSS after %lld "
                "steps %.1f MiB, after %lld steps %.1f MiB | growth %+.2f MiB\n",
                name, static_cast<long long>(steps), static_cast<long long>(steps / 10), early,
                static_cast<long long>(steps), late, late - early);
  });
}

constexpr est::Gpt2Config quick_model{.layers = 2, .heads = 4, .width = 64, .mlp_hidden = 256,
                                      .vocab = 512, .context = 64};

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  std::printf("peak resident memory of training steps (forward, backward, AdamW) against the "
              "analytic minimum\n");
  if (quick) {
    peak_of_steps<quick_model>("quick", 4, 64, 3);
    growth_over_steps<quick_model>("quick", 4, 64, 300);
    return 0;
  }
  peak_of_steps<est::presets::gpt2_small6>("small6", 8, 256, 3);
  peak_of_steps<est::presets::gpt2_124m>("gpt2_124m", 4, 256, 3);
  growth_over_steps<est::presets::gpt2_bytes>("bytes", 16, 64, 5000);
  return 0;
}
