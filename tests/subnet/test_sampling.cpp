// est/subnet/sampling.hpp and est/subnet/schedule.hpp: active_count against hand-computed
// rounding; sampling::Uniform's determinism (a pure function of seed and step), sizes, index
// validity and uniformity (chi-square tests against the uniform expectation, shown able to fail
// on deliberately biased samplers); sampling::Full; a user-written importance-weighted policy
// used through SubnetworkSchedule; and the errors SubnetworkSchedule::at raises for policies
// that return invalid subnetworks.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <est/core/philox.hpp>
#include <est/subnet/growth.hpp>
#include <est/subnet/sampling.hpp>
#include <est/subnet/schedule.hpp>
#include <est/subnet/subnetwork.hpp>

#include "../support/test_support.hpp"

using est::testing::to_vector;
using est::testing::value_error_message;

using est::active_count;
using est::Rates;
using est::Subnetwork;
using est::SubnetworkShape;

namespace {



/// True when `v` is strictly increasing and inside [0, n).
bool sorted_distinct_in_range(std::span<const int> v, int n) {
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i] < 0 || v[i] >= n) return false;
    if (i > 0 && v[i] <= v[i - 1]) return false;
  }
  return true;
}

// ---- A user-written policy: heads drawn with probability proportional to a weight ----------

/// Heads of each active layer drawn without replacement with probabilities proportional to
/// `head_weights` (Efraimidis & Spirakis, "Weighted random sampling with a reservoir", 2006:
/// give head i the key u_i^(1/w_i), u_i uniform in (0, 1], and keep the k largest keys; here
/// the equivalent log(u_i)/w_i). Layers and neurons are uniform, as in sampling::Uniform. Every
/// random number comes from Philox under `seed`, stream rng_stream(subnetwork, step), so the
/// result is a pure function of (seed, step) as SamplingPolicy requires.
/// Note: the model rescales by H/|heads| whatever the policy, which is unbiased only for equal
/// inclusion probabilities; a policy like this one trades that bias for focus.
struct WeightedHeads {
  std::vector<double> head_weights;
  std::uint64_t seed = 0;

  [[nodiscard]] Subnetwork sample(const SubnetworkShape& shape, const Rates& rates,
                                  std::int64_t step) const {
    est::require<est::value_error>(std::ssize(head_weights) == shape.heads, name(), ": ",
                                   head_weights.size(), " head weights for ", shape.heads,
                                   " heads");
    const std::uint64_t stream =
        est::rng_stream(est::RngPurpose::subnetwork, static_cast<std::uint64_t>(step));
    const auto L = static_cast<std::uint64_t>(shape.layers);
    const auto H = static_cast<std::uint64_t>(shape.heads);
    const auto M = static_cast<std::uint64_t>(shape.neurons);
    const int kL = active_count(rates.layers, shape.layers);
    const int kH = active_count(rates.heads, shape.heads);
    const int kM = active_count(rates.neurons, shape.neurons);
    const est::Philox4x32 gen(seed);
    Subnetwork subnet(shape);
    for (int l : est::draw_without_replacement(seed, stream, 0, kL, shape.layers)) {
      const auto ul = static_cast<std::uint64_t>(l);
      std::vector<std::pair<double, int>> keys;
      for (int h = 0; h < shape.heads; ++h) {
        const auto w = gen(stream, L + ul * H + static_cast<std::uint64_t>(h));
        const double u = est::uniform_double_open(w[1], w[0]);  // (0, 1]: log is finite
        keys.emplace_back(std::log(u) / head_weights[static_cast<std::size_t>(h)], h);
      }
      std::partial_sort(keys.begin(), keys.begin() + kH, keys.end(), std::greater<>());
      std::vector<int> heads;
      for (int i = 0; i < kH; ++i) heads.push_back(keys[static_cast<std::size_t>(i)].second);
      subnet.activate_layer(
          l, std::move(heads),
          est::draw_without_replacement(seed, stream, L + L * H + ul * M, kM, shape.neurons));
    }
    return subnet;
  }
  [[nodiscard]] std::string_view name() const { return "WeightedHeads"; }
};

static_assert(est::SamplingPolicy<WeightedHeads>);

/// A deliberately biased sampler: like Uniform, but the last head is never drawn.
struct DropLastHead {
  std::uint64_t seed = 0;
  [[nodiscard]] Subnetwork sample(const SubnetworkShape& shape, const Rates& rates,
                                  std::int64_t step) const {
    const std::uint64_t stream =
        est::rng_stream(est::RngPurpose::subnetwork, static_cast<std::uint64_t>(step));
    const auto L = static_cast<std::uint64_t>(shape.layers);
    const auto H = static_cast<std::uint64_t>(shape.heads);
    const auto M = static_cast<std::uint64_t>(shape.neurons);
    const int kL = active_count(rates.layers, shape.layers);
    const int kH = active_count(rates.heads, shape.heads);
    const int kM = active_count(rates.neurons, shape.neurons);
    Subnetwork subnet(shape);
    for (int l : est::draw_without_replacement(seed, stream, 0, kL, shape.layers)) {
      const auto ul = static_cast<std::uint64_t>(l);
      subnet.activate_layer(
          l, est::draw_without_replacement(seed, stream, L + ul * H, kH, shape.heads - 1),
          est::draw_without_replacement(seed, stream, L + L * H + ul * M, kM, shape.neurons));
    }
    return subnet;
  }
  [[nodiscard]] std::string_view name() const { return "DropLastHead"; }
};

