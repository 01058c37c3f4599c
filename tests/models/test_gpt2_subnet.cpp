// Evolving subnetwork training in est/models/gpt2/model.hpp. The sliced computation (packed heads and
// neurons, skipped layers) is checked against a reference written here with the reference ops:
// the full model with inactive heads and neurons multiplied by zero, active ones by H/|heads| and
// M/|neurons| (or their own scales), inactive layers bypassed and active layers' residual
// branches multiplied by the layer's scale. Its gradients are checked against finite
// differences of that masked reference and of the sliced model itself; untouched gradient
// elements must stay bit for bit as they were; the full subnetwork must train bit for bit like
// plain training.

#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <random>

#include <est/models/gpt2/model.hpp>
#include <est/reference/attention.hpp>
#include <est/reference/cross_entropy.hpp>
#include <est/reference/embedding.hpp>
#include <est/reference/gelu.hpp>
#include <est/reference/gemm.hpp>
#include <est/reference/layernorm.hpp>
#include <est/reference/linear.hpp>
#include <est/reference/residual.hpp>
#include <est/subnet/schedule.hpp>
#include <est/train/adamw.hpp>

#include "../support/subnet_support.hpp"
#include "../support/test_support.hpp"

using est::Context;
using est::Index;
using est::Subnetwork;
using est::Tensor;
using est::testing::random_tokens;
using est::testing::randomise;
using est::testing::relative_error;

namespace {

constexpr est::Gpt2Config cfg{.layers = 3, .heads = 4, .width = 16, .mlp_hidden = 32,
                              .vocab = 32, .context = 8};
constexpr est::SubnetworkShape shape = est::subnetwork_shape(cfg);


/// The masked full model in double: returns the mean loss and fills the per-token losses.
template <class Scalar>
double masked_reference(const est::Gpt2<cfg, est::cpu, Scalar>& model, const Subnetwork& subnet,
                        const Tensor<std::int32_t>& tokens, const Tensor<std::int32_t>& targets,
                        Tensor<double>* token_losses = nullptr) {
  namespace ref = est::reference;
  const Index B = tokens.shape()[0], T_ = tokens.shape()[1], n = B * T_;
  const Index C = cfg.width, M = cfg.mlp_hidden, H = cfg.heads, V = cfg.vocab, d = C / H;
  // The parameters in double.
  Tensor<double> arena({cfg.parameter_count()});
  for (Index i = 0; i < arena.numel(); ++i) arena[i] = double(model.parameter_arena()[i]);
  const auto p = est::layout_gpt2<double>(cfg, arena.data(), nullptr);
  Tensor<double> x({B, T_, C}), ln({B, T_, C}), mean({n}), rstd({n}), qkv({B, T_, 3 * C}),
      probs({B, H, T_, T_}), att({B, T_, C}), proj({B, T_, C}), mid({B, T_, C}), fc({B, T_, M}),
      act({B, T_, M});
  ref::embedding_forward<double>(x, tokens, p.wte, p.wpe);
  for (int l = 0; l < cfg.layers; ++l) {
    if (!subnet.is_active(l)) continue;  // bypassed: x passes through
    const auto& w = p.layers[static_cast<std::size_t>(l)];
    std::vector<double> head_factor(H, 0.0), neuron_factor(M, 0.0);
    for (std::size_t k = 0; k < subnet.heads(l).size(); ++k) {
      head_factor[std::size_t(subnet.heads(l)[k])] = subnet.head_scale(l, k);
    }
    for (std::size_t k = 0; k < subnet.neurons(l).size(); ++k) {
      neuron_factor[std::size_t(subnet.neurons(l)[k])] = subnet.neuron_scale(l, k);
    }
    ref::layernorm_forward<double>(ln.view().matrix(n), mean, rstd, x.view().matrix(n),
                                   w.ln_1_weight, w.ln_1_bias);
    ref::linear_forward<double>(qkv.view().matrix(n), ln.view().matrix(n), w.attn_weight.matrix(),
                                w.attn_bias);
    ref::attention_forward<double>(att, probs, qkv, H);
    for (Index r = 0; r < n; ++r) {
      for (Index c = 0; c < C; ++c) att[r * C + c] *= head_factor[c / d];
    }
    ref::linear_forward<double>(proj.view().matrix(n), att.view().matrix(n),
                                w.attn_proj_weight.matrix(), w.attn_proj_bias);
    ref::residual_forward<double>(mid, x, proj, subnet.layer_scale(l));
    ref::layernorm_forward<double>(ln.view().matrix(n), mean, rstd, mid.view().matrix(n),
                                   w.ln_2_weight, w.ln_2_bias);
    ref::linear_forward<double>(fc.view().matrix(n), ln.view().matrix(n), w.fc_weight.matrix(),
                                w.fc_bias);
    ref::gelu_forward<double>(act, fc);
    for (Index r = 0; r < n; ++r) {
      for (Index j = 0; j < M; ++j) act[r * M + j] *= neuron_factor[j];
    }
    ref::linear_forward<double>(proj.view().matrix(n), act.view().matrix(n),
                                w.fc_proj_weight.matrix(), w.fc_proj_bias);
    ref::residual_forward<double>(x, mid, proj, subnet.layer_scale(l));
  }
  ref::layernorm_forward<double>(ln.view().matrix(n), mean, rstd, x.view().matrix(n),
                                 p.ln_f_weight, p.ln_f_bias);
  Tensor<double> logits({B, T_, V});
  ref::gemm<double>(logits.view().matrix(n), ln.view().matrix(n), est::Transpose::no,
                    p.wte.matrix(), est::Transpose::yes);
  Tensor<double> losses({n});
  const double loss = ref::softmax_cross_entropy<double>(losses, est::MatrixView<double>(),
                                                         logits.view().matrix(n), targets, 1.0);
  if (token_losses) *token_losses = losses;
  return loss;
}

/// Layer 1 skipped; layer 0 with two heads and 12 neurons; layer 2 with one head, 5 neurons.
Subnetwork fixed_subnetwork() {
  Subnetwork s(shape);
  s.activate_layer(0, {1, 2}, {0, 3, 4, 5, 9, 14, 15, 20, 21, 27, 30, 31});
  s.activate_layer(2, {3}, {2, 7, 8, 19, 26});
  return s;
}

}  // namespace

