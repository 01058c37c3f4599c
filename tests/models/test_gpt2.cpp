// est/models/gpt2/model.hpp: forward against a composition of the reference ops, backward against
// finite differences of the whole model in double, initial loss, overfitting one batch, and
// rejection of bad input.

#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include <est/models/gpt2/model.hpp>
#include <est/train/adamw.hpp>
#include <est/reference/attention.hpp>
#include <est/reference/cross_entropy.hpp>
#include <est/reference/embedding.hpp>
#include <est/reference/gelu.hpp>
#include <est/reference/gemm.hpp>
#include <est/reference/layernorm.hpp>
#include <est/reference/linear.hpp>
#include <est/reference/residual.hpp>

#include "../support/test_support.hpp"

using est::Context;
using est::Index;
using est::Shape;
using est::Tensor;
using est::testing::random_tokens;
using est::testing::randomise;
using est::testing::relative_error;

namespace {

constexpr est::Gpt2Config fd_config{.layers = 2, .heads = 2, .width = 16, .mlp_hidden = 64,
                                    .vocab = 50, .context = 16};


/// The GPT-2 forward pass written with the reference ops only; returns the mean loss and
/// fills `logits` (B, T, V).
template <est::Gpt2Config Cfg>
double reference_forward(const est::Gpt2<Cfg, est::cpu, double>& model, const Tensor<std::int32_t>& tokens,
                         const Tensor<std::int32_t>& targets, Tensor<double>& logits) {
  namespace ref = est::reference;
  const Index B = tokens.shape()[0], T_ = tokens.shape()[1], n = B * T_;
  const Index C = Cfg.width, M = Cfg.mlp_hidden, H = Cfg.heads, V = Cfg.vocab;
  const auto& p = model.parameters();
  Tensor<double> x({B, T_, C}), ln({B, T_, C}), mean({n}), rstd({n}), qkv({B, T_, 3 * C}),
      probs({B, H, T_, T_}), att({B, T_, C}), proj({B, T_, C}), mid({B, T_, C}), fc({B, T_, M}),
      act({B, T_, M});
  ref::embedding_forward<double>(x, tokens, p.wte, p.wpe);
  for (const auto& w : p.layers) {
    ref::layernorm_forward<double>(ln.view().matrix(n), mean, rstd, x.view().matrix(n),
                                   w.ln_1_weight, w.ln_1_bias);
    ref::linear_forward<double>(qkv.view().matrix(n), ln.view().matrix(n), w.attn_weight.matrix(),
                                w.attn_bias);
    ref::attention_forward<double>(att, probs, qkv, H);
    ref::linear_forward<double>(proj.view().matrix(n), att.view().matrix(n),
                                w.attn_proj_weight.matrix(), w.attn_proj_bias);
    ref::residual_forward<double>(mid, x, proj);
    ref::layernorm_forward<double>(ln.view().matrix(n), mean, rstd, mid.view().matrix(n),
                                   w.ln_2_weight, w.ln_2_bias);
    ref::linear_forward<double>(fc.view().matrix(n), ln.view().matrix(n), w.fc_weight.matrix(),
                                w.fc_bias);
    ref::gelu_forward<double>(act, fc);
    ref::linear_forward<double>(proj.view().matrix(n), act.view().matrix(n),
                                w.fc_proj_weight.matrix(), w.fc_proj_bias);
    ref::residual_forward<double>(x, mid, proj);
  }
  ref::layernorm_forward<double>(ln.view().matrix(n), mean, rstd, x.view().matrix(n),
                                 p.ln_f_weight, p.ln_f_bias);
  logits = Tensor<double>({B, T_, V});
  ref::gemm<double>(logits.view().matrix(n), ln.view().matrix(n), est::Transpose::no,
                    p.wte.matrix(), est::Transpose::yes);
  Tensor<double> losses({n});
  return ref::softmax_cross_entropy<double>(losses, est::MatrixView<double>(),
                                            logits.view().matrix(n), targets, 1.0);
}

}  // namespace

TEST_CASE("GPT-2 forward equals the reference ops composed by hand", "[gpt2]") {
  const Context<est::cpu> ctx(2);
  est::Gpt2<fd_config, est::cpu, double> model(ctx, 7);
  randomise(model, 8);
  auto tokens = random_tokens({3, 11}, fd_config.vocab, 9);
  auto targets = random_tokens({3, 11}, fd_config.vocab, 10);
  Tensor<double> logits_ref;
  const double loss_ref = reference_forward(model, tokens, targets, logits_ref);
  CHECK(model.evaluate(tokens.view(), targets.view()) == Approx(loss_ref).epsilon(1e-12));
  CHECK(relative_error(model.logits(), logits_ref) < 1e-12);
}

