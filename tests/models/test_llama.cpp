// est/models/llama/model.hpp: forward against a composition of the reference ops (the full model and
// random subnetworks, as the masked full model), backward against finite differences in double
// (full and under fixed subnetworks), untouched gradients outside the subnetwork, key/value
// groups with no active query head, bit-for-bit plain training under the full subnetwork,
// thread-count agreement, a short training run, and bad input.

#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <random>

#include <est/data/batches.hpp>
#include <est/models/llama/model.hpp>
#include <est/reference/cross_entropy.hpp>
#include <est/reference/gemm.hpp>
#include <est/reference/gqa_attention.hpp>
#include <est/reference/residual.hpp>
#include <est/reference/rmsnorm.hpp>
#include <est/reference/rope.hpp>
#include <est/reference/swiglu.hpp>
#include <est/subnet/flops.hpp>
#include <est/subnet/schedule.hpp>
#include <est/train/adamw.hpp>
#include <est/train/trainer.hpp>

#include "../support/subnet_support.hpp"
#include "../support/test_support.hpp"

using est::Context;
using est::Index;
using est::Subnetwork;
using est::Tensor;
using est::Transpose;
using est::testing::random_tokens;
using est::testing::randomise;
using est::testing::relative_error;

namespace {

// 3 layers, 4 query heads in 2 groups of 2, head size 4.
constexpr est::LlamaConfig cfg{.layers = 3, .heads = 4, .kv_heads = 2, .width = 16,
                               .mlp_hidden = 24, .vocab = 32, .context = 8,
                               .rope_theta = 100.0, .norm_eps = 1e-5};
constexpr est::SubnetworkShape shape = est::subnetwork_shape(cfg);
// The same with the LM head tied to the embedding and plain multi-head attention.
constexpr est::LlamaConfig tied{.layers = 2, .heads = 2, .kv_heads = 2, .width = 8,
                                .mlp_hidden = 12, .vocab = 16, .context = 8,
                                .tie_embeddings = true};

/// The Llama forward pass written with the reference ops on the masked full model, in double:
/// every head and key/value group computed, inactive query heads' outputs multiplied by 0 and
/// active ones by H/|heads|, inactive neurons by 0 and active ones by M/|neurons|, inactive
/// layers bypassed. Returns the mean loss; fills the per-token losses.
template <est::LlamaConfig Cfg, class Scalar>
double masked_reference(const est::Llama<Cfg, est::cpu, Scalar>& model, const Subnetwork& subnet,
                        const Tensor<std::int32_t>& tokens, const Tensor<std::int32_t>& targets,
                        Tensor<double>* token_losses = nullptr) {
  namespace ref = est::reference;
  const Index B = tokens.shape()[0], T_ = tokens.shape()[1], n = B * T_;
  const Index C = Cfg.width, M = Cfg.mlp_hidden, H = Cfg.heads, G = Cfg.kv_heads,
              d = Cfg.head_dim(), V = Cfg.vocab;
  Tensor<double> arena({Cfg.parameter_count()});
  for (Index i = 0; i < arena.numel(); ++i) arena[i] = double(model.parameter_arena()[i]);
  const auto p = est::layout_llama<double>(Cfg, arena.data(), nullptr);
  const auto rope = est::rope_table<double>(T_, d, Cfg.rope_theta);
  std::vector<Index> of_head;
  for (Index i = 0; i < H; ++i) of_head.push_back(i / (H / G));
  Tensor<double> x({B, T_, C}), norm({B, T_, C}), rstd({n}), packed({B, T_, (H + 2 * G) * d}),
      probs({B, H, T_, T_}), att({B, T_, H * d}), proj({B, T_, C}), mid({B, T_, C}),
      gate_up({B, T_, 2 * M}), act({B, T_, M});
  for (Index i = 0; i < n; ++i) {
    for (Index c = 0; c < C; ++c) x[i * C + c] = p.embed[tokens[i] * C + c];
  }
  auto rows = [n](Tensor<double>& t) { return t.view().matrix(n); };
  for (int l = 0; l < Cfg.layers; ++l) {
    if (!subnet.is_active(l)) continue;
    const auto& w = p.layers[static_cast<std::size_t>(l)];
    std::vector<double> head_factor(H, 0.0), neuron_factor(M, 0.0);
    for (std::size_t k = 0; k < subnet.heads(l).size(); ++k) {
      head_factor[std::size_t(subnet.heads(l)[k])] = subnet.head_scale(l, k);
    }
    for (std::size_t k = 0; k < subnet.neurons(l).size(); ++k) {
      neuron_factor[std::size_t(subnet.neurons(l)[k])] = subnet.neuron_scale(l, k);
    }
    ref::rmsnorm_forward<double>(rows(norm), rstd, rows(x), w.input_norm, Cfg.norm_eps);
    ref::gemm<double>(rows(packed), rows(norm), Transpose::no, w.qkv(), Transpose::yes);
    ref::rope_forward<double>(packed, 0, H, d, rope.cos, rope.sin);
    ref::rope_forward<double>(packed, H * d, G, d, rope.cos, rope.sin);
    ref::gqa_attention_forward<double>(att, probs, packed, of_head, d);
    for (Index r = 0; r < n; ++r) {
      for (Index c = 0; c < H * d; ++c) att[r * H * d + c] *= head_factor[c / d];
    }
    ref::gemm<double>(rows(proj), rows(att), Transpose::no, w.o.matrix(), Transpose::yes);
    ref::residual_forward<double>(mid, x, proj, subnet.layer_scale(l));
    ref::rmsnorm_forward<double>(rows(norm), rstd, rows(mid), w.post_norm, Cfg.norm_eps);
    ref::gemm<double>(rows(gate_up), rows(norm), Transpose::no, w.gate_up(), Transpose::yes);
    ref::swiglu_forward<double>(rows(act), rows(gate_up));
    for (Index r = 0; r < n; ++r) {
      for (Index j = 0; j < M; ++j) act[r * M + j] *= neuron_factor[j];
    }
    ref::gemm<double>(rows(proj), rows(act), Transpose::no, w.down.matrix(), Transpose::yes);
    ref::residual_forward<double>(x, mid, proj, subnet.layer_scale(l));
  }
  ref::rmsnorm_forward<double>(rows(norm), rstd, rows(x), p.norm, Cfg.norm_eps);
  Tensor<double> logits({B, T_, V});
  ref::gemm<double>(logits.view().matrix(n), rows(norm), Transpose::no, p.lm_head.matrix(),
                    Transpose::yes);
  Tensor<double> losses({n});
  const double loss = ref::softmax_cross_entropy<double>(losses, est::MatrixView<double>(),
                                                         logits.view().matrix(n), targets, 1.0);
  if (token_losses) *token_losses = losses;
  return loss;
}

/// Layer 1 skipped; layer 0 with heads {1, 2} (one from each group) and 9 neurons; layer 2 with
/// heads {0, 1}, both in group 0, so group 1 of layer 2 does no work, and 5 neurons.
Subnetwork fixed_subnetwork() {
  Subnetwork s(shape);
  s.activate_layer(0, {1, 2}, {0, 3, 4, 5, 9, 14, 15, 20, 23});
  s.activate_layer(2, {0, 1}, {2, 7, 8, 19, 22});
  return s;
}

template <class Model>
Tensor<double> gradients_of(Model& model) {
  Tensor<double> t({model.gradient_arena().numel()});
  for (Index i = 0; i < t.numel(); ++i) t[i] = double(model.gradient_arena()[i]);
  return t;
}

}  // namespace

