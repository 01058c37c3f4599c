// est/cuda.cuh may come after the model, trainer and checkpoint headers: the models on
// est::cuda still find the CUDA context, tensors and ops (they are looked up when the templates
// are instantiated, below).
#include <est/models/gpt2/model.hpp>
#include <est/models/llama/model.hpp>
#include <est/train/adamw.hpp>
#include <est/train/trainer.hpp>

#include <est/cuda.cuh>

void train_one_step(const est::Context<est::cuda>& gpu, est::ConstView<std::int32_t> tokens,
                    est::ConstView<std::int32_t> targets) {
  est::Gpt2<est::presets::gpt2_tiny, est::cuda> gpt2(gpu, 1);
  est::Llama<est::presets::llama_tiny, est::cuda> llama(gpu, 1);
  est::AdamW<float, est::cuda> opt(gpt2.parameter_specs());
  const est::Subnetwork subnet = est::sampling::Uniform(1).sample(
      est::subnetwork_shape(est::presets::gpt2_tiny), {0.5, 0.5, 0.5}, 0);
  gpt2.zero_grad();
  gpt2.forward(tokens, targets, subnet);
  gpt2.backward();
  est::Tensor<std::uint8_t, est::cuda> mask({est::presets::gpt2_tiny.parameter_count()});
  est::mark_active_parameters(gpu, est::presets::gpt2_tiny, subnet, mask.view());
  opt.step(gpu, gpt2.parameter_arena(), gpt2.gradient_arena(), 1e-3, mask.view());
  llama.zero_grad();
  llama.forward(tokens, targets);
  llama.backward();
}
