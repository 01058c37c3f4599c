// Importance-weighted sampling (subnet/sampling/importance.hpp) and the per-unit gradient norms
// it learns from (subnet/unit_gradients.hpp): inclusion probabilities against their definition,
// systematic sampling's expectation computed exactly over its one uniform draw (the
// Horvitz–Thompson estimate is unbiased), the policy's frequencies against its probabilities,
// its state, and the norms against sums over the parameter layout written out by hand.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <numeric>
#include <random>
#include <vector>

#include <est/models/gpt2/family.hpp>
#include <est/models/gpt2/parameters.hpp>
#include <est/models/llama/family.hpp>
#include <est/models/llama/parameters.hpp>
#include <est/subnet/sampling.hpp>
#include <est/subnet/unit_gradients.hpp>

#include "../support/test_support.hpp"

using est::Index;
using est::Subnetwork;
using est::SubnetworkShape;
using est::sampling::Importance;

namespace {

/// Every breakpoint of systematic sampling over u in [0, 1): the fractional parts of the
/// running sums, sorted, with 0 and 1.
std::vector<double> breakpoints(const std::vector<double>& pi) {
  std::vector<double> points{0.0, 1.0};
  double sum = 0;
  for (const double p : pi) {
    sum += p;
    const double f = sum - std::floor(sum);
    if (f > 0 && f < 1) points.push_back(f);
  }
  std::sort(points.begin(), points.end());
  return points;
}

}  // namespace

TEST_CASE("inclusion probabilities add up to k, follow the weights and cap at 1", "[importance]") {
  const std::vector<double> even{1, 1, 1, 1};
  for (const double p : est::inclusion_probabilities(even, 3)) CHECK(p == Approx(0.75));
  const std::vector<double> w{1, 2, 3, 4};
  const auto pi = est::inclusion_probabilities(w, 2);
  for (std::size_t i = 0; i < 4; ++i) CHECK(pi[i] == Approx(2 * w[i] / 10));
  // A dominant weight is kept for sure; the others share the remaining k - 1.
  const std::vector<double> skewed{100, 1, 1, 2};
  const auto capped = est::inclusion_probabilities(skewed, 2);
  CHECK(capped[0] == 1.0);
  CHECK(capped[1] == Approx(0.25));
  CHECK(capped[3] == Approx(0.5));
  CHECK(std::accumulate(capped.begin(), capped.end(), 0.0) == Approx(2.0));
  CHECK(est::inclusion_probabilities(w, 4) == std::vector<double>(4, 1.0));
  EST_CHECK_THROWS(est::inclusion_probabilities(w, 5), est::value_error, "cannot keep 5 of 4");
  const std::vector<double> negative{1, -1};
  EST_CHECK_THROWS(est::inclusion_probabilities(negative, 1), est::value_error, "not finite");
}

TEST_CASE("systematic sampling keeps k units, each with probability exactly pi, and the "
          "Horvitz-Thompson sum is unbiased", "[importance]") {
  std::mt19937_64 gen(3);
  std::uniform_real_distribution<double> any(0.05, 5.0);
  for (int trial = 0; trial < 20; ++trial) {
    const int n = 3 + trial % 9, k = 1 + trial % n;
    std::vector<double> w(static_cast<std::size_t>(n)), x(static_cast<std::size_t>(n));
    for (auto& v : w) v = any(gen);
    for (auto& v : x) v = any(gen) - 2.5;
    const auto pi = est::inclusion_probabilities(w, k);
    // Integrate over u exactly: the kept set is constant between breakpoints.
    const auto points = breakpoints(pi);
    double expectation = 0;
    std::vector<double> kept_probability(static_cast<std::size_t>(n), 0.0);
    for (std::size_t j = 0; j + 1 < points.size(); ++j) {
      const double length = points[j + 1] - points[j];
      if (length <= 0) continue;
      const auto kept = est::systematic_sample(pi, 0.5 * (points[j] + points[j + 1]));
      REQUIRE(std::ssize(kept) == k);
      REQUIRE(std::is_sorted(kept.begin(), kept.end()));
      REQUIRE(std::adjacent_find(kept.begin(), kept.end()) == kept.end());
      double estimate = 0;
      for (const int i : kept) {
        estimate += x[std::size_t(i)] / pi[std::size_t(i)];
        kept_probability[std::size_t(i)] += length;
      }
      expectation += length * estimate;
    }
    CHECK(expectation == Approx(std::accumulate(x.begin(), x.end(), 0.0)).margin(1e-9));
    for (int i = 0; i < n; ++i) CHECK(kept_probability[std::size_t(i)] == Approx(pi[std::size_t(i)]).margin(1e-12));
  }
  const std::vector<double> not_whole{0.5, 0.7};
  EST_CHECK_THROWS(est::systematic_sample(not_whole, 0.2), est::value_error, "whole number");
  const std::vector<double> half{0.5, 0.5};
  EST_CHECK_THROWS(est::systematic_sample(half, 1.0), est::value_error, "outside [0, 1)");
}