static_assert(est::SamplingPolicy<DropLastHead>);
static_assert(!est::SamplingPolicy<int>);

// ---- Counting and the chi-square statistic --------------------------------------------------

struct Counts {
  std::int64_t layer_draws = 0;  // steps: one k-of-L draw each
  std::int64_t unit_draws = 0;   // (step, active layer) pairs: one head and one neuron draw each
  std::vector<std::int64_t> layers, heads, neurons;
  std::vector<std::int64_t> layer_pairs, head_pairs;  // co-occurrence, index i*n + j with i < j
};

template <class Policy>
Counts count_draws(const Policy& policy, SubnetworkShape shape, Rates rates, int steps) {
  const auto L = static_cast<std::size_t>(shape.layers), H = static_cast<std::size_t>(shape.heads);
  Counts c;
  c.layers.assign(L, 0);
  c.heads.assign(H, 0);
  c.neurons.assign(static_cast<std::size_t>(shape.neurons), 0);
  c.layer_pairs.assign(L * L, 0);
  c.head_pairs.assign(H * H, 0);
  for (int step = 0; step < steps; ++step) {
    const Subnetwork s = policy.sample(shape, rates, step);
    const std::vector<int> active = s.active_layers();
    ++c.layer_draws;
    for (std::size_t i = 0; i < active.size(); ++i) {
      ++c.layers[static_cast<std::size_t>(active[i])];
      for (std::size_t j = i + 1; j < active.size(); ++j) {
        ++c.layer_pairs[static_cast<std::size_t>(active[i]) * L + static_cast<std::size_t>(active[j])];
      }
    }
    for (int l : active) {
      ++c.unit_draws;
      const auto heads = s.heads(l);
      for (std::size_t i = 0; i < heads.size(); ++i) {
        ++c.heads[static_cast<std::size_t>(heads[i])];
        for (std::size_t j = i + 1; j < heads.size(); ++j) {
          ++c.head_pairs[static_cast<std::size_t>(heads[i]) * H + static_cast<std::size_t>(heads[j])];
        }
      }
      for (int m : s.neurons(l)) ++c.neurons[static_cast<std::size_t>(m)];
    }
  }
  return c;
}

/// Chi-square statistic of per-index counts after `draws` independent uniform draws of k of the
/// n = counts.size() indices without replacement. Per draw the inclusion indicators have mean
/// p = k/n, variance p(1-p) and covariance -p(1-p)/(n-1), i.e. covariance matrix
/// p(1-p)·n/(n-1)·(I - 11ᵀ/n), a scaled projection of rank n-1. So
///   Σ_i (O_i - draws·p)² / (draws · p(1-p) · n/(n-1))
/// is asymptotically χ² with n-1 degrees of freedom (for k = 1 it is Pearson's statistic).
double chi_square(const std::vector<std::int64_t>& counts, std::int64_t draws, int k) {
  const double n = double(counts.size());
  const double p = k / n;
  const double expected = double(draws) * p;
  const double scale = double(draws) * p * (1 - p) * n / (n - 1);
  double stat = 0;
  for (std::int64_t o : counts) stat += (double(o) - expected) * (double(o) - expected) / scale;
  return stat;
}

// 0.999 quantiles of χ² with df degrees of freedom. 24.322 (df 7) and 31.264 (df 11) are the
// values of the standard upper-critical-value table (NIST/SEMATECH e-Handbook of Statistical
// Methods, section 1.3.6.7.4, column 0.999); 103.442 (df 63) is beyond that table's rows and was
// computed by inverting the regularized incomplete gamma function with mpmath
// (mpmath.findroot(lambda x: mpmath.gammainc(31.5, 0, x/2, regularized=True) - 0.999, 110)
// = 103.44237731987...).
constexpr double chi2_999_df7 = 24.322;
constexpr double chi2_999_df11 = 31.264;
constexpr double chi2_999_df63 = 103.442;

/// Largest |z| over pairs (i < j) of co-occurrence counts, each a binomial(draws, q) with
/// q = k(k-1) / (n(n-1)) under uniform k-of-n sampling.
double max_pair_z(const std::vector<std::int64_t>& pairs, int n, std::int64_t draws, int k) {
  const double q = double(k) * (k - 1) / (double(n) * (n - 1));
  const double mean = double(draws) * q, sd = std::sqrt(double(draws) * q * (1 - q));
  double worst = 0;
  for (int i = 0; i < n; ++i) {
    for (int j = i + 1; j < n; ++j) {
      const double o = double(pairs[static_cast<std::size_t>(i * n + j)]);
      worst = std::max(worst, std::abs(o - mean) / sd);
    }
  }
  return worst;
}

}  // namespace

