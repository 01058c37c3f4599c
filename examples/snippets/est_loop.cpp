// Evolving subnetwork training by hand (docs/manual/method.md): the loop est::Trainer runs,
// on a byte-level GPT-2 and a fixed batch. CTest runs it; it prints the loss and the FLOPs saved.

#include <cstdint>
#include <cstdio>

#include <est/est.hpp>

int main() {
  est::Context<est::cpu> ctx(2);
  const std::int64_t B = 4, T = 64, total_steps = 20;
  est::Tensor<std::int32_t> tokens({B, T}), targets({B, T});       // (B, T) token ids
  const char* text = "the quick brown fox jumps over the lazy dog ";
  for (std::int64_t i = 0; i < tokens.numel(); ++i) {
    tokens.data()[i] = text[i % 44];
    targets.data()[i] = text[(i + 1) % 44];
  }
  const double lr = 1e-3;
  float loss = 0;

  // [est-loop]
  constexpr est::Gpt2Config cfg = est::presets::gpt2_bytes;
  est::Gpt2<cfg> model(ctx, /*seed=*/1);
  est::AdamW<float> opt(model.parameter_specs());      // inactive parameters: frozen (default)
  est::SubnetworkSchedule schedule(est::subnetwork_shape(cfg),
                                   est::sampling::Uniform(/*seed=*/1, /*neuron_granularity=*/16),
                                   est::growth::ThreeStage(total_steps));
  est::Tensor<std::uint8_t> active({cfg.parameter_count()});      // one byte per parameter
  est::FlopsMeter flops;

  for (std::int64_t step = 0; step < total_steps; ++step) {
    const est::Subnetwork subnet = schedule.at(step);    // a pure function of (seed, step)
    model.zero_grad();
    loss = model.forward(tokens.view(), targets.view(), subnet);
    model.backward();                                    // gradients of the active slices only
    est::mark_active_parameters(ctx, cfg, subnet, active.view());
    opt.step(ctx, model.parameter_arena(), model.gradient_arena(), lr, active.view());
    flops.add(est::gpt2_step_flops(cfg, B, T, subnet), est::gpt2_step_flops(cfg, B, T));
  }
  // flops.saving(): the fraction of the full model's training FLOPs saved so far.
  // [est-loop]
  std::printf("loss after %lld steps %.4f, FLOPs saved %.1f%%\n",
              static_cast<long long>(total_steps), loss, 100 * flops.saving());
}