TEST_CASE("sliced forward equals the masked reference for random subnetworks", "[gpt2][subnet]") {
  const Context<est::cpu> ctx(2);
  est::Gpt2<cfg, est::cpu, double> model(ctx, 3);
  est::Gpt2<cfg, est::cpu, float> model_f(ctx, 3);
  randomise(model, 4);
  randomise(model_f, 4);
  auto tokens = random_tokens({2, 6}, cfg.vocab, 5);
  auto targets = random_tokens({2, 6}, cfg.vocab, 6);
  const double full_loss = masked_reference(model, Subnetwork::full(shape), tokens, targets);
  for (const auto& subnet : est::testing::random_subnetworks(shape)) {
    INFO(subnet);
    Tensor<double> expected;
    const double loss_ref = masked_reference(model, subnet, tokens, targets, &expected);
    CHECK(double(model.forward(tokens.view(), targets.view(), subnet)) ==
          Approx(loss_ref).epsilon(1e-12));
    // Each per-token loss is a function of that token's whole logits row.
    CHECK(relative_error(model.losses(), expected) < 1e-12);
    CHECK(model_f.forward(tokens.view(), targets.view(), subnet) ==
          Approx(loss_ref).epsilon(1e-5));
    CHECK(relative_error(model_f.losses(), expected) < 1e-5);
    CHECK(std::abs(loss_ref - full_loss) > 1e-3);  // the subnetwork really is another function
  }
}