TEST_CASE("active_count keeps max(1, round(p*N)), rounded to multiples of the granularity",
          "[subnet][sampling]") {
  CHECK(active_count(0.3, 3072) == 922);      // round(921.6)
  CHECK(active_count(0.3, 3072, 16) == 928);  // 922 / 16 = 57.625 -> 58 * 16
  CHECK(active_count(0.5, 100, 8) == 48);     // 50 / 8 = 6.25 -> 6 * 8
  CHECK(active_count(0.9, 90, 16) == 80);     // 81 / 16 = 5.0625 -> 5 * 16
  CHECK(active_count(0.99, 90, 16) == 90);    // 89 / 16 = 5.5625 -> 96, clamped to N = 90
  CHECK(active_count(0.01, 100, 8) == 8);     // 1 / 8 rounds to 0, clamped up to g = 8
  CHECK(active_count(0.01, 3072, 16) == 32);  // round(30.72) = 31, 31 / 16 = 1.94 -> 2 * 16
  CHECK(active_count(0.25, 6) == 2);          // round(1.5) = 2: half away from zero
  CHECK(active_count(0.5, 3) == 2);           // round(1.5) = 2
  CHECK(active_count(0.75, 6) == 5);          // round(4.5) = 5
  CHECK(active_count(0.25, 12) == 3);
  CHECK(active_count(1e-9, 10) == 1);         // never fewer than one
  CHECK(active_count(0.04, 12) == 1);         // round(0.48) = 0 -> 1
  CHECK(active_count(1, 1) == 1);
  CHECK(active_count(1, 3072) == 3072);
  CHECK(active_count(1, 3072, 16) == 3072);
  CHECK(active_count(1, 3000, 16) == 3000);   // p = 1 keeps N even when g does not divide it
  CHECK(active_count(1, 7, 4) == 7);
  // A total no larger than the granularity is not rounded: the rate still applies.
  CHECK(est::active_count(0.5, 8, 16) == 4);
  CHECK(est::active_count(0.5, 16, 16) == 8);
  CHECK(est::active_count(1.0, 8, 16) == 8);
  CHECK(est::sampling::Uniform(0, 16).sample({2, 2, 8}, {1, 1, 0.5}, 0).neurons(0).size() == 4);
}

TEST_CASE("active_count rejects rates outside 0 < p <= 1, empty totals and zero granularity",
          "[subnet][sampling][errors]") {
  EST_CHECK_THROWS((void)active_count(0, 10), est::value_error, "rate 0 is outside (0, 1]");
  EST_CHECK_THROWS((void)active_count(1.5, 10), est::value_error, "rate 1.5");
  EST_CHECK_THROWS((void)active_count(-0.25, 10), est::value_error, "rate -0.25");
  EST_CHECK_THROWS((void)active_count(std::numeric_limits<double>::quiet_NaN(), 10),
                   est::value_error, "active_count: rate");
  EST_CHECK_THROWS((void)active_count(0.5, 0), est::value_error, "total must be >= 1, got 0");
  EST_CHECK_THROWS((void)active_count(0.5, 10, 0), est::value_error,
                   "granularity must be >= 1, got 0");
}

TEST_CASE("Uniform is a pure function of (seed, step)", "[subnet][sampling]") {
  const SubnetworkShape shape{8, 12, 64};
  const Rates rates{0.5, 0.25, 0.25};
  const est::sampling::Uniform policy(42);
  const Subnetwork first = policy.sample(shape, rates, 5);
  // Unrelated calls in between: other steps, other rates, other shapes.
  for (int step = 0; step < 50; ++step) (void)policy.sample(shape, rates, step);
  (void)policy.sample({3, 2, 5}, {1, 0.5, 0.5}, 5);
  (void)policy.sample(shape, {0.75, 0.5, 1}, 5);
  CHECK(policy.sample(shape, rates, 5) == first);
  // A separately constructed policy with the same seed.
  const est::sampling::Uniform other(42);
  CHECK(other.sample(shape, rates, 5) == first);
  CHECK(other.sample(shape, rates, 5).digest() == first.digest());
  CHECK(policy.seed() == 42);
  CHECK(policy.neuron_granularity() == 1);
}

TEST_CASE("Uniform draws different subnetworks at different steps and seeds", "[subnet][sampling]") {
  const SubnetworkShape shape{8, 12, 64};
  const Rates rates{0.5, 0.25, 0.25};
  const est::sampling::Uniform a(1), b(2);
  std::set<std::uint64_t> by_step, by_seed_a, by_seed_b;
  int same_across_seeds = 0;
  for (int step = 0; step < 20; ++step) {
    const Subnetwork sa = a.sample(shape, rates, step), sb = b.sample(shape, rates, step);
    by_seed_a.insert(sa.digest());
    by_seed_b.insert(sb.digest());
    if (sa == sb) ++same_across_seeds;
  }
  // C(8,4)·C(12,3)^4·C(64,16)^4 possibilities: a repeat among 20 would be astonishing.
  CHECK(by_seed_a.size() >= 19);
  CHECK(by_seed_b.size() >= 19);
  CHECK(same_across_seeds <= 1);
  // Steps far apart (the stream index is the step) differ too.
  CHECK(a.sample(shape, rates, 0) != a.sample(shape, rates, 1'000'000));
}