TEST_CASE("GPT-2 backward equals finite differences for every parameter tensor", "[gpt2]") {
  // One thread: ~30k forward passes of a tiny model are dominated by thread hand-offs.
  const Context<est::cpu> ctx(1);
  est::Gpt2<fd_config, est::cpu, double> model(ctx, 1);
  randomise(model, 2);
  auto tokens = random_tokens({2, 5}, fd_config.vocab, 3);
  auto targets = random_tokens({2, 5}, fd_config.vocab, 4);
  model.zero_grad();
  model.forward(tokens.view(), targets.view());
  model.backward();

  auto arena = model.parameter_arena();
  auto loss = [&] { return double(model.evaluate(tokens.view(), targets.view())); };
  const auto grads = model.gradient_arena();
  for (const auto& spec : model.parameter_specs()) {
    const auto numeric = est::testing::numerical_gradient(arena.data() + spec.offset,
                                                          spec.shape.numel(), loss);
    est::TensorView<const double> analytic(grads.data() + spec.offset, spec.shape);
    INFO(spec.name << " " << spec.shape);
    // Relative to the tensor's largest gradient; every tensor has a non-trivial gradient.
    CHECK(relative_error(analytic, numeric) <= 1e-6);
    double largest = 0;
    for (double g : numeric) largest = std::max(largest, std::abs(g));
    CHECK(largest > 1e-6);
  }
}

TEST_CASE("GPT-2 gradients accumulate over backward calls", "[gpt2]") {
  const Context<est::cpu> ctx(1);
  est::Gpt2<fd_config, est::cpu, double> model(ctx, 5);
  auto tokens = random_tokens({2, 6}, fd_config.vocab, 6);
  model.zero_grad();
  model.forward(tokens.view(), tokens.view());
  model.backward();
  const std::vector<double> once(model.gradient_arena().data(),
                                 model.gradient_arena().data() + model.gradient_arena().numel());
  model.forward(tokens.view(), tokens.view());
  model.backward();
  for (std::size_t i = 0; i < once.size(); i += 97) {
    CHECK(model.gradient_arena()[Index(i)] == Approx(2 * once[i]).epsilon(1e-12));
  }
}

TEST_CASE("GPT-2 initial loss is close to ln(vocab)", "[gpt2]") {
  const Context<est::cpu> ctx(2);
  est::Gpt2<est::presets::gpt2_tiny> model(ctx, 42);
  auto tokens = random_tokens({4, 16}, est::presets::gpt2_tiny.vocab, 1);
  auto targets = random_tokens({4, 16}, est::presets::gpt2_tiny.vocab, 2);
  const float loss = model.forward(tokens.view(), targets.view());
  CHECK(std::abs(loss - std::log(float(est::presets::gpt2_tiny.vocab))) < 0.1);
}

TEST_CASE("GPT-2 initialisation follows GPT-2's recipe", "[gpt2]") {
  const Context<est::cpu> ctx(1);
  est::Gpt2<est::presets::gpt2_tiny> model(ctx, 3);
  auto stddev = [](est::TensorView<const float> t) {
    double s = 0, s2 = 0;
    for (Index i = 0; i < t.numel(); ++i) s += t[i], s2 += double(t[i]) * t[i];
    const double m = s / double(t.numel());
    return std::sqrt(s2 / double(t.numel()) - m * m);
  };
  const auto& p = model.parameters();
  CHECK(stddev(p.wte) == Approx(0.02).epsilon(0.05));
  CHECK(stddev(p.layers[0].fc_weight) == Approx(0.02).epsilon(0.05));
  CHECK(stddev(p.layers[1].fc_proj_weight) == Approx(0.02 / std::sqrt(4.0)).epsilon(0.05));
  CHECK(p.layers[1].ln_2_weight[5] == 1.0f);
  CHECK(p.layers[0].attn_bias[7] == 0.0f);
  // Same seed, same weights; another seed, other weights.
  est::Gpt2<est::presets::gpt2_tiny> same(ctx, 3), other(ctx, 4);
  CHECK(relative_error(same.parameter_arena(), model.parameter_arena()) == 0);
  CHECK(relative_error(other.parameter_arena(), model.parameter_arena()) > 0.1);
}