TEST_CASE("sliced gradients equal the masked reference's and leave inactive slices untouched",
          "[gpt2][subnet]") {
  const Context<est::cpu> ctx(1);
  est::Gpt2<cfg, est::cpu, double> model(ctx, 7);
  randomise(model, 8);
  auto tokens = random_tokens({2, 5}, cfg.vocab, 9);
  auto targets = random_tokens({2, 5}, cfg.vocab, 10);
  auto grads = model.gradient_arena();
  Tensor<std::uint8_t> mask({cfg.parameter_count()});
  std::mt19937_64 pick(12);
  for (const auto& subnet : est::testing::random_subnetworks(shape)) {
    INFO(subnet);
    // Gradients start at random values: backward must add to active elements only.
    const auto start = est::testing::random_tensor<double>({cfg.parameter_count()}, 13);
    std::copy_n(start.data(), start.numel(), grads.data());
    model.forward(tokens.view(), targets.view(), subnet);
    model.backward();
    est::mark_active_parameters(cfg, subnet, mask);

    auto arena = model.parameter_arena();
    auto loss = [&] { return masked_reference(model, subnet, tokens, targets); };
    for (const auto& spec : model.parameter_specs()) {
      INFO(spec.name);
      std::vector<Index> active, inactive;
      double scale = 1e-3;
      for (Index i = spec.offset; i < spec.offset + spec.shape.numel(); ++i) {
        if (mask[i]) {
          active.push_back(i);
          scale = std::max(scale, std::abs(grads[i] - start[i]));
          // The mask marks exactly what trains: every marked element gets a gradient, but the
          // rows of positions past T (no token uses them) and the key biases (adding a
          // constant to every score of a softmax row changes nothing: their gradient is 0).
          const Index at = i - spec.offset;
          const bool key_bias = spec.name.ends_with("attn.c_attn.bias") && at >= cfg.width &&
                                at < 2 * cfg.width;
          if (spec.name != "wpe.weight" && !key_bias) REQUIRE(grads[i] != start[i]);
        } else {
          inactive.push_back(i);
          REQUIRE(std::memcmp(&grads[i], &start[i], sizeof(double)) == 0);
        }
      }
      // A few active elements against finite differences of the masked reference, and a few
      // inactive ones, whose masked-reference gradient must vanish.
      for (int trial = 0; trial < 4; ++trial) {
        for (auto* set : {&active, &inactive}) {
          if (set->empty()) continue;
          const Index i = (*set)[pick() % set->size()];
          const double numeric = est::testing::numerical_gradient(arena.data() + i, 1, loss)[0];
          CHECK(std::abs((grads[i] - start[i]) - numeric) <= 1e-7 * scale);
        }
      }
    }
  }
}

TEST_CASE("sliced backward equals finite differences of the sliced forward in double",
          "[gpt2][subnet]") {
  const Context<est::cpu> ctx(1);
  est::Gpt2<cfg, est::cpu, double> model(ctx, 1);
  randomise(model, 2);
  auto tokens = random_tokens({2, 5}, cfg.vocab, 3);
  auto targets = random_tokens({2, 5}, cfg.vocab, 4);
  const Subnetwork subnet = fixed_subnetwork();
  model.zero_grad();
  model.forward(tokens.view(), targets.view(), subnet);
  model.backward();
  const Tensor<double> analytic_arena = [&] {
    Tensor<double> t({cfg.parameter_count()});
    std::copy_n(model.gradient_arena().data(), t.numel(), t.data());
    return t;
  }();
  auto arena = model.parameter_arena();
  auto loss = [&] { return double(model.forward(tokens.view(), targets.view(), subnet)); };
  for (const auto& spec : model.parameter_specs()) {
    INFO(spec.name << " " << spec.shape);
    const auto numeric = est::testing::numerical_gradient(arena.data() + spec.offset,
                                                          spec.shape.numel(), loss);
    est::TensorView<const double> analytic(analytic_arena.data() + spec.offset, spec.shape);
    CHECK(relative_error(analytic, numeric, 1e-3) <= 1e-6);
  }
  // The skipped layer has no gradient at all; a trained one has.
  for (const auto& spec : model.parameter_specs()) {
    double largest = 0;
    for (Index i = 0; i < spec.shape.numel(); ++i) {
      largest = std::max(largest, std::abs(analytic_arena[spec.offset + i]));
    }
    INFO(spec.name);
    if (spec.name.starts_with("h.1.")) {
      CHECK(largest == 0.0);
    } else {
      CHECK(largest > 1e-6);
    }
  }
}