TEST_CASE("before any observation the importance sampler draws like the uniform one, scaled "
          "by N/k", "[importance]") {
  const SubnetworkShape shape{3, 4, 12};
  const Importance policy(7);
  const est::Rates rates{0.67, 0.5, 0.25};
  for (std::int64_t step = 0; step < 20; ++step) {
    const Subnetwork s = policy.sample(shape, rates, step);
    CHECK(s == policy.sample(shape, rates, step));  // a pure function of (seed, step, state)
    CHECK(s.active_layer_count() == 2);
    for (const int l : s.active_layers()) {
      REQUIRE(s.heads(l).size() == 2);
      REQUIRE(s.neurons(l).size() == 3);
      for (std::size_t k = 0; k < 2; ++k) CHECK(s.head_scale(l, k) == Approx(2.0));
      for (std::size_t k = 0; k < 3; ++k) CHECK(s.neuron_scale(l, k) == Approx(4.0));
    }
  }
  CHECK_FALSE(policy.sample(shape, rates, 0) == Importance(8).sample(shape, rates, 0));
}

TEST_CASE("the importance sampler draws units as often as their probabilities say and scales "
          "them by 1/pi", "[importance]") {
  const SubnetworkShape shape{1, 4, 6};
  Importance policy(11, /*uniform_share=*/0.25, /*decay=*/0.5);
  // One observation of every unit: head 2 and neuron 5 have large gradients.
  Subnetwork all = Subnetwork::full(shape);
  est::UnitGradients norms{shape, {1, 1, 6, 1}, {1, 1, 1, 1, 1, 11}};
  policy.observe(0, all, norms);
  const est::Rates rates{1, 0.5, 0.5};
  // Expected probabilities: w = 0.75·g/Σg + 0.25/N, π = k·w capped.
  auto expected_pi = [](const std::vector<double>& g, int k) {
    const double sum = std::accumulate(g.begin(), g.end(), 0.0);
    std::vector<double> w;
    for (const double v : g) w.push_back(0.75 * v / sum + 0.25 / double(g.size()));
    return est::inclusion_probabilities(w, k);
  };
  const auto head_pi = expected_pi({1, 1, 6, 1}, 2);
  const auto neuron_pi = expected_pi({1, 1, 1, 1, 1, 11}, 3);
  const int steps = 4000;
  std::vector<int> head_count(4, 0), neuron_count(6, 0);
  for (std::int64_t step = 0; step < steps; ++step) {
    const Subnetwork s = policy.sample(shape, rates, step);
    for (std::size_t k = 0; k < s.heads(0).size(); ++k) {
      const int h = s.heads(0)[k];
      ++head_count[std::size_t(h)];
      REQUIRE(s.head_scale(0, k) == Approx(1.0 / head_pi[std::size_t(h)]));
    }
    for (std::size_t k = 0; k < s.neurons(0).size(); ++k) {
      const int n = s.neurons(0)[k];
      ++neuron_count[std::size_t(n)];
      REQUIRE(s.neuron_scale(0, k) == Approx(1.0 / neuron_pi[std::size_t(n)]));
    }
  }
  // Binomial counts within 5 standard deviations (the seeds are fixed: no flakiness).
  auto close = [&](int count, double p) {
    const double sd = std::sqrt(steps * p * (1 - p));
    return std::abs(count - steps * p) <= 5 * sd + 1;
  };
  for (int h = 0; h < 4; ++h) CHECK(close(head_count[std::size_t(h)], head_pi[std::size_t(h)]));
  for (int n = 0; n < 6; ++n) {
    CHECK(close(neuron_count[std::size_t(n)], neuron_pi[std::size_t(n)]));
  }
  CHECK(head_count[2] > 2 * head_count[0]);  // the important head really is drawn more
}

TEST_CASE("the importance sampler's state folds observations, round-trips and is checked",
          "[importance]") {
  const SubnetworkShape shape{2, 2, 3};
  Importance policy(1, 0.5, 0.5);
  CHECK(policy.state().at("heads").empty());
  Subnetwork s(shape);
  s.activate_layer(1, {0}, {2});
  policy.observe(0, s, {shape, {0, 0, 4, 0}, {0, 0, 0, 0, 0, 6}});
  policy.observe(1, s, {shape, {0, 0, 2, 0}, {0, 0, 0, 0, 0, 2}});
  const auto state = policy.state();
  CHECK(state.at("heads") == std::vector<double>{-1, -1, 3, -1});  // 4, then 0.5·4 + 0.5·2
  CHECK(state.at("neurons") == std::vector<double>{-1, -1, -1, -1, -1, 4});
  Importance copy(1, 0.5, 0.5);
  copy.restore(state);
  const est::Rates rates{1, 0.5, 0.67};
  for (std::int64_t step = 0; step < 10; ++step) {
    CHECK(copy.sample(shape, rates, step) == policy.sample(shape, rates, step));
  }
  EST_CHECK_THROWS(copy.restore({{"heads", {}}}), est::value_error, "expected the entries");
  EST_CHECK_THROWS(copy.restore({{"heads", {-2}}, {"neurons", {1}}}), est::value_error,
                   "a running magnitude of -2");
  EST_CHECK_THROWS(policy.observe(2, s, {{2, 2, 4}, {}, {}}), est::value_error,
                   "gradient norms of shape (2, 2, 4)");
  EST_CHECK_THROWS(Importance(0, 0.0), est::value_error, "uniform_share must be in (0, 1]");
  EST_CHECK_THROWS(Importance(0, 0.5, 1.0), est::value_error, "decay must be in [0, 1)");
}