TEST_CASE("Uniform's sets have the hand-computed sizes, are sorted, distinct and in range",
          "[subnet][sampling]") {
  struct Case {
    SubnetworkShape shape;
    Rates rates;
    int granularity;
    int layers, heads, neurons;  // hand-computed
  };
  const Case cases[] = {
      {{6, 12, 3072}, {0.5, 0.5, 0.3}, 16, 3, 6, 928},    // 3, 6, round(921.6)=922 -> 928
      {{6, 12, 3072}, {0.5, 0.5, 0.3}, 1, 3, 6, 922},
      {{6, 12, 3072}, {0.1, 0.1, 0.01}, 16, 1, 1, 32},    // round(.6)=1, round(1.2)=1, 31 -> 32
      {{6, 12, 3072}, {0.75, 0.05, 0.999}, 16, 5, 1, 3072},  // round(4.5)=5, 3069 -> 3072
      {{6, 12, 3072}, {1, 0.25, 1}, 16, 6, 3, 3072},
      {{4, 4, 16}, {0.25, 0.25, 0.25}, 1, 1, 1, 4},
      {{3, 1, 1}, {0.5, 1, 1}, 1, 2, 1, 1},               // round(1.5) = 2
  };
  for (const Case& c : cases) {
    INFO("shape (" << c.shape.layers << ", " << c.shape.heads << ", " << c.shape.neurons
                   << ") rates " << c.rates << " granularity " << c.granularity);
    const est::sampling::Uniform policy(7, c.granularity);
    for (int step = 0; step < 5; ++step) {
      const Subnetwork s = policy.sample(c.shape, c.rates, step);
      CHECK(s.shape() == c.shape);
      CHECK(s.active_layer_count() == c.layers);
      CHECK(sorted_distinct_in_range(s.active_layers(), c.shape.layers));
      for (int l : s.active_layers()) {
        CHECK(std::ssize(s.heads(l)) == c.heads);
        CHECK(std::ssize(s.neurons(l)) == c.neurons);
        CHECK(sorted_distinct_in_range(s.heads(l), c.shape.heads));
        CHECK(sorted_distinct_in_range(s.neurons(l), c.shape.neurons));
      }
      CHECK_NOTHROW(s.validate("test"));
    }
  }
}

TEST_CASE("Uniform at rates of 1 is exactly the full model, and Full ignores the rates",
          "[subnet][sampling]") {
  const SubnetworkShape shape{5, 3, 7};
  const est::sampling::Uniform uniform(9, 4);
  for (int step : {0, 1, 99}) CHECK(uniform.sample(shape, {1, 1, 1}, step) == Subnetwork::full(shape));
  const est::sampling::Full full;
  CHECK(full.sample(shape, {0.1, 0.2, 0.3}, 3) == Subnetwork::full(shape));
  CHECK(full.sample(shape, {1, 1, 1}, 0).is_full());
  CHECK(full.name() == "sampling::Full");
  CHECK(uniform.name() == "sampling::Uniform");
}

TEST_CASE("A layer's heads and neurons under Uniform do not depend on the layer rate",
          "[subnet][sampling]") {
  // Documented: layer l's draws use their own Philox counters, so which other layers were drawn
  // (and how many) cannot change them.
  const SubnetworkShape shape{8, 12, 64};
  const est::sampling::Uniform policy(3);
  for (int step = 0; step < 10; ++step) {
    const Subnetwork half = policy.sample(shape, {0.5, 0.25, 0.25}, step);
    const Subnetwork all = policy.sample(shape, {1.0, 0.25, 0.25}, step);
    const Subnetwork one = policy.sample(shape, {0.1, 0.25, 0.25}, step);
    CHECK(all.active_layer_count() == 8);
    CHECK(half.active_layer_count() == 4);
    CHECK(one.active_layer_count() == 1);
    for (const Subnetwork* s : {&half, &one}) {
      for (int l : s->active_layers()) {
        CHECK(to_vector(s->heads(l)) == to_vector(all.heads(l)));
        CHECK(to_vector(s->neurons(l)) == to_vector(all.neurons(l)));
      }
    }
  }
}

TEST_CASE("Uniform rejects bad rates, negative steps and zero granularity, naming itself",
          "[subnet][sampling][errors]") {
  const est::sampling::Uniform policy(0);
  EST_CHECK_THROWS((void)policy.sample({2, 2, 2}, {0.5, 0, 0.5}, 0), est::value_error,
                   "sampling::Uniform: head rate 0");
  EST_CHECK_THROWS((void)policy.sample({2, 2, 2}, {0.5, 0.5, 0.5}, -4), est::value_error,
                   "sampling::Uniform: step -4 is negative");
  EST_CHECK_THROWS(est::sampling::Uniform(0, 0), est::value_error,
                   "sampling::Uniform: neuron_granularity must be >= 1, got 0");
}

