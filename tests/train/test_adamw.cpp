// est/train/adamw.hpp against AdamW steps computed by hand from the update rule.

#include <catch2/catch.hpp>

#include <cmath>

#include <est/train/adamw.hpp>

#include "../support/test_support.hpp"

using est::Index;
using est::Tensor;

TEST_CASE("AdamW matches hand-computed steps, with decay only where the spec says", "[adamw]") {
  const est::Context<est::cpu> ctx(2);
  std::vector<est::ParameterSpec> specs{{"w", {2, 2}, 0, true}, {"b", {3}, 4, false}};
  est::AdamWConfig cfg{.beta1 = 0.9, .beta2 = 0.99, .eps = 1e-8, .weight_decay = 0.5};
  est::AdamW<double> opt(specs, cfg);
  Tensor<double> p({7}), g({7});
  const double p0[7] = {1.0, -2.0, 0.5, 3.0, 0.25, -1.0, 2.0};
  const double g1[7] = {0.1, -0.2, 0.3, 0.0, 1.0, -0.5, 0.05};
  const double g2[7] = {-0.1, 0.4, 0.3, 0.2, 0.0, -0.5, 0.5};
  for (int i = 0; i < 7; ++i) p[i] = p0[i], g[i] = g1[i];
  const double lr = 0.01;
  opt.step(ctx, p, g, lr);
  // Step 1: m̂ = g, v̂ = g², so the Adam part is g/(|g|+ε) = sign(g) (0 where g = 0).
  for (int i = 0; i < 7; ++i) {
    const double decay = i < 4 ? 0.5 : 0.0;
    const double adam = g1[i] / (std::abs(g1[i]) + 1e-8);
    CHECK(p[i] == Approx(p0[i] - lr * (adam + decay * p0[i])).epsilon(1e-12));
  }
  // Step 2 from the closed form of the moments.
  std::vector<double> p1(p.data(), p.data() + 7);
  for (int i = 0; i < 7; ++i) g[i] = g2[i];
  opt.step(ctx, p, g, lr);
  for (int i = 0; i < 7; ++i) {
    const double decay = i < 4 ? 0.5 : 0.0;
    const double m = 0.9 * 0.1 * g1[i] + 0.1 * g2[i];
    const double v = 0.99 * 0.01 * g1[i] * g1[i] + 0.01 * g2[i] * g2[i];
    const double mh = m / (1 - 0.81), vh = v / (1 - 0.99 * 0.99);
    CHECK(p[i] == Approx(p1[i] - lr * (mh / (std::sqrt(vh) + 1e-8) + decay * p1[i])).epsilon(1e-12));
  }
  CHECK(opt.steps_taken() == 2);
}

TEST_CASE("AdamW rejects bad hyperparameters", "[adamw][errors]") {
  std::vector<est::ParameterSpec> specs{{"w", {2}, 0, true}};
  EST_CHECK_THROWS(est::AdamW<float>(specs, {.beta1 = 1.0}), est::value_error,
                   "beta1 must be in [0, 1)");
  est::AdamW<float> opt(specs);
  Tensor<float> p({2}), g({3});
  const est::Context<est::cpu> ctx(1);
  EST_CHECK_THROWS(opt.step(ctx, p, g, 1e-3), est::shape_error, "need 2 elements");
  Tensor<float> g2({2});
  EST_CHECK_THROWS(opt.step(ctx, p, g2, NAN), est::value_error, "lr must be finite");
}
