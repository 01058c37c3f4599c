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

namespace {

/// One element's AdamW state, advanced by hand from the update rule.
struct ScalarAdam {
  double p, m = 0, v = 0;
  int t = 0;
  void step(double g, double lr, double b1, double b2, double eps, double decay) {
    ++t;
    m = b1 * m + (1 - b1) * g;
    v = b2 * v + (1 - b2) * g * g;
    const double mh = m / (1 - std::pow(b1, t)), vh = v / (1 - std::pow(b2, t));
    p -= lr * (mh / (std::sqrt(vh) + eps) + decay * p);
  }
};

}  // namespace

TEST_CASE("AdamW frozen and zero_grad semantics for parameters outside the subnetwork",
          "[adamw][subnet]") {
  const est::Context<est::cpu> ctx(2);
  const std::vector<est::ParameterSpec> specs{{"w", {2, 3}, 0, true}, {"b", {2}, 6, false}};
  const double b1 = 0.9, b2 = 0.99, eps = 1e-8, wd = 0.3, lr = 0.05;
  const auto mode = GENERATE(est::InactiveParameters::frozen, est::InactiveParameters::zero_grad);
  const bool frozen = mode == est::InactiveParameters::frozen;
  est::AdamW<double> opt(specs, {.beta1 = b1, .beta2 = b2, .eps = eps, .weight_decay = wd,
                                 .inactive = mode});
  const double p0[8] = {1.0, -2.0, 0.5, 3.0, 0.25, -1.0, 2.0, -0.5};
  const double grads[3][8] = {{0.1, -0.2, 0.3, 0.4, 1.0, -0.5, 0.05, 0.2},
                              {-0.1, 0.0, 0.3, 0.2, 0.0, -0.5, 0.5, 0.0},   // zero where inactive
                              {0.2, 0.1, -0.3, 0.1, 0.4, 0.6, -0.2, 0.3}};
  // Step 2 trains a subnetwork that leaves out elements 1, 4 (decayed) and 7 (not decayed).
  Tensor<std::uint8_t> mask({8});
  for (int i = 0; i < 8; ++i) mask[i] = (i == 1 || i == 4 || i == 7) ? 0 : 1;
  Tensor<double> p({8}), g({8});
  std::vector<ScalarAdam> expected;
  for (int i = 0; i < 8; ++i) p[i] = p0[i], expected.push_back({p0[i]});

  for (int s = 0; s < 3; ++s) {
    for (int i = 0; i < 8; ++i) g[i] = grads[s][i];
    std::vector<double> m_before(opt.first_moments().data(), opt.first_moments().data() + 8);
    std::vector<double> v_before(opt.second_moments().data(), opt.second_moments().data() + 8);
    std::vector<double> p_before(p.data(), p.data() + 8);
    if (s == 1) {
      opt.step(ctx, p, g, lr, mask);
    } else {
      opt.step(ctx, p, g, lr);  // no mask: everything active
    }
    for (int i = 0; i < 8; ++i) {
      INFO("step " << s << " element " << i);
      const bool skipped = s == 1 && !mask[i];
      const double decay = i < 6 ? wd : 0.0;
      if (skipped && frozen) {
        // Not touched at all: parameter, moments, step count.
        CHECK(p[i] == p_before[i]);
        CHECK(opt.first_moments()[i] == m_before[i]);
        CHECK(opt.second_moments()[i] == v_before[i]);
        continue;
      }
      expected[i].step(grads[s][i], lr, b1, b2, eps, decay);
      CHECK(p[i] == Approx(expected[i].p).epsilon(1e-12));
      CHECK(opt.first_moments()[i] == Approx(expected[i].m).epsilon(1e-12));
      CHECK(opt.second_moments()[i] == Approx(expected[i].v).epsilon(1e-12));
      if (skipped) CHECK(p[i] != p_before[i]);  // zero_grad: momentum and decay still move it
    }
  }
  CHECK(opt.steps_taken() == 3);
  if (frozen) {
    // Elements left out once have taken two steps; their third used the t = 2 correction.
    REQUIRE(opt.element_steps().numel() == 8);
    for (int i = 0; i < 8; ++i) CHECK(opt.element_steps()[i] == (mask[i] ? 3 : 2));
  } else {
    CHECK(opt.element_steps().numel() == 0);
  }
}

TEST_CASE("AdamW rejects a mask of the wrong size and bad element counts", "[adamw][errors]") {
  const est::Context<est::cpu> ctx(1);
  std::vector<est::ParameterSpec> specs{{"w", {4}, 0, true}};
  est::AdamW<float> opt(specs);
  Tensor<float> p({4}), g({4});
  Tensor<std::uint8_t> mask({3});
  EST_CHECK_THROWS(opt.step(ctx, p, g, 1e-3, mask), est::shape_error,
                   "the active mask has 3 elements, expected 4");
  CHECK(opt.steps_taken() == 0);
  Tensor<std::int32_t> counts({4});
  counts[2] = 5;
  EST_CHECK_THROWS(opt.set_element_steps(counts), est::value_error,
                   "count 5 of element 2 is outside [0, steps_taken() = 0]");
  // Lowering the step count below restored per-element counts would index past the bias
  // corrections.
  opt.set_steps_taken(5);
  opt.set_element_steps(counts);
  EST_CHECK_THROWS(opt.set_steps_taken(4), est::value_error,
                   "4 is below the per-element count 5 already restored");
  est::AdamW<float> zero(specs, {.inactive = est::InactiveParameters::zero_grad});
  EST_CHECK_THROWS(zero.set_element_steps(counts), est::value_error, "only in frozen and mixed modes");
}