TEST_CASE("Uniform chooses layers, heads and neurons uniformly (chi-square at the 0.999 level)",
          "[subnet][sampling][statistics]") {
  // 3000 steps of shape (8, 12, 64) at rates (0.5, 0.25, 0.25): 4 of 8 layers per step, 3 of
  // 12 heads and 16 of 64 neurons per active layer.
  const SubnetworkShape shape{8, 12, 64};
  const Rates rates{0.5, 0.25, 0.25};
  const int steps = 3000;
  const Counts c = count_draws(est::sampling::Uniform(2024), shape, rates, steps);
  REQUIRE(c.layer_draws == steps);
  REQUIRE(c.unit_draws == 4 * steps);

  const double layers = chi_square(c.layers, c.layer_draws, 4);
  const double heads = chi_square(c.heads, c.unit_draws, 3);
  const double neurons = chi_square(c.neurons, c.unit_draws, 16);
  INFO("chi-square: layers " << layers << ", heads " << heads << ", neurons " << neurons);
  CHECK(layers < chi2_999_df7);
  CHECK(heads < chi2_999_df11);
  CHECK(neurons < chi2_999_df63);

  // Pairs, lightly: each co-occurrence count within 4.5 standard deviations of its binomial
  // expectation (28 layer pairs, 66 head pairs; a uniform sampler fails this with chance < 1e-3).
  CHECK(max_pair_z(c.layer_pairs, 8, c.layer_draws, 4) < 4.5);
  CHECK(max_pair_z(c.head_pairs, 12, c.unit_draws, 3) < 4.5);
}

TEST_CASE("The chi-square test rejects biased samplers", "[subnet][sampling][statistics]") {
  const SubnetworkShape shape{8, 12, 64};
  const Rates rates{0.5, 0.25, 0.25};
  const int steps = 3000;

  SECTION("a sampler that never draws the last head") {
    const Counts c = count_draws(DropLastHead{2024}, shape, rates, steps);
    CHECK(c.heads[11] == 0);
    const double heads = chi_square(c.heads, c.unit_draws, 3);
    INFO("heads chi-square " << heads);
    CHECK(heads > chi2_999_df11);
    // Its layers and neurons are unbiased and still pass.
    CHECK(chi_square(c.layers, c.layer_draws, 4) < chi2_999_df7);
    CHECK(chi_square(c.neurons, c.unit_draws, 16) < chi2_999_df63);
  }
  SECTION("a sampler that favours head 0 with twice the weight") {
    std::vector<double> w(12, 1.0);
    w[0] = 2.0;
    const Counts c = count_draws(WeightedHeads{w, 2024}, shape, rates, steps);
    const double heads = chi_square(c.heads, c.unit_draws, 3);
    INFO("heads chi-square " << heads);
    CHECK(heads > chi2_999_df11);
  }
}

TEST_CASE("A user-written weighted policy runs through SubnetworkSchedule", "[subnet][sampling]") {
  const SubnetworkShape shape{4, 8, 16};
  std::vector<double> w(8, 1.0);
  w[5] = 8.0;  // one heavy head
  const est::SubnetworkSchedule schedule(shape, WeightedHeads{w, 11},
                                         est::growth::Constant({0.5, 0.25, 0.5}));
  static_assert(std::is_same_v<std::remove_cvref_t<decltype(schedule)>::sampling_type, WeightedHeads>);
  CHECK(schedule.shape() == shape);
  CHECK(schedule.rates(0) == Rates{0.5, 0.25, 0.5});

  // Deterministic per step, including from a second schedule object.
  const est::SubnetworkSchedule again(shape, WeightedHeads{w, 11},
                                      est::growth::Constant({0.5, 0.25, 0.5}));
  CHECK(schedule.at(17) == schedule.at(17));
  CHECK(again.at(17) == schedule.at(17));
  CHECK(schedule.at(17) != schedule.at(18));

  std::vector<std::int64_t> head_counts(8, 0);
  std::int64_t draws = 0;
  for (int step = 0; step < 2000; ++step) {
    const Subnetwork s = schedule.at(step);
    CHECK(s.active_layer_count() == 2);
    for (int l : s.active_layers()) {
      ++draws;
      REQUIRE(std::ssize(s.heads(l)) == 2);
      CHECK(std::ssize(s.neurons(l)) == 8);
      for (int h : s.heads(l)) ++head_counts[static_cast<std::size_t>(h)];
    }
  }
  // Drawing 2 of weights (8, 1 x 7) successively: the heavy head is kept with probability
  // 8/15 + (7/15)(8/14) = 0.8, each light head with (2 - 0.8)/7 ≈ 0.171.
  const auto heavy = head_counts[5];
  INFO("heavy " << heavy << " of " << draws);
  CHECK(double(heavy) / double(draws) == Approx(0.8).margin(0.03));
  for (int h = 0; h < 8; ++h) {
    if (h == 5) continue;
    INFO("light head " << h << ": " << head_counts[static_cast<std::size_t>(h)]);
    CHECK(heavy > 3 * head_counts[static_cast<std::size_t>(h)]);
  }

  // With one head per layer the keys give exactly P(head i) = w_i / Σw: 8/15 for the heavy one.
  const est::SubnetworkSchedule single(shape, WeightedHeads{w, 5},
                                       est::growth::Constant({1, 0.125, 0.5}));
  std::int64_t heavy1 = 0, n1 = 0;
  for (int step = 0; step < 1000; ++step) {
    const Subnetwork s = single.at(step);
    for (int l : s.active_layers()) {
      ++n1;
      REQUIRE(std::ssize(s.heads(l)) == 1);
      if (s.heads(l)[0] == 5) ++heavy1;
    }
  }
  const double p = 8.0 / 15.0, sd = std::sqrt(double(n1) * p * (1 - p));
  CHECK(std::abs(double(heavy1) - double(n1) * p) < 4.5 * sd);
}