TEST_CASE("Llama forward equals the reference ops composed by hand", "[llama]") {
  const Context<est::cpu> ctx(2);
  est::Llama<cfg, est::cpu, double> model(ctx, 3);
  est::Llama<cfg, est::cpu, float> model_f(ctx, 3);
  randomise(model, 4);
  randomise(model_f, 4);
  auto tokens = random_tokens({2, 7}, cfg.vocab, 5);
  auto targets = random_tokens({2, 7}, cfg.vocab, 6);
  Tensor<double> expected;
  const double loss = masked_reference(model, Subnetwork::full(shape), tokens, targets, &expected);
  CHECK(double(model.forward(tokens.view(), targets.view())) == Approx(loss).epsilon(1e-12));
  CHECK(relative_error(model.losses(), expected) < 1e-12);
  CHECK(double(model_f.forward(tokens.view(), targets.view())) == Approx(loss).epsilon(1e-5));
  CHECK(double(model.evaluate(tokens.view(), targets.view())) == Approx(loss).epsilon(1e-12));
  // Tied embeddings.
  est::Llama<tied, est::cpu, double> small(ctx, 7);
  randomise(small, 8);
  auto t2 = random_tokens({3, 8}, tied.vocab, 9);
  auto y2 = random_tokens({3, 8}, tied.vocab, 10);
  CHECK(double(small.forward(t2.view(), y2.view())) ==
        Approx(masked_reference(small, Subnetwork::full(est::subnetwork_shape(tied)), t2, y2))
            .epsilon(1e-12));
}