TEST_CASE("training under sampling::Full is bit for bit plain training", "[gpt2][subnet]") {
  const Context<est::cpu> ctx(2);
  est::Gpt2<est::presets::gpt2_tiny> plain(ctx, 21), evolving(ctx, 21);
  est::AdamW<float> opt_plain(plain.parameter_specs()), opt_evolving(evolving.parameter_specs());
  const est::SubnetworkSchedule full_schedule(est::subnetwork_shape(est::presets::gpt2_tiny),
                                              est::sampling::Full(), est::growth::ThreeStage(4));
  // Uniform at rate 1 draws every unit too.
  const est::SubnetworkSchedule uniform_at_one(est::subnetwork_shape(est::presets::gpt2_tiny),
                                               est::sampling::Uniform(5), est::growth::Constant());
  Tensor<std::uint8_t> mask({est::presets::gpt2_tiny.parameter_count()});
  for (int step = 0; step < 4; ++step) {
    auto tokens = random_tokens({2, 16}, est::presets::gpt2_tiny.vocab, 30 + step);
    auto targets = random_tokens({2, 16}, est::presets::gpt2_tiny.vocab, 40 + step);
    const Subnetwork subnet = step % 2 ? full_schedule.at(step) : uniform_at_one.at(step);
    REQUIRE(subnet.is_full());
    plain.zero_grad();
    evolving.zero_grad();
    const float loss_plain = plain.forward(tokens.view(), targets.view());
    const float loss_evolving = evolving.forward(tokens.view(), targets.view(), subnet);
    CHECK(std::memcmp(&loss_plain, &loss_evolving, sizeof(float)) == 0);
    plain.backward();
    evolving.backward();
    est::mark_active_parameters(est::presets::gpt2_tiny, subnet, mask);
    opt_plain.step(ctx, plain.parameter_arena(), plain.gradient_arena(), 1e-2);
    opt_evolving.step(ctx, evolving.parameter_arena(), evolving.gradient_arena(), 1e-2, mask);
  }
  const auto a = plain.parameter_arena(), b = evolving.parameter_arena();
  CHECK(std::memcmp(a.data(), b.data(), sizeof(float) * std::size_t(a.numel())) == 0);
}

TEST_CASE("mark_active_parameters counts what the subnetwork trains", "[gpt2][subnet]") {
  const Subnetwork subnet = fixed_subnetwork();
  Tensor<std::uint8_t> mask({cfg.parameter_count()});
  est::mark_active_parameters(cfg, subnet, mask);
  Index marked = 0;
  for (Index i = 0; i < mask.numel(); ++i) marked += mask[i];
  // Counted by hand from the layout: C = 16, d = 4, V = 32, P = 8.
  //   always:  wte 32·16 + wpe 8·16 + ln_f 2·16                       = 672
  //   layer 0: LayerNorms 4·16, proj biases 2·16, 2 heads: QKV 3·8·(16+1) + W_O 8·16,
  //            12 neurons: 12·(16+1) + 12·16                          = 96 + 536 + 396 = 1028
  //   layer 2: 96, 1 head: 3·4·17 + 4·16 = 268, 5 neurons: 5·17 + 5·16 = 165   = 529
  CHECK(marked == 672 + 1028 + 529);
}