TEST_CASE("SubnetworkSchedule with Uniform and ThreeStage follows the stages", "[subnet][sampling]") {
  const SubnetworkShape shape{4, 4, 32};
  const est::SubnetworkSchedule schedule(shape, est::sampling::Uniform(1),
                                         est::growth::ThreeStage(100));
  // Stage 1 (steps < 25): 2 of 4 layers, 2 of 4 heads, 16 of 32 neurons.
  const Subnetwork s1 = schedule.at(24);
  CHECK(s1.active_layer_count() == 2);
  for (int l : s1.active_layers()) {
    CHECK(std::ssize(s1.heads(l)) == 2);
    CHECK(std::ssize(s1.neurons(l)) == 16);
  }
  // Stage 2 (25 <= step < 50): every layer, half the heads and neurons.
  const Subnetwork s2 = schedule.at(25);
  CHECK(s2.active_layers() == std::vector<int>{0, 1, 2, 3});
  for (int l = 0; l < 4; ++l) {
    CHECK(std::ssize(s2.heads(l)) == 2);
    CHECK(std::ssize(s2.neurons(l)) == 16);
  }
  // Stage 3: the full model.
  CHECK(schedule.at(50) == Subnetwork::full(shape));
  CHECK(schedule.at(99).is_full());
  EST_CHECK_THROWS((void)schedule.at(-1), est::value_error, "growth::ThreeStage: step -1");
  EST_CHECK_THROWS(est::SubnetworkSchedule(SubnetworkShape{0, 4, 32}, est::sampling::Uniform(1),
                                           est::growth::ThreeStage(100)),
                   est::value_error, "(0, 4, 32)");
}

// ---- Policies that return something invalid -------------------------------------------------

namespace {

/// Returns layer 0 with the heads and neurons given, under name "BadPolicy".
struct FixedPolicy {
  SubnetworkShape returned_shape;
  std::vector<int> heads, neurons;
  int layer = 0;
  [[nodiscard]] Subnetwork sample(const SubnetworkShape&, const Rates&, std::int64_t) const {
    Subnetwork s(returned_shape);
    s.activate_layer(layer, heads, neurons);
    return s;
  }
  [[nodiscard]] std::string_view name() const { return "BadPolicy"; }
};

/// Activates no layer at all.
struct NothingPolicy {
  [[nodiscard]] Subnetwork sample(const SubnetworkShape& shape, const Rates&,
                                  std::int64_t) const {
    return Subnetwork(shape);
  }
  [[nodiscard]] std::string_view name() const { return "NothingPolicy"; }
};

/// A growth policy that returns a rate above 1.
struct TooFast {
  [[nodiscard]] Rates rates(std::int64_t) const { return {1.5, 1, 1}; }
  [[nodiscard]] std::string_view name() const { return "TooFast"; }
};

}  // namespace