TEST_CASE("Llama initial loss is log V and the initialisation is as documented", "[llama]") {
  const Context<est::cpu> ctx(2);
  est::Llama<est::presets::llama_10m> model(ctx, 1);
  CHECK(model.parameter_arena().numel() == 9'638'784);
  auto tokens = random_tokens({2, 64}, 256, 1);
  auto targets = random_tokens({2, 64}, 256, 2);
  // log V plus half the variance of the initial logits (std 0.02·sqrt(C) = 0.39 after RMSNorm).
  CHECK(model.evaluate(tokens.view(), targets.view()) ==
        Approx(std::log(256.0) + 0.5 * 0.02 * 0.02 * 384).margin(0.03));
  const auto& p = model.parameters();
  CHECK(p.layers[0].input_norm[0] == 1.0f);
  double sq = 0;
  for (Index i = 0; i < p.layers[0].down.numel(); ++i) sq += double(p.layers[0].down[i]) * p.layers[0].down[i];
  CHECK(std::sqrt(sq / double(p.layers[0].down.numel())) ==
        Approx(0.02 / std::sqrt(12.0)).epsilon(0.02));
}

TEST_CASE("Llama backward equals finite differences in double, full and sliced", "[llama]") {
  const Context<est::cpu> ctx(1);
  est::Llama<cfg, est::cpu, double> model(ctx, 1);
  randomise(model, 2);
  auto tokens = random_tokens({2, 5}, cfg.vocab, 3);
  auto targets = random_tokens({2, 5}, cfg.vocab, 4);
  for (const Subnetwork& subnet : {Subnetwork::full(shape), fixed_subnetwork()}) {
    INFO(subnet);
    model.zero_grad();
    model.forward(tokens.view(), targets.view(), subnet);
    model.backward();
    const Tensor<double> analytic = gradients_of(model);
    auto arena = model.parameter_arena();
    auto loss = [&] { return double(model.forward(tokens.view(), targets.view(), subnet)); };
    for (const auto& spec : model.parameter_specs()) {
      INFO(spec.name << " " << spec.shape);
      // h = 1e-4: the randomised weights make the loss strongly curved in a few embedding rows.
      const auto numeric = est::testing::numerical_gradient(arena.data() + spec.offset,
                                                            spec.shape.numel(), loss, 1e-4);
      est::TensorView<const double> view(analytic.data() + spec.offset, spec.shape);
      CHECK(relative_error(view, numeric, 1e-3) <= 1e-6);
    }
  }
}

TEST_CASE("Llama tied embeddings: backward equals finite differences", "[llama]") {
  const Context<est::cpu> ctx(1);
  est::Llama<tied, est::cpu, double> model(ctx, 1);
  randomise(model, 2);
  CHECK(model.parameter_specs().back().name == "model.norm.weight");  // no lm_head.weight
  auto tokens = random_tokens({2, 6}, tied.vocab, 3);
  auto targets = random_tokens({2, 6}, tied.vocab, 4);
  model.zero_grad();
  model.forward(tokens.view(), targets.view());
  model.backward();
  const Tensor<double> analytic = gradients_of(model);
  auto arena = model.parameter_arena();
  auto loss = [&] { return double(model.forward(tokens.view(), targets.view())); };
  const auto numeric = est::testing::numerical_gradient(arena.data(), arena.numel(), loss);
  CHECK(relative_error(analytic, numeric, 1e-3) <= 1e-6);
}

