// Gpt2<Config, cuda> against Gpt2<Config, cpu>: the same seed gives the same weights; the loss
// and every gradient agree for the full model and under several fixed EST subnetworks; and 20
// steps of EST training through the Trainer give the same losses on both devices.

#include <catch2/catch.hpp>

#include <string>

#include <est/data/batches.hpp>
#include <est/models/gpt2/model.hpp>
#include <est/subnet/schedule.hpp>
#include <est/train/trainer.hpp>

#include "gpu_support.cuh"

using est::Index;
using est::testing::download;
using est::testing::relative_error;

namespace {

constexpr est::Gpt2Config cfg{.layers = 3, .heads = 4, .width = 32, .mlp_hidden = 128,
                              .vocab = 97, .context = 24};

/// Subnetworks of cfg: full; one layer skipped with some heads and neurons; a single head and a
/// single neuron in one layer.
std::vector<est::Subnetwork> subnetworks() {
  const auto shape = est::subnetwork_shape(cfg);
  std::vector<est::Subnetwork> out{est::Subnetwork::full(shape)};
  est::Subnetwork some(shape);
  some.activate_layer(0, {1, 3}, {0, 5, 6, 7, 64, 127});
  some.activate_layer(2, {0, 1, 2}, {3, 4, 90});
  out.push_back(some);
  est::Subnetwork tiny(shape);
  tiny.activate_layer(1, {2}, {42});
  out.push_back(tiny);
  return out;
}

template <class T>
void compare_gradients(const est::Gpt2<cfg, est::cpu, T>& host_model,
                       const est::Gpt2<cfg, est::cuda, T>& gpu_model,
                       const est::Context<est::cuda>& g) {
  const auto host_grads = host_model.gradient_arena();
  const auto gpu_grads = download(g, gpu_model.gradient_arena());
  for (const auto& spec : host_model.parameter_specs()) {
    INFO("gradient of " << spec.name);
    const est::TensorView<const T> a(gpu_grads.data() + spec.offset, spec.shape);
    const est::TensorView<const T> b(host_grads.data() + spec.offset, spec.shape);
    // Tensors a subnetwork leaves alone must be exactly zero on both.
    CHECK(relative_error(a.span(), b.span(), 1e-20) <=
          est::testing::gpu_tolerance<T>() * (std::is_same_v<T, float> ? 5 : 1));
  }
}

}  // namespace

TEMPLATE_TEST_CASE("Gpt2 on CUDA matches the CPU model: loss and every gradient, full and "
                   "under EST subnetworks", "[cuda][gpt2]", float, double) {
  using T = TestType;
  const est::Context<est::cpu> host(2);
  const est::Context<est::cuda> g;
  est::Gpt2<cfg, est::cpu, T> host_model(host, 7);
  est::Gpt2<cfg, est::cuda, T> gpu_model(g, 7);
  CHECK(relative_error(download(g, gpu_model.parameter_arena()), host_model.parameter_arena()) ==
        0);  // same seed, same weights
  auto tokens = est::testing::random_tokens({3, 19}, cfg.vocab, 1);
  auto targets = est::testing::random_tokens({3, 19}, cfg.vocab, 2);
  int index = 0;
  for (const auto& subnet : subnetworks()) {
    INFO("subnetwork " << index++ << ": " << subnet);
    host_model.zero_grad();
    gpu_model.zero_grad();
    const double loss = host_model.forward(tokens, targets, subnet);
    const double loss_d = gpu_model.forward(tokens, targets, subnet);
    CHECK(std::abs(loss_d - loss) <= est::testing::gpu_tolerance<T>() * loss);
    host_model.backward();
    gpu_model.backward();
    compare_gradients(host_model, gpu_model, g);
  }
  // Evaluation and inference: full model, logits kept.
  const double eval = host_model.evaluate(tokens, targets);
  const double eval_d = gpu_model.evaluate(tokens, targets);
  CHECK(std::abs(eval_d - eval) <= est::testing::gpu_tolerance<T>() * eval);
  CHECK(relative_error(download(g, gpu_model.logits()), host_model.logits()) <=
        est::testing::gpu_tolerance<T>());
}

TEST_CASE("20 EST training steps on CUDA give the CPU's losses within 1e-4", "[cuda][trainer]") {
  using Schedule = est::SubnetworkSchedule<est::sampling::Uniform, est::growth::ThreeStage>;
  const std::string line =
      "the quick brown fox jumps over the lazy dog while the cat sleeps by the warm fire. ";
  std::vector<std::int32_t> ids;
  for (int r = 0; r < 40; ++r) {
    for (unsigned char c : line) ids.push_back(c % cfg.vocab);
  }
  const est::TokenBuffer tokens(std::move(ids));
  const est::BatchSampler<est::TokenBuffer> train{tokens, {0, tokens.size() * 9 / 10}, 4, 16, 11,
                                                  "train"};
  const est::BatchSampler<est::TokenBuffer> val{
      tokens, {tokens.size() * 9 / 10, tokens.size() / 10}, 4, 16, 11, "val"};
  const std::int64_t steps = 20;
  auto schedule = [&] {
    return Schedule(est::subnetwork_shape(cfg), est::sampling::Uniform(3),
                    est::growth::ThreeStage({.stage1 = {0.67, 0.5, 0.5},
                                             .end_of_stage1 = est::Boundary::step(7),
                                             .end_of_stage2 = est::Boundary::step(14)},
                                            steps));
  };
  const est::lr::WarmupCosine lr(3e-3, 3e-4, 2, steps);
  const est::TrainerOptions options{.micro_batches = 2, .grad_clip = 1.0};

  const est::Context<est::cpu> host(2);
  est::Gpt2<cfg> host_model(host, 5);
  est::Trainer<est::Gpt2<cfg>, est::sampling::Uniform, est::growth::ThreeStage,
               est::lr::WarmupCosine, est::TokenBuffer>
      host_trainer(host_model, host, schedule(), lr, train, val, options);
  const est::Context<est::cuda> g;
  est::Gpt2<cfg, est::cuda> gpu_model(g, 5);
  est::Trainer<est::Gpt2<cfg, est::cuda>, est::sampling::Uniform, est::growth::ThreeStage,
               est::lr::WarmupCosine, est::TokenBuffer>
      gpu_trainer(gpu_model, g, schedule(), lr, train, val, options);
  for (std::int64_t s = 0; s < steps; ++s) {
    const auto a = host_trainer.step();
    const auto b = gpu_trainer.step();
    INFO("step " << s);
    CHECK(std::abs(a.loss - b.loss) <= 1e-4);
    CHECK(std::abs(a.grad_norm - b.grad_norm) <= 1e-4 * a.grad_norm);
    CHECK(a.active_layers == b.active_layers);  // the same subnetwork on both devices
  }
  CHECK(std::abs(host_trainer.evaluate() - gpu_trainer.evaluate()) <= 1e-4);
}

TEST_CASE("a CPU tensor handed to a CUDA op is refused at compile time", "[cuda][compile]") {
  // The refusal itself is a compile-fail test (tests/compile); here: the device of a view is
  // part of its type.
  STATIC_REQUIRE(!std::is_same_v<est::TensorView<float, est::cpu>, est::TensorView<float, est::cuda>>);
}