TEST_CASE("SubnetworkSchedule::at names the policy and the value when it returns nonsense",
          "[subnet][sampling][errors]") {
  const SubnetworkShape shape{2, 4, 32};
  const est::growth::Constant growth;
  auto message = [&](FixedPolicy policy) {
    const est::SubnetworkSchedule schedule(shape, std::move(policy), growth);
    return value_error_message([&] { (void)schedule.at(3); });
  };
  SECTION("duplicate heads") {
    const std::string m = message({shape, {1, 2, 1}, {0}});
    CHECK_THAT(m, Catch::Matchers::Contains("BadPolicy at step 3"));
    CHECK_THAT(m, Catch::Matchers::Contains("head 1 is listed twice"));
  }
  SECTION("a neuron out of range") {
    const std::string m = message({shape, {0}, {5, 32}});
    CHECK_THAT(m, Catch::Matchers::Contains("BadPolicy at step 3"));
    CHECK_THAT(m, Catch::Matchers::Contains("neuron 32 is outside [0, 32)"));
  }
  SECTION("an empty head set") {
    const std::string m = message({shape, {}, {0, 1}});
    CHECK_THAT(m, Catch::Matchers::Contains("BadPolicy at step 3"));
    CHECK_THAT(m, Catch::Matchers::Contains("layer 0 is active with no heads"));
  }
  SECTION("a subnetwork of the wrong shape") {
    const std::string m = message({{2, 4, 16}, {0}, {0}});
    CHECK_THAT(m, Catch::Matchers::Contains("BadPolicy at step 3"));
    CHECK_THAT(m, Catch::Matchers::Contains("(2, 4, 16)"));
    CHECK_THAT(m, Catch::Matchers::Contains("expected (2, 4, 32)"));
  }
  SECTION("activate_layer throws inside the policy") {
    const std::string m = message({shape, {0}, {0}, 5});
    CHECK_THAT(m, Catch::Matchers::Contains("BadPolicy at step 3"));
    CHECK_THAT(m, Catch::Matchers::Contains("layer 5 is outside [0, 2)"));
  }
  SECTION("no active layer") {
    const est::SubnetworkSchedule schedule(shape, NothingPolicy{}, growth);
    const std::string m = value_error_message([&] { (void)schedule.at(8); });
    CHECK_THAT(m, Catch::Matchers::Contains("NothingPolicy at step 8"));
    CHECK_THAT(m, Catch::Matchers::Contains("no active layer"));
  }
  SECTION("a growth policy with a rate above 1") {
    const est::SubnetworkSchedule schedule(shape, est::sampling::Uniform(0), TooFast{});
    const std::string m = value_error_message([&] { (void)schedule.at(0); });
    CHECK_THAT(m, Catch::Matchers::Contains("TooFast"));
    CHECK_THAT(m, Catch::Matchers::Contains("layer rate 1.5"));
  }
  SECTION("a valid fixed subnetwork passes") {
    const est::SubnetworkSchedule schedule(shape, FixedPolicy{shape, {3, 0}, {31, 0}}, growth);
    const Subnetwork s = schedule.at(0);
    CHECK(to_vector(s.heads(0)) == std::vector<int>{0, 3});
    CHECK(s.active_layers() == std::vector<int>{0});
  }
}

TEST_CASE("Uniform's default layer draw is draw_without_replacement over all layers",
          "[subnet][sampling][layers]") {
  // est's first versions drew layers this way; the default LayerDraw must not change a draw.
  const est::SubnetworkShape shape{.layers = 7, .heads = 4, .neurons = 32};
  const est::sampling::Uniform u(21);
  for (std::int64_t step = 0; step < 200; ++step) {
    const auto stream = est::rng_stream(est::RngPurpose::subnetwork, std::uint64_t(step));
    CHECK(u.sample(shape, {0.45, 0.5, 0.5}, step).active_layers() ==
          est::draw_without_replacement(21, stream, 0, 3, 7));
  }
}

TEST_CASE("Uniform with pinned layers never drops them and draws the rest uniformly",
          "[subnet][sampling][layers]") {
  const est::SubnetworkShape shape{.layers = 8, .heads = 2, .neurons = 16};
  const est::sampling::Uniform u(5, 1, 1, {.pin_first = true, .pin_last = true});
  const int steps = 4000;
  for (const double pL : {0.1, 0.5, 1.0}) {
    // max(1, round(pL·L)) layers, at least the two pinned ones.
    const int expected = std::max(2, std::max(1, int(std::lround(pL * 8))));
    std::vector<int> seen(8, 0);
    for (int step = 0; step < steps; ++step) {
      const est::Subnetwork s = u.sample(shape, {pL, 1, 1}, step);
      REQUIRE(s.is_active(0));
      REQUIRE(s.is_active(7));
      REQUIRE(s.active_layer_count() == expected);
      for (int l : s.active_layers()) ++seen[std::size_t(l)];
    }
    const double p = double(expected - 2) / 6.0;  // each middle layer's share of the steps
    const double sd = std::sqrt(steps * p * (1 - p));
    for (int l = 1; l < 7; ++l) CHECK(std::abs(seen[std::size_t(l)] - steps * p) <= 5 * sd + 1e-9);
  }
  // Only the first pinned: the last is drawn like any other.
  const est::sampling::Uniform first_only(5, 1, 1, {.pin_first = true});
  int last_kept = 0;
  for (int step = 0; step < steps; ++step) {
    const est::Subnetwork s = first_only.sample(shape, {0.5, 1, 1}, step);
    REQUIRE(s.is_active(0));
    REQUIRE(s.active_layer_count() == 4);
    last_kept += s.is_active(7);
  }
  const double p = 3.0 / 7.0;
  CHECK(std::abs(last_kept - steps * p) <= 5 * std::sqrt(steps * p * (1 - p)));
}