TEST_CASE("Llama sliced forward and gradients equal the masked reference's", "[llama][subnet]") {
  const Context<est::cpu> ctx(2);
  est::Llama<cfg, est::cpu, double> model(ctx, 7);
  est::Llama<cfg, est::cpu, float> model_f(ctx, 7);
  randomise(model, 8);
  randomise(model_f, 8);
  auto tokens = random_tokens({2, 6}, cfg.vocab, 9);
  auto targets = random_tokens({2, 6}, cfg.vocab, 10);
  const double full_loss = masked_reference(model, Subnetwork::full(shape), tokens, targets);
  auto grads = model.gradient_arena();
  Tensor<std::uint8_t> mask({cfg.parameter_count()});
  std::mt19937_64 pick(12);
  for (const auto& subnet : est::testing::random_subnetworks(shape)) {
    INFO(subnet);
    Tensor<double> expected;
    const double loss_ref = masked_reference(model, subnet, tokens, targets, &expected);
    CHECK(std::abs(loss_ref - full_loss) > 1e-3);  // the subnetwork really is another function
    CHECK(double(model_f.forward(tokens.view(), targets.view(), subnet)) ==
          Approx(loss_ref).epsilon(1e-5));
    // Gradients start at random values: backward must add to active elements only.
    const auto start = est::testing::random_tensor<double>({cfg.parameter_count()}, 13);
    std::copy_n(start.data(), start.numel(), grads.data());
    CHECK(double(model.forward(tokens.view(), targets.view(), subnet)) ==
          Approx(loss_ref).epsilon(1e-12));
    CHECK(relative_error(model.losses(), expected) < 1e-12);
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
          // Every element the mask marks gets a gradient (embedding rows of tokens that do not
          // occur excepted).
          if (spec.name != "model.embed_tokens.weight") REQUIRE(grads[i] != start[i]);
        } else {
          inactive.push_back(i);
          REQUIRE(std::memcmp(&grads[i], &start[i], sizeof(double)) == 0);
        }
      }
      for (int trial = 0; trial < 3; ++trial) {
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

TEST_CASE("a key/value group with no active query head does no work and gets no gradient",
          "[llama][subnet]") {
  const Context<est::cpu> ctx(1);
  est::Llama<cfg, est::cpu, double> model(ctx, 3);
  randomise(model, 4);
  auto tokens = random_tokens({2, 5}, cfg.vocab, 5);
  auto targets = random_tokens({2, 5}, cfg.vocab, 6);
  const Subnetwork subnet = fixed_subnetwork();  // layer 2: heads {0, 1}, group 1 unused
  model.zero_grad();
  model.forward(tokens.view(), targets.view(), subnet);
  model.backward();
  const auto& g = model.gradients().layers[2];
  const Index d = cfg.head_dim(), C = cfg.width;
  double group0 = 0, group1 = 0;
  for (Index i = 0; i < d * C; ++i) {
    group0 += std::abs(g.k[i]) + std::abs(g.v[i]);
    group1 += std::abs(g.k[d * C + i]) + std::abs(g.v[d * C + i]);
  }
  CHECK(group0 > 1e-6);
  CHECK(group1 == 0.0);  // exactly: never touched
  // In layer 0, heads 1 and 2 read both groups.
  double layer0_group1 = 0;
  for (Index i = 0; i < d * C; ++i) layer0_group1 += std::abs(model.gradients().layers[0].k[d * C + i]);
  CHECK(layer0_group1 > 1e-6);

  // FLOPs by hand, N = 10 tokens, B = 2, T = 5, C = 16, d = 4, V = 32, M = 24:
  //   LM head 2·10·16·32 = 10240
  //   layer 0: h = 2, g = 2, m = 9:  Q 2·10·16·8 = 2560, K and V 2·2·10·16·8 = 5120,
  //            attention 2·2·2·2·5·5·4 = 1600, output 2·10·8·16 = 2560, MLP 3·2·10·16·9 = 8640
  //   layer 2: h = 2, g = 1, m = 5:  2560 + 2560 + 1600 + 2560 + 4800
  const std::int64_t forward = 10240 + (2560 + 5120 + 1600 + 2560 + 8640) +
                               (2560 + 2560 + 1600 + 2560 + 4800);
  CHECK(est::llama_step_flops(cfg, 2, 5, subnet) == est::StepFlops{forward, 2 * forward});
  // The full model: h = 4, g = 2, m = 24 in all three layers.
  const std::int64_t layer = 2 * 10 * 16 * 16 + 4 * 10 * 16 * 8 + 4 * 2 * 4 * 25 * 4 +
                             2 * 10 * 16 * 16 + 6 * 10 * 16 * 24;
  CHECK(est::llama_step_flops(cfg, 2, 5).forward == 10240 + 3 * layer);
  CHECK(est::step_flops(cfg, 2, 5) == est::llama_step_flops(cfg, 2, 5));

  // The mask marks k and v rows of group 1 in layer 2 as inactive.
  Tensor<std::uint8_t> mask({cfg.parameter_count()});
  est::mark_active_parameters(cfg, subnet, mask);
  const auto m = est::layout_llama<std::uint8_t>(cfg, mask.data(), nullptr);
  CHECK(m.layers[2].k[0] == 1);
  CHECK(m.layers[2].k[d * C] == 0);
  CHECK(m.layers[0].k[d * C] == 1);
  Index marked = 0;
  for (Index i = 0; i < mask.numel(); ++i) marked += mask[i];
  // always: embed 32·16 + norm 16 + lm_head 32·16 = 1040; layer 0: norms 32, q 8·16, k/v
  // 2·8·16, o 16·8, gate/up 2·9·16, down 16·9 = 32 + 128 + 256 + 128 + 288 + 144 = 976;
  // layer 2: 32 + 128 + 2·4·16 + 128 + 2·5·16 + 16·5 = 32 + 128 + 128 + 128 + 160 + 80 = 656.
  CHECK(marked == 1040 + 976 + 656);
}

TEST_CASE("sampling whole key/value groups draws every query head of the drawn groups",
          "[llama][subnet]") {
  const est::sampling::Uniform groups(5, 1, cfg.heads / cfg.kv_heads);
  for (int step = 0; step < 6; ++step) {
    const Subnetwork s = groups.sample(shape, {1, 0.5, 0.5}, step);
    for (int l = 0; l < cfg.layers; ++l) {
      INFO("step " << step << " layer " << l);
      const auto heads = est::testing::to_vector(s.heads(l));
      REQUIRE(heads.size() == 2);          // one group of two heads (0.5 of 2 groups)
      CHECK(heads[0] % 2 == 0);            // the group's first head
      CHECK(heads[1] == heads[0] + 1);     // and its second
    }
  }
  EST_CHECK_THROWS(groups.sample(est::SubnetworkShape{3, 5, 24}, {1, 0.5, 0.5}, 0),
                   est::value_error, "head_group 2 does not divide the 5 heads");
}

TEST_CASE("Llama under the full subnetwork trains bit for bit like plain training",
          "[llama][subnet]") {
  const Context<est::cpu> ctx(2);
  constexpr auto tiny = est::presets::llama_tiny;
  est::Llama<tiny> plain(ctx, 21), evolving(ctx, 21);
  est::AdamW<float> opt_plain(plain.parameter_specs()), opt_evolving(evolving.parameter_specs());
  const est::SubnetworkSchedule at_one(est::subnetwork_shape(tiny), est::sampling::Uniform(5),
                                       est::growth::Constant());
  Tensor<std::uint8_t> mask({tiny.parameter_count()});
  for (int step = 0; step < 3; ++step) {
    auto tokens = random_tokens({2, 16}, tiny.vocab, 30 + step);
    auto targets = random_tokens({2, 16}, tiny.vocab, 40 + step);
    const Subnetwork subnet = at_one.at(step);
    REQUIRE(subnet.is_full());
    plain.zero_grad();
    evolving.zero_grad();
    const float a = plain.forward(tokens.view(), targets.view());
    const float b = evolving.forward(tokens.view(), targets.view(), subnet);
    CHECK(std::memcmp(&a, &b, sizeof(float)) == 0);
    plain.backward();
    evolving.backward();
    est::mark_active_parameters(tiny, subnet, mask);
    opt_plain.step(ctx, plain.parameter_arena(), plain.gradient_arena(), 1e-2);
    opt_evolving.step(ctx, evolving.parameter_arena(), evolving.gradient_arena(), 1e-2, mask);
  }
  const auto a = plain.parameter_arena(), b = evolving.parameter_arena();
  CHECK(std::memcmp(a.data(), b.data(), sizeof(float) * std::size_t(a.numel())) == 0);
}

TEST_CASE("Llama passes agree across thread counts", "[llama]") {
  const Context<est::cpu> one(1), two(2);
  est::Llama<cfg> a(one, 5), b(two, 5);
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
}

TEST_CASE("training a Llama with EST on a small corpus lowers the loss", "[llama][trainer]") {
  constexpr est::LlamaConfig bytes{.layers = 3, .heads = 4, .kv_heads = 2, .width = 32,
                                   .mlp_hidden = 64, .vocab = 256, .context = 32};
  const std::string line =
      "the quick brown fox jumps over the lazy dog while the cat sleeps by the warm fire. ";
  std::vector<std::int32_t> ids;
  for (int r = 0; r < 40; ++r) {
    for (unsigned char c : line) ids.push_back(c);
  }
  const est::TokenBuffer corpus(std::move(ids));
  const Context<est::cpu> ctx(2);
  const est::BatchSampler<est::TokenBuffer> train(corpus, {0, corpus.size() * 9 / 10}, 4, 16, 11,
                                                  "train");
  const est::BatchSampler<est::TokenBuffer> val(
      corpus, {corpus.size() * 9 / 10, corpus.size() / 10}, 4, 16, 11, "val");
  est::Llama<bytes> model(ctx, 5);
  const int steps = 60;
  est::Trainer trainer(model, ctx,
                       est::SubnetworkSchedule(est::subnetwork_shape(bytes),
                                               est::sampling::Uniform(3),
                                               est::growth::ThreeStage(steps)),
                       est::lr::WarmupCosine(3e-3, 3e-4, 2, steps), train, val,
                       est::TrainerOptions{.micro_batches = 1});
  const double before = trainer.evaluate();
  CHECK(before == Approx(std::log(256.0)).margin(0.3));
  est::StepReport first;
  for (int i = 0; i < steps; ++i) {
    const auto r = trainer.step();
    if (i == 0) first = r;
  }
  const double after = trainer.evaluate();
  INFO("val loss " << before << " -> " << after);
  CHECK(after < before - 2.0);
  CHECK(first.active_layers < bytes.layers);   // stage 1 trained a subnetwork
  CHECK(trainer.flops().saving() > 0.1);       // and it cost less
}

TEST_CASE("Llama refuses bad input before anything changes", "[llama][errors]") {
  const Context<est::cpu> ctx(1);
  est::Llama<cfg, est::cpu, double> model(ctx, 1);
  auto tokens = random_tokens({2, 5}, cfg.vocab, 3);
  auto targets = random_tokens({2, 5}, cfg.vocab, 4);
  auto long_tokens = random_tokens({1, 9}, cfg.vocab, 5);
  EST_CHECK_THROWS(model.forward(long_tokens.view(), long_tokens.view()), est::shape_error,
                   "1 <= T <= context = 8");
  tokens[3] = cfg.vocab;
  EST_CHECK_THROWS(model.forward(tokens.view(), targets.view()), est::value_error, "tokens");
  tokens[3] = 0;
  Subnetwork wrong({3, 4, 16});
  wrong.activate_layer(0, {0}, {0});
  EST_CHECK_THROWS(model.forward(tokens.view(), targets.view(), wrong), est::value_error,
                   "expected (layers, heads, mlp_hidden) = (3, 4, 24)");
  EST_CHECK_THROWS(model.backward(), est::error, "call forward(tokens, targets) first");
}