TEST_CASE("a bad subnetwork is rejected before anything changes", "[gpt2][subnet][errors]") {
  const Context<est::cpu> ctx(1);
  est::Gpt2<cfg, est::cpu, double> model(ctx, 1);
  auto tokens = random_tokens({2, 5}, cfg.vocab, 3);
  auto targets = random_tokens({2, 5}, cfg.vocab, 4);
  model.zero_grad();
  model.forward(tokens.view(), targets.view(), fixed_subnetwork());  // pending backward

  Subnetwork wrong_shape({3, 4, 16});
  wrong_shape.activate_layer(0, {0}, {0});
  EST_CHECK_THROWS(model.forward(tokens.view(), targets.view(), wrong_shape), est::value_error,
                   "the subnetwork has shape (3, 4, 16), expected (layers, heads, mlp_hidden) = "
                   "(3, 4, 32)");
  Subnetwork duplicate(shape);
  duplicate.activate_layer(1, {2, 2}, {0});
  EST_CHECK_THROWS(model.forward(tokens.view(), targets.view(), duplicate), est::value_error,
                   "layer 1 head 2 is listed twice");
  Subnetwork empty(shape);
  EST_CHECK_THROWS(model.forward(tokens.view(), targets.view(), empty), est::value_error,
                   "no active layer");

  // The pending backward is still that of the fixed subnetwork, as for a fresh model.
  model.backward();
  est::Gpt2<cfg, est::cpu, double> fresh(ctx, 1);
  fresh.zero_grad();
  fresh.forward(tokens.view(), targets.view(), fixed_subnetwork());
  fresh.backward();
  const auto a = model.gradient_arena(), b = fresh.gradient_arena();
  CHECK(std::memcmp(a.data(), b.data(), sizeof(double) * std::size_t(a.numel())) == 0);
}

TEST_CASE("sliced passes agree across thread counts and evaluation stays full",
          "[gpt2][subnet]") {
  const Context<est::cpu> one(1), two(2);
  est::Gpt2<cfg> a(one, 5), b(two, 5);
  randomise(a, 6);
  randomise(b, 6);
  auto tokens = random_tokens({3, 8}, cfg.vocab, 7);
  auto targets = random_tokens({3, 8}, cfg.vocab, 8);
  const Subnetwork subnet = fixed_subnetwork();
  a.zero_grad();
  b.zero_grad();
  CHECK(a.forward(tokens.view(), targets.view(), subnet) ==
        Approx(b.forward(tokens.view(), targets.view(), subnet)).epsilon(1e-6));
  a.backward();
  b.backward();
  CHECK(relative_error(a.gradient_arena(), b.gradient_arena()) < 1e-5);
  // Evaluation after a sliced step runs the full model.
  CHECK(double(a.evaluate(tokens.view(), targets.view())) ==
        Approx(masked_reference(a, Subnetwork::full(shape), tokens, targets)).epsilon(1e-5));
}

TEST_CASE("a frozen AdamW step on a subnetwork leaves everything outside it bit for bit",
          "[gpt2][subnet]") {
  const Context<est::cpu> ctx(2);
  est::Gpt2<cfg> model(ctx, 9);
  est::AdamW<float> opt(model.parameter_specs());  // frozen by default
  auto tokens = random_tokens({2, 6}, cfg.vocab, 1);
  auto targets = random_tokens({2, 6}, cfg.vocab, 2);
  Tensor<std::uint8_t> mask({cfg.parameter_count()});
  // A full step first, so that the moments are non-zero everywhere.
  model.zero_grad();
  model.forward(tokens.view(), targets.view());
  model.backward();
  opt.step(ctx, model.parameter_arena(), model.gradient_arena(), 1e-2);

  const Subnetwork subnet = fixed_subnetwork();
  const auto p = model.parameter_arena();
  const std::vector<float> p0(p.data(), p.data() + p.numel());
  const std::vector<float> m0(opt.first_moments().data(), opt.first_moments().data() + p.numel());
  const std::vector<float> v0(opt.second_moments().data(), opt.second_moments().data() + p.numel());
  model.zero_grad();
  model.forward(tokens.view(), targets.view(), subnet);
  model.backward();
  est::mark_active_parameters(cfg, subnet, mask);
  opt.step(ctx, model.parameter_arena(), model.gradient_arena(), 1e-2, mask);
  Index changed = 0;
  for (Index i = 0; i < p.numel(); ++i) {
    if (mask[i]) {
      changed += p[i] != p0[i];
      CHECK(opt.element_steps()[i] == 2);
    } else {
      REQUIRE(std::memcmp(&p[i], &p0[i], sizeof(float)) == 0);
      REQUIRE(std::memcmp(&opt.first_moments()[i], &m0[i], sizeof(float)) == 0);
      REQUIRE(std::memcmp(&opt.second_moments()[i], &v0[i], sizeof(float)) == 0);
      REQUIRE(opt.element_steps()[i] == 1);
    }
  }
  CHECK(changed > 1000);  // the active part did move
}