TEST_CASE("unit gradient norms sum each head's and neuron's slices of the arena",
          "[importance][unit_gradients]") {
  constexpr est::Gpt2Config cfg{.layers = 2, .heads = 3, .width = 12, .mlp_hidden = 10,
                                .vocab = 16, .context = 4};
  const auto grads = est::testing::random_tensor<double>({cfg.parameter_count()}, 5);
  auto t = est::layout_gpt2<const double>(cfg, grads.data(), nullptr);
  Subnetwork s(est::subnetwork_shape(cfg));
  s.activate_layer(1, {0, 2}, {1, 4, 9});
  const auto norms = est::unit_gradient_norms<double>(est::slice_plan(cfg, s),
                                                      est::subnetwork_shape(cfg), grads);
  const Index C = 12, d = 4, M = 10;
  const auto& w = t.layers[1];
  for (int h = 0; h < 3; ++h) {
    double sum = 0;
    for (Index part = 0; part < 3; ++part) {
      for (Index i = 0; i < d; ++i) {
        const Index col = part * C + h * d + i;
        for (Index r = 0; r < C; ++r) sum += std::pow(w.attn_weight[r * 3 * C + col], 2);
        sum += std::pow(w.attn_bias[col], 2);
      }
    }
    for (Index i = 0; i < d; ++i) {
      for (Index c = 0; c < C; ++c) sum += std::pow(w.attn_proj_weight[(h * d + i) * C + c], 2);
    }
    const bool active = h != 1;
    CHECK(norms.heads[std::size_t(3 + h)] == Approx(active ? std::sqrt(sum) : 0.0).epsilon(1e-12));
    CHECK(norms.heads[std::size_t(h)] == 0.0);  // layer 0 is skipped
  }
  for (const int n : {1, 4, 9}) {
    double sum = std::pow(w.fc_bias[n], 2);
    for (Index r = 0; r < C; ++r) sum += std::pow(w.fc_weight[r * M + n], 2);
    for (Index c = 0; c < C; ++c) sum += std::pow(w.fc_proj_weight[n * C + c], 2);
    CHECK(norms.neurons[std::size_t(M + n)] == Approx(std::sqrt(sum)).epsilon(1e-12));
  }
  CHECK(norms.neurons[std::size_t(M + 2)] == 0.0);

  // Llama: a head's q rows and o columns; a neuron's gate and up rows and down column.
  constexpr est::LlamaConfig lcfg{.layers = 1, .heads = 4, .kv_heads = 2, .width = 8,
                                  .mlp_hidden = 6, .vocab = 16, .context = 4};
  const auto lgrads = est::testing::random_tensor<double>({lcfg.parameter_count()}, 6);
  auto lt = est::layout_llama<const double>(lcfg, lgrads.data(), nullptr);
  Subnetwork ls(est::subnetwork_shape(lcfg));
  ls.activate_layer(0, {1}, {0, 5});
  const auto lnorms = est::unit_gradient_norms<double>(est::slice_plan(lcfg, ls),
                                                       est::subnetwork_shape(lcfg), lgrads);
  const Index lC = 8, ld = 2, lM = 6, q = 8;
  double head = 0;
  for (Index i = 0; i < ld; ++i) {
    for (Index c = 0; c < lC; ++c) head += std::pow(lt.layers[0].q[(ld + i) * lC + c], 2);
    for (Index r = 0; r < lC; ++r) head += std::pow(lt.layers[0].o[r * q + ld + i], 2);
  }
  CHECK(lnorms.heads[1] == Approx(std::sqrt(head)).epsilon(1e-12));
  double neuron = 0;
  for (Index c = 0; c < lC; ++c) {
    neuron += std::pow(lt.layers[0].gate[5 * lC + c], 2) + std::pow(lt.layers[0].up[5 * lC + c], 2);
  }
  for (Index r = 0; r < lC; ++r) neuron += std::pow(lt.layers[0].down[r * lM + 5], 2);
  CHECK(lnorms.neurons[5] == Approx(std::sqrt(neuron)).epsilon(1e-12));
}
