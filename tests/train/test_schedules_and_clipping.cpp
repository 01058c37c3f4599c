// est/train/lr_schedule.hpp against the closed forms at and around the warmup and decay
// boundaries; est/backend/cpu/norm.hpp against norms and scaled gradients computed by hand.

#include <catch2/catch.hpp>

#include <cmath>
#include <numbers>

#include <est/backend/cpu/norm.hpp>
#include <est/train/lr_schedule.hpp>

#include "../support/test_support.hpp"

using est::Tensor;

TEST_CASE("warmup-cosine and warmup-linear follow their closed forms at the boundaries",
          "[lr]") {
  // max 1e-3, min 1e-4, warmup 10, total 110: decay over 100 steps.
  const est::lr::WarmupCosine cosine(1e-3, 1e-4, 10, 110);
  const est::lr::WarmupLinear linear(1e-3, 1e-4, 10, 110);
  for (const auto* name : {"cosine", "linear"}) {
    INFO(name);
    auto at = [&](std::int64_t s) {
      return std::string_view(name) == "cosine" ? cosine.at(s) : linear.at(s);
    };
    CHECK(at(0) == Approx(1e-4).epsilon(1e-12));   // 1e-3 · 1/10
    CHECK(at(4) == Approx(5e-4).epsilon(1e-12));   // 1e-3 · 5/10
    CHECK(at(9) == Approx(1e-3).epsilon(1e-12));   // last warmup step reaches the maximum
    CHECK(at(10) == Approx(1e-3).epsilon(1e-12));  // r = 0
    CHECK(at(110) == Approx(1e-4).epsilon(1e-12));
    CHECK(at(10'000) == Approx(1e-4).epsilon(1e-12));
  }
  // Half way (r = 0.5): cosine at 1e-4 + 9e-4·(1 + cos(π/2))/2 = 5.5e-4, linear the same.
  CHECK(cosine.at(60) == Approx(5.5e-4).epsilon(1e-12));
  CHECK(linear.at(60) == Approx(5.5e-4).epsilon(1e-12));
  // r = 0.25: cosine 1e-4 + 9e-4·(1 + √2/2)/2, linear 1e-4 + 9e-4·0.75.
  CHECK(cosine.at(35) == Approx(1e-4 + 9e-4 * (1 + std::numbers::sqrt2 / 2) / 2).epsilon(1e-12));
  CHECK(linear.at(35) == Approx(1e-4 + 9e-4 * 0.75).epsilon(1e-12));
  CHECK(linear.at(109) == Approx(1e-4 + 9e-4 * 0.01).epsilon(1e-12));
  // No warmup: the first step is at the maximum.
  CHECK(est::lr::WarmupCosine(2e-3, 0, 0, 10).at(0) == Approx(2e-3).epsilon(1e-12));
  CHECK(est::lr::Constant(3e-4).at(123) == 3e-4);
}

TEST_CASE("learning-rate schedules reject bad settings", "[lr][errors]") {
  EST_CHECK_THROWS(est::lr::WarmupCosine(1e-3, 2e-3, 0, 10), est::value_error,
                   "lr::WarmupCosine: the minimum learning rate 0.002 is above the maximum 0.001");
  EST_CHECK_THROWS(est::lr::WarmupLinear(1e-3, 0, 20, 10), est::value_error,
                   "warmup 20 steps must be in [0, total = 10]");
  EST_CHECK_THROWS(est::lr::Constant(NAN), est::value_error, "must be finite and >= 0");
  EST_CHECK_THROWS(est::lr::Constant(1e-3).at(-1), est::value_error, "step -1 is negative");
}

TEST_CASE("clip_grad_norm returns the pre-clip norm and scales as PyTorch does", "[clip]") {
  const est::Context<est::cpu> ctx(GENERATE(1, 2));
  Tensor<double> g({4});
  const double values[4] = {3.0, -4.0, 0.0, 12.0};  // norm 13
  for (int i = 0; i < 4; ++i) g[i] = values[i];
  CHECK(est::clip_grad_norm<double>(ctx, g, 26.0) == Approx(13.0).epsilon(1e-15));
  for (int i = 0; i < 4; ++i) CHECK(g[i] == values[i]);  // below the limit: untouched
  CHECK(est::clip_grad_norm<double>(ctx, g, 6.5) == Approx(13.0).epsilon(1e-15));
  const double c = 6.5 / (13.0 + 1e-6);
  for (int i = 0; i < 4; ++i) CHECK(g[i] == Approx(values[i] * c).epsilon(1e-15));
  CHECK(est::global_norm<double>(ctx, g) == Approx(6.5).epsilon(1e-6));

  // A large arena split over threads gives the same norm as a serial sum.
  auto big = est::testing::random_tensor<float>({300'001}, 3);
  double serial = 0;
  for (est::Index i = 0; i < big.numel(); ++i) serial += double(big[i]) * double(big[i]);
  CHECK(est::global_norm<float>(ctx, big) == Approx(std::sqrt(serial)).epsilon(1e-12));

  // A non-finite norm leaves the gradients alone.
  g[1] = NAN;
  const double before = g[0];
  CHECK(std::isnan(est::clip_grad_norm<double>(ctx, g, 1.0)));
  CHECK(g[0] == before);
  EST_CHECK_THROWS(est::clip_grad_norm<double>(ctx, g, 0.0), est::value_error,
                   "max_norm must be finite and > 0");
}

TEST_CASE("warmup-stable-decay and re-warm follow their closed forms", "[lr]") {
  // Warmup 4 steps to 1.0, stable until step 10, linear down to 0.1 at step 20.
  const est::lr::WarmupStableDecay wsd(1.0, 0.1, 4, 10, 20);
  CHECK(wsd.at(0) == Approx(0.25));
  CHECK(wsd.at(3) == Approx(1.0));
  CHECK(wsd.at(4) == Approx(1.0));
  CHECK(wsd.at(9) == Approx(1.0));
  CHECK(wsd.at(10) == Approx(1.0));
  CHECK(wsd.at(15) == Approx(1.0 - 0.9 * 0.5));
  CHECK(wsd.at(20) == Approx(0.1));
  CHECK(wsd.at(99) == Approx(0.1));
  CHECK_THROWS_AS(est::lr::WarmupStableDecay(1.0, 0.1, 5, 4, 20), est::value_error);
  CHECK_THROWS_AS(est::lr::WarmupStableDecay(1.0, 0.1, 4, 21, 20), est::value_error);
  CHECK_THROWS_AS(wsd.at(-1), est::value_error);
  // A re-warm of 5 steps from step 10 over a constant 2.0: 0.4, 0.8, ..., 2.0, then 2.0.
  const est::lr::Rewarm rewarm(est::lr::Constant(2.0), 10, 5);
  CHECK(rewarm.at(9) == Approx(2.0));
  CHECK(rewarm.at(10) == Approx(0.4));
  CHECK(rewarm.at(12) == Approx(1.2));
  CHECK(rewarm.at(14) == Approx(2.0));
  CHECK(rewarm.at(15) == Approx(2.0));
  // Over a decaying schedule it scales that schedule's own rate.
  const est::lr::Rewarm over_wsd(wsd, 14, 2);
  CHECK(over_wsd.at(14) == Approx(0.5 * wsd.at(14)));
  CHECK(over_wsd.at(16) == Approx(wsd.at(16)));
  CHECK_THROWS_AS(est::lr::Rewarm(est::lr::Constant(1.0), -1, 5), est::value_error);
  CHECK_THROWS_AS(est::lr::Rewarm(est::lr::Constant(1.0), 3, 0), est::value_error);
}
