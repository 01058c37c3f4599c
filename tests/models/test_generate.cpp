// est/models/generate.hpp: sampling with temperature and top-k against probabilities computed
// by hand, determinism per seed, and generation that reproduces a memorised sequence.

#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include <est/models/generate.hpp>
#include <est/models/gpt2/model.hpp>
#include <est/train/adamw.hpp>

#include "../support/test_support.hpp"

TEST_CASE("sample_token follows softmax(logits / temperature) restricted to the top k",
          "[generate]") {
  const std::vector<float> logits{1.0f, 3.0f, 0.0f, 2.0f};
  CHECK(est::sample_token<float>(logits, {.temperature = 0}, 0) == 1);  // greedy
  const int draws = 20000;
  for (const double temperature : {1.0, 0.5}) {
    for (const int k : {0, 2}) {
      INFO("temperature " << temperature << " top_k " << k);
      std::vector<double> p(4, 0.0), counts(4, 0.0);
      // Hand-computed: exp(logit / T) over the allowed ids (top 2 = ids 1 and 3).
      double z = 0;
      for (int i = 0; i < 4; ++i) {
        const bool allowed = k == 0 || i == 1 || i == 3;
        p[i] = allowed ? std::exp(logits[i] / temperature) : 0.0;
        z += p[i];
      }
      for (auto& v : p) v /= z;
      for (int s = 0; s < draws; ++s) {
        counts[est::sample_token<float>(logits, {.temperature = temperature, .top_k = k,
                                                 .seed = 9},
                                        std::uint64_t(s))] += 1;
      }
      for (int i = 0; i < 4; ++i) {
        // Binomial standard deviation; 5 sigma.
        const double sd = std::sqrt(draws * p[i] * (1 - p[i]));
        CHECK(std::abs(counts[i] - draws * p[i]) <= 5 * sd + 1e-9);
      }
    }
  }
  // Ids past the tokenizer's vocabulary (padding rows) are never drawn.
  for (int s = 0; s < 200; ++s) {
    CHECK(est::sample_token<float>(logits, {.temperature = 2.0, .seed = 1, .vocab = 2},
                                   std::uint64_t(s)) < 2);
  }
  CHECK(est::sample_token<float>(logits, {.temperature = 0, .vocab = 1}, 0) == 0);
  EST_CHECK_THROWS(est::sample_token<float>(logits, {.temperature = -1}, 0), est::value_error,
                   "temperature must be finite and >= 0");
}

TEST_CASE("generate is deterministic per seed and reproduces a memorised sequence",
          "[generate]") {
  const est::Context<est::cpu> ctx(1);
  est::Gpt2<est::presets::gpt2_tiny> model(ctx, 3);
  est::AdamW<float> opt(model.parameter_specs(), {.weight_decay = 0});
  // Memorise the cycle 0 1 2 ... 9 0 1 ...: after training, greedy decoding continues it.
  est::Tensor<std::int32_t> x({4, 16}), y({4, 16});
  for (int b = 0; b < 4; ++b) {
    for (int t = 0; t < 16; ++t) x[b * 16 + t] = (b + t) % 10, y[b * 16 + t] = (b + t + 1) % 10;
  }
  for (int step = 0; step < 150; ++step) {
    model.zero_grad();
    model.forward(x.view(), y.view());
    model.backward();
    opt.step(ctx, model.parameter_arena(), model.gradient_arena(), 1e-2);
  }
  const std::vector<std::int32_t> prompt{3, 4, 5};
  const auto greedy = est::generate(model, prompt, 20, {.temperature = 0});
  REQUIRE(greedy.size() == 23);
  for (std::size_t i = 0; i < greedy.size(); ++i) CHECK(greedy[i] == std::int32_t((3 + i) % 10));
  const auto a = est::generate(model, prompt, 12, {.temperature = 1.5, .seed = 4});
  const auto b = est::generate(model, prompt, 12, {.temperature = 1.5, .seed = 4});
  const auto c = est::generate(model, prompt, 12, {.temperature = 1.5, .seed = 5});
  CHECK(a == b);
  CHECK(a != c);
  EST_CHECK_THROWS(est::generate(model, std::vector<std::int32_t>{}, 1), est::value_error,
                   "the prompt is empty");
}

TEST_CASE("generation never draws a padding id of a padded vocabulary", "[generate]") {
  // 61 ids in 64 embedding rows. With ln_f's weight 0 and bias b, every position's final
  // hidden state is b; real rows of wte set to -b give every real id the logit -|b|² < 0, while
  // the padding rows (0) have logit 0: the largest logits are the padding's.
  constexpr est::Gpt2Config padded{.layers = 1, .heads = 2, .width = 8, .mlp_hidden = 16,
                                   .vocab = 61, .context = 8, .padded_vocab = 64};
  const est::Context<est::cpu> ctx(1);
  est::Gpt2<padded> model(ctx, 3);
  const auto& p = model.parameters();
  for (est::Index c = 0; c < 8; ++c) {
    p.ln_f_weight[c] = 0.0f;
    p.ln_f_bias[c] = 0.5f + 0.1f * float(c);
    for (est::Index v = 0; v < 61; ++v) p.wte[v * 8 + c] = -(0.5f + 0.1f * float(c));
  }
  const std::vector<std::int32_t> prompt{1, 2};
  model.forward(est::ConstView<std::int32_t>(est::TensorView<const std::int32_t>(prompt.data(), {1, 2})));
  const auto logits = model.logits();
  REQUIRE(logits.dim(2) == 64);
  CHECK(logits[61] == 0.0f);       // a padding column of position 0
  CHECK(logits[0] < 0.0f);         // a real one
  for (const double temperature : {0.0, 1.0, 100.0}) {
    const auto out = est::generate(model, prompt, 6, {.temperature = temperature, .seed = 5});
    for (const auto id : out) CHECK(id < 61);
  }
}