TEST_CASE("Bernoulli layer draws keep each layer with the probability that makes pL·L",
          "[subnet][sampling][layers]") {
  const est::SubnetworkShape shape{.layers = 8, .heads = 2, .neurons = 16};
  const int steps = 6000;
  SECTION("pinned ends: the six others with probability (0.5·8 - 2)/6 = 1/3 each") {
    const est::sampling::Uniform u(
        9, 1, 1, {.count = est::sampling::LayerDraw::Count::bernoulli, .pin_first = true, .pin_last = true});
    std::vector<int> seen(8, 0);
    std::set<int> counts;
    for (int step = 0; step < steps; ++step) {
      const est::Subnetwork s = u.sample(shape, {0.5, 1, 1}, step);
      REQUIRE(s.is_active(0));
      REQUIRE(s.is_active(7));
      counts.insert(s.active_layer_count());
      for (int l : s.active_layers()) ++seen[std::size_t(l)];
      REQUIRE(u.sample(shape, {0.5, 1, 1}, step) == s);
    }
    CHECK(counts.size() >= 5);  // the count varies, unlike an exact draw
    const double p = 1.0 / 3.0, sd = std::sqrt(steps * p * (1 - p));
    for (int l = 1; l < 7; ++l) CHECK(std::abs(seen[std::size_t(l)] - steps * p) <= 5 * sd);
  }
  SECTION("nothing pinned: probability 0.25, redrawn when no layer is kept") {
    const est::sampling::Uniform u(9, 1, 1, {.count = est::sampling::LayerDraw::Count::bernoulli});
    std::vector<int> seen(8, 0);
    for (int step = 0; step < steps; ++step) {
      const est::Subnetwork s = u.sample(shape, {0.25, 1, 1}, step);
      REQUIRE(s.active_layer_count() >= 1);
      for (int l : s.active_layers()) ++seen[std::size_t(l)];
    }
    // Conditioned on at least one layer: q / (1 - (1 - q)^8) with q = 0.25.
    const double p = 0.25 / (1 - std::pow(0.75, 8)), sd = std::sqrt(steps * p * (1 - p));
    for (int l = 0; l < 8; ++l) CHECK(std::abs(seen[std::size_t(l)] - steps * p) <= 5 * sd);
  }
  SECTION("rate 1 keeps every layer") {
    const est::sampling::Uniform u(9, 1, 1, {.count = est::sampling::LayerDraw::Count::bernoulli});
    CHECK(u.sample(shape, {1, 1, 1}, 3).active_layer_count() == 8);
  }
}

TEST_CASE("Uniform's layer rescale is 1/p_l, the probability of keeping each layer",
          "[subnet][sampling][layers]") {
  using est::sampling::LayerDraw;
  const est::SubnetworkShape shape{.layers = 8, .heads = 2, .neurons = 16};
  // Exact count, nothing pinned: 3 of 8 layers, so every kept layer is scaled by 8/3.
  const est::sampling::Uniform exact(3, 1, 1, {.rescale = true});
  const est::Subnetwork a = exact.sample(shape, {0.375, 1, 1}, 4);
  REQUIRE(a.active_layer_count() == 3);
  for (const int l : a.active_layers()) CHECK(a.layer_scale(l) == Approx(8.0 / 3.0));
  // Both ends pinned, 4 of 8: the ends are kept surely (1), the 2 others of 6 with p = 1/3.
  const est::sampling::Uniform pinned(3, 1, 1, {.pin_first = true, .pin_last = true,
                                                .rescale = true});
  const est::Subnetwork b = pinned.sample(shape, {0.5, 1, 1}, 4);
  CHECK(b.layer_scale(0) == 1.0);
  CHECK(b.layer_scale(7) == 1.0);
  for (const int l : b.active_layers()) {
    if (l != 0 && l != 7) CHECK(b.layer_scale(l) == Approx(3.0));
  }
  // Bernoulli at pL = 0.25 without pins: q = 0.25, scale 4.
  const est::sampling::Uniform bernoulli(3, 1, 1, {.count = LayerDraw::Count::bernoulli,
                                                   .rescale = true});
  const est::Subnetwork c = bernoulli.sample(shape, {0.25, 1, 1}, 4);
  for (const int l : c.active_layers()) CHECK(c.layer_scale(l) == Approx(4.0));
  // Without rescale the scales stay 1, and the draws are the same either way.
  const est::Subnetwork plain = est::sampling::Uniform(3).sample(shape, {0.375, 1, 1}, 4);
  CHECK(plain.active_layers() == a.active_layers());
  for (const int l : plain.active_layers()) CHECK(plain.layer_scale(l) == 1.0);
  // At rate 1 every p_l is 1: the full model, unscaled. Rescaled layers change the digest.
  CHECK(exact.sample(shape, {1, 1, 1}, 0).is_full());
  CHECK(a.digest() != plain.digest());
  est::Subnetwork scaled = plain;
  CHECK_FALSE((scaled.set_layer_scale(plain.active_layers()[0], 2.0), scaled == plain));
  EST_CHECK_THROWS(scaled.set_layer_scale(plain.active_layers()[0], 0.0), est::value_error,
                   "must be finite and > 0");
}