TEST_CASE("GPT-2 overfits one fixed batch", "[gpt2]") {
  const Context<est::cpu> ctx(1);
  est::Gpt2<est::presets::gpt2_tiny> model(ctx, 11);
  auto tokens = random_tokens({2, 16}, est::presets::gpt2_tiny.vocab, 12);
  auto targets = random_tokens({2, 16}, est::presets::gpt2_tiny.vocab, 13);
  // Adam written here (not est's optimizer): lr 3e-3, betas 0.9/0.999.
  auto params = model.parameter_arena();
  auto grads = model.gradient_arena();
  std::vector<float> m(params.numel()), v(params.numel());
  float loss = 0;
  for (int step = 1; step <= 300; ++step) {
    model.zero_grad();
    loss = model.forward(tokens.view(), targets.view());
    model.backward();
    for (Index i = 0; i < params.numel(); ++i) {
      m[i] = 0.9f * m[i] + 0.1f * grads[i];
      v[i] = 0.999f * v[i] + 0.001f * grads[i] * grads[i];
      const float mh = m[i] / (1 - std::pow(0.9f, float(step)));
      const float vh = v[i] / (1 - std::pow(0.999f, float(step)));
      params[i] -= 3e-3f * mh / (std::sqrt(vh) + 1e-8f);
    }
    if (loss < 0.05f) break;
  }
  CHECK(loss < 0.1f);
}

TEST_CASE("GPT-2 results are deterministic for a thread count and agree across counts",
          "[gpt2]") {
  auto run = [](int threads) {
    const Context<est::cpu> ctx(threads);
    est::Gpt2<est::presets::gpt2_tiny> model(ctx, 21);
    auto tokens = random_tokens({3, 16}, est::presets::gpt2_tiny.vocab, 22);
    model.zero_grad();
    model.forward(tokens.view(), tokens.view());
    model.backward();
    auto g = model.gradient_arena();
    return std::vector<float>(g.data(), g.data() + g.numel());
  };
  const auto a = run(2), b = run(2), c = run(1);
  CHECK(a == b);
  CHECK(relative_error(a, c) < 1e-4);
}

TEST_CASE("GPT-2 rejects bad input with messages naming it", "[gpt2][errors]") {
  const Context<est::cpu> ctx(1);
  est::Gpt2<est::presets::gpt2_tiny> model(ctx, 1);
  Tensor<std::int32_t> tokens({2, 4}), targets({2, 4});
  tokens[5] = 64;  // vocab is 64
  EST_CHECK_THROWS(model.forward(tokens.view(), targets.view()), est::value_error,
                   "tokens[1, 1] = 64 is outside the vocabulary [0, 64)");
  tokens[5] = 0;
  targets[0] = -3;
  EST_CHECK_THROWS(model.forward(tokens.view(), targets.view()), est::value_error,
                   "targets[0, 0] = -3 is outside the vocabulary");
  targets[0] = 0;
  Tensor<std::int32_t> too_long({1, 17}), wrong_targets({2, 5});
  EST_CHECK_THROWS(model.forward(too_long.view()), est::shape_error, "1 <= T <= context = 16");
  EST_CHECK_THROWS(model.forward(tokens.view(), wrong_targets.view()), est::shape_error,
                   "targets has shape (2, 5), expected (2, 4)");
  est::Gpt2<est::presets::gpt2_tiny> fresh(ctx, 1);
  EST_CHECK_THROWS(fresh.backward(), est::error, "call forward(tokens, targets) first");
  fresh.forward(tokens.view(), targets.view());
  EST_CHECK_THROWS((void)fresh.logits(), est::error, "holds the loss gradient");
}

TEST_CASE("GPT-2 with check_numerics names a non-finite loss", "[gpt2][errors]") {
  Context<est::cpu> ctx(1);
  ctx.check_numerics = true;
  est::Gpt2<est::presets::gpt2_tiny> model(ctx, 1);
  model.parameter_arena()[0] = NAN;  // wte[0, 0]
  Tensor<std::int32_t> tokens({1, 4});
  EST_CHECK_THROWS(model.forward(tokens.view()), est::value_error,
                   "logits[0, 0, 0] = nan is not finite");
}

