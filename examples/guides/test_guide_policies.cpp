// The guides' policies do what their documentation says: pinned_ends.hpp
// (docs/manual/guides/custom-sampling.md) and staircase.hpp (growth-schedule.md).

#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "pinned_ends.hpp"
#include "staircase.hpp"

TEST_CASE("pinned-ends keeps both end layers and draws the rest uniformly") {
  const est::SubnetworkShape shape{.layers = 8, .heads = 4, .neurons = 64};
  const PinnedEnds policy(/*seed=*/7, /*neuron_granularity=*/1, /*head_group=*/1);
  const est::sampling::Uniform paper(/*seed=*/7, 1, 1);
  for (const double pL : {0.1, 0.5, 0.75, 1.0}) {
    // max(1, round(pL·L)) layers, never fewer than the two pinned ones.
    const int expected = std::max(2, std::max(1, int(std::lround(pL * shape.layers))));
    std::vector<int> seen(std::size_t(shape.layers), 0);
    const int steps = 2000;
    for (int step = 0; step < steps; ++step) {
      const est::Rates rates{pL, 0.5, 0.25};
      const est::Subnetwork s = policy.sample(shape, rates, step);
      s.validate("pinned-ends");
      REQUIRE(s.is_active(0));
      REQUIRE(s.is_active(shape.layers - 1));
      REQUIRE(s.active_layer_count() == expected);
      // Heads and neurons: what the paper's sampler draws for that layer at that step.
      const est::Subnetwork units = paper.sample(shape, {1.0, rates.heads, rates.neurons}, step);
      for (const int l : s.active_layers()) {
        ++seen[std::size_t(l)];
        CHECK(std::vector<int>(s.heads(l).begin(), s.heads(l).end()) ==
              std::vector<int>(units.heads(l).begin(), units.heads(l).end()));
        CHECK(std::vector<int>(s.neurons(l).begin(), s.neurons(l).end()) ==
              std::vector<int>(units.neurons(l).begin(), units.neurons(l).end()));
      }
      // A pure function of (seed, step).
      REQUIRE(policy.sample(shape, rates, step) == s);
    }
    // Each middle layer trains with probability (expected - 2) / (L - 2): within 5 standard
    // deviations of the binomial count.
    const double p = double(expected - 2) / double(shape.layers - 2);
    const double sd = std::sqrt(steps * p * (1 - p));
    for (int l = 1; l + 1 < shape.layers; ++l) {
      CHECK(std::abs(seen[std::size_t(l)] - steps * p) <= 5 * sd + 1e-9);
    }
  }
}

TEST_CASE("pinned-ends on one- and two-layer models trains every layer") {
  const PinnedEnds policy(1, 1, 1);
  const est::Subnetwork one = policy.sample({1, 2, 8}, {0.5, 0.5, 0.5}, 3);
  CHECK(one.active_layer_count() == 1);
  CHECK(one.is_active(0));
  const est::Subnetwork two = policy.sample({2, 2, 8}, {0.5, 0.5, 0.5}, 3);
  CHECK(two.active_layer_count() == 2);
}

TEST_CASE("staircase grows in equal stairs, then trains the full model") {
  // 4 stairs over the first 60 of 100 steps, from 0.2: stairs of 15 steps at 0.2, 0.4, 0.6, 0.8.
  const Staircase g({0.2, 0.2, 0.2}, 4, est::Boundary::fraction(0.6), 100);
  const double expected[] = {0.2, 0.4, 0.6, 0.8};
  for (int step = 0; step < 100; ++step) {
    const est::Rates r = g.rates(step);
    const double want = step < 60 ? expected[step / 15] : 1.0;
    CHECK(r.layers == Approx(want));
    CHECK(r.heads == Approx(want));
    CHECK(r.neurons == Approx(want));
  }
  // Each dimension grows from its own start: at stair 2 of 4, start + (1 - start)·2/4.
  const Staircase mixed({0.5, 0.25, 1.0}, 4, est::Boundary::step(40), 50);
  CHECK(mixed.rates(20).layers == Approx(0.75));
  CHECK(mixed.rates(20).heads == Approx(0.625));
  CHECK(mixed.rates(20).neurons == Approx(1.0));
  CHECK(mixed.rates(40) == est::Rates{});
  CHECK_THROWS_AS(g.rates(-1), est::value_error);
  CHECK_THROWS_AS(Staircase({0.0, 1, 1}, 2, est::Boundary::step(1), 2), est::value_error);
  CHECK_THROWS_AS(Staircase({0.5, 1, 1}, 0, est::Boundary::step(1), 2), est::value_error);
  CHECK_THROWS_AS(Staircase({0.5, 1, 1}, 2, est::Boundary::step(3), 2), est::value_error);
}