TEST_CASE("GPT-2 after a rejected call computes what a fresh model computes", "[gpt2]") {
  const Context<est::cpu> ctx(1);
  est::Gpt2<fd_config, est::cpu, double> used(ctx, 4), fresh(ctx, 4);
  auto tokens = random_tokens({2, 6}, fd_config.vocab, 5);
  auto targets = random_tokens({2, 6}, fd_config.vocab, 6);
  auto bad = targets;
  bad[3] = fd_config.vocab;
  used.zero_grad();
  fresh.zero_grad();
  CHECK(used.forward(tokens.view(), targets.view()) == fresh.forward(tokens.view(), targets.view()));
  // Rejected before any work: the pending backward of the accepted call is still valid.
  CHECK_THROWS_AS(used.forward(tokens.view(), bad.view()), est::value_error);
  CHECK_THROWS_AS(used.evaluate(tokens.view(), bad.view()), est::value_error);
  CHECK_THROWS_AS(used.forward(bad.view(), targets.view()), est::value_error);  // bad tokens
  used.backward();
  fresh.backward();
  CHECK(relative_error(used.gradient_arena(), fresh.gradient_arena()) == 0);
  // And the next training step matches too.
  CHECK(used.forward(targets.view(), tokens.view()) == fresh.forward(targets.view(), tokens.view()));
}

TEST_CASE("GPT-2 handles changing batch shapes and single-token sequences", "[gpt2]") {
  const Context<est::cpu> ctx(1);
  est::Gpt2<fd_config, est::cpu, double> model(ctx, 8), other(ctx, 8);
  auto tokens = random_tokens({2, 7}, fd_config.vocab, 9);
  auto targets = random_tokens({2, 7}, fd_config.vocab, 10);
  auto t3 = random_tokens({3, 4}, fd_config.vocab, 11);
  auto t1 = random_tokens({1, 1}, fd_config.vocab, 12);
  model.zero_grad();
  other.zero_grad();
  model.forward(tokens.view(), targets.view());
  (void)model.evaluate(t3.view(), t3.view());  // another shape in between
  (void)model.evaluate(t1.view(), t1.view());  // T = 1
  CHECK(model.logits().shape() == Shape{1, 1, fd_config.vocab});
  // The training pass was replaced by the evaluation; run it again, then compare.
  model.forward(tokens.view(), targets.view());
  model.backward();
  other.forward(tokens.view(), targets.view());
  other.backward();
  CHECK(relative_error(model.gradient_arena(), other.gradient_arena()) == 0);
  EST_CHECK_THROWS((void)model.logits(), est::error, "the last pass was a training forward");
}

TEST_CASE("GPT-2 micro-batches with loss_scale add up to the full batch", "[gpt2]") {
  const Context<est::cpu> ctx(1);
  est::Gpt2<fd_config, est::cpu, double> model(ctx, 13);
  randomise(model, 14);
  auto tokens = random_tokens({4, 6}, fd_config.vocab, 15);
  auto targets = random_tokens({4, 6}, fd_config.vocab, 16);
  model.zero_grad();
  const double full_loss = model.forward(tokens.view(), targets.view());
  model.backward();
  const auto full = model.gradient_arena();
  const std::vector<double> full_grads(full.data(), full.data() + full.numel());
  model.zero_grad();
  double half_losses = 0;
  for (int half = 0; half < 2; ++half) {
    est::TensorView<const std::int32_t> tok(tokens.data() + half * 12, Shape{2, 6});
    est::TensorView<const std::int32_t> tgt(targets.data() + half * 12, Shape{2, 6});
    half_losses += 0.5 * model.forward(tok, tgt, 0.5);
    model.backward();
  }
  CHECK(half_losses == Approx(full_loss).epsilon(1e-12));
  CHECK(relative_error(model.gradient_arena(), full_grads) < 1e-12);
}

TEST_CASE("GPT-2 trained with est::AdamW lowers its loss on a fixed batch", "[gpt2]") {
  const Context<est::cpu> ctx(1);
  est::Gpt2<est::presets::gpt2_tiny> model(ctx, 17);
  est::AdamW<float> optimizer(model.parameter_specs(), {.weight_decay = 0.0});
  auto tokens = random_tokens({2, 16}, est::presets::gpt2_tiny.vocab, 18);
  float first = 0, last = 0;
  for (int step = 0; step < 60; ++step) {
    model.zero_grad();
    last = model.forward(tokens.view(), tokens.view());
    if (step == 0) first = last;
    model.backward();
    optimizer.step(ctx, model.parameter_arena(), model.gradient_arena(), 3e-3);
  }
  CHECK(last < 0.5f * first);
}
