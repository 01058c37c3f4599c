#pragma once
// Importance-weighted sampling: heads and neurons whose gradients have been large are drawn more
// often, and each drawn unit's output is scaled by 1/π (its inclusion probability), the
// Horvitz–Thompson weight, so the sliced layer is still an unbiased estimate of the full one.
//
// Per active layer, for each of heads and neurons (N units, k = active_count(rate, N) kept):
//   weights   w_i = (1-α)·g_i/Σg + α/N        g_i: the unit's running gradient magnitude
//                                             (α, the uniform share, keeps every π_i > 0)
//   π_i       = min(1, c·w_i) with c chosen so that Σπ_i = k (units at 1 are always kept)
//   draw      systematic sampling: one uniform u in [0, 1) from Philox (seed, step); unit i is
//             kept when an integer m makes u + m fall in [π_1 + … + π_{i-1}, π_1 + … + π_i).
//             Exactly k units, unit i with probability exactly π_i.
//   scale     s_i = 1/π_i, so E[Σ_{kept} s_i·x_i] = Σ_i x_i for any unit outputs x.
// Layers are drawn as sampling::Uniform draws them (a skipped layer is not rescaled).
//
// The statistic g is an exponential moving average (decay β) of each unit's gradient 2-norm over
// the steps in which it trained, fed by the trainer through observe() after every step that
// updated the weights (subnet/unit_gradients.hpp computes the norms from the slice plan). A unit
// not yet observed counts as the mean of the observed units of its layer and kind (all units
// alike before any observation: the first steps keep each unit with probability k/N, evenly
// spaced units by systematic sampling). The state is saved in checkpoints; the subnetwork is a
// pure function of (seed, step, state), the same on every rank that observes the same (reduced)
// gradients.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <numeric>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "est/core/error.hpp"
#include "est/core/philox.hpp"
#include "est/subnet/growth.hpp"
#include "est/subnet/sampling/policy.hpp"
#include "est/subnet/subnetwork.hpp"
#include "est/subnet/unit_gradients.hpp"

namespace est {

/// Inclusion probabilities for keeping `k` of the units with (non-negative, not all zero)
/// `weights`: π_i = min(1, c·w_i) with Σπ_i = k. Units whose share would exceed 1 are kept for
/// sure and the rest share what is left, repeatedly (at most N rounds).
[[nodiscard]] inline std::vector<double> inclusion_probabilities(std::span<const double> weights,
                                                                 int k) {
  const auto n = static_cast<int>(weights.size());
  require<value_error>(k >= 1 && k <= n, "inclusion_probabilities: cannot keep ", k, " of ", n);
  for (const double w : weights) {
    require<value_error>(std::isfinite(w) && w >= 0, "inclusion_probabilities: weight ", w,
                         " is not finite and >= 0");
  }
  std::vector<double> pi(weights.size(), 0.0);
  std::vector<bool> certain(weights.size(), false);
  int left = k;  // units still to place among the uncertain ones
  for (int round = 0; round <= n; ++round) {
    double total = 0;
    int uncertain = 0;
    for (int i = 0; i < n; ++i) {
      if (!certain[std::size_t(i)]) total += weights[std::size_t(i)], ++uncertain;
    }
    require<value_error>(total > 0 || left == 0 || uncertain == left,
                         "inclusion_probabilities: the weights are all zero");
    bool capped = false;
    for (int i = 0; i < n; ++i) {
      if (certain[std::size_t(i)]) continue;
      const double p = total > 0 ? left * weights[std::size_t(i)] / total : 1.0;
      if (p >= 1.0) certain[std::size_t(i)] = true, pi[std::size_t(i)] = 1.0, --left, capped = true;
    }
    if (capped) continue;
    for (int i = 0; i < n; ++i) {
      if (!certain[std::size_t(i)]) {
        pi[std::size_t(i)] = total > 0 ? left * weights[std::size_t(i)] / total : 1.0;
      }
    }
    break;
  }
  return pi;
}

/// Systematic sampling of Σπ_i = k units (each π_i in (0, 1]) with the uniform `u` in [0, 1):
/// unit i is kept when u + m lies in [C_{i-1}, C_i) for an integer m, C the running sums of π
/// (the last one set to exactly k). Returns the kept units, ascending: exactly k of them, each
/// with probability π_i over u.
[[nodiscard]] inline std::vector<int> systematic_sample(std::span<const double> pi, double u) {
  require<value_error>(u >= 0 && u < 1, "systematic_sample: u = ", u, " is outside [0, 1)");
  const double sum = std::accumulate(pi.begin(), pi.end(), 0.0);
  const auto k = static_cast<long>(std::lround(sum));
  require<value_error>(k >= 1 && std::abs(sum - double(k)) < 1e-6, "systematic_sample: the ",
                       "probabilities add up to ", sum, ", not to a whole number of units");
  std::vector<int> kept;
  double before = 0;  // C_{i-1}
  long next = 0;      // the next point is u + next
  for (std::size_t i = 0; i < pi.size() && next < k; ++i) {
    const double after = i + 1 == pi.size() ? double(k) : before + pi[i];
    // As many units left as points: each holds one (a unit holds at most one, π <= 1). This
    // also keeps the last point when u + m rounds up to the end of the last interval.
    const bool forced = long(pi.size() - i) == k - next;
    if (u + double(next) < after || forced) {
      kept.push_back(static_cast<int>(i));
      ++next;
    }
    before = after;
  }
  require<value_error>(std::ssize(kept) == k, "systematic_sample: drew ", kept.size(),
                       " units, expected ", k, " (a probability above 1?)");
  return kept;
}

namespace sampling {

/// Importance-weighted sampling: heads and neurons whose gradients have been large are drawn
/// more often, each kept unit's output scaled by 1/π_i (Horvitz–Thompson), so that every sliced
/// layer stays an unbiased estimate of the full one.
///
/// Layers are drawn as sampling::Uniform draws them. In each active layer, heads (or groups of
/// `head_group` heads, which weigh what their heads weigh together) and neurons each get weights
/// w_i = (1-α)·g_i/Σg + α/N, where g_i is the unit's running gradient magnitude and α the
/// uniform share; inclusion_probabilities() turns them into π_i with Σπ_i = k (k from
/// active_count(), without granularity), and systematic_sample() keeps exactly k units, unit i
/// with probability π_i, from one uniform number per layer and kind (Philox under `seed`, stream
/// rng_stream(RngPurpose::subnetwork, step), counters L + 2l and L + 2l + 1).
///
/// g is an exponential moving average (decay β) of each unit's gradient 2-norm over the steps
/// in which it trained, fed by observe(). A unit not yet observed counts as the mean of the
/// observed units of its layer and kind; before any observation every unit weighs the same, so
/// the first steps keep every unit with probability k/N (scale N/k), though systematic sampling
/// then keeps evenly spaced units rather than any k-subset. The statistic is the policy's
/// checkpointed state (state(), restore()): the subnetwork is a pure function of
/// (seed, step, state).
class Importance {
 public:
  /// `uniform_share` α in (0, 1]: the weight every unit gets whatever its gradients (α = 1 is
  /// uniform sampling with its default scales); `decay` β in [0, 1): of the running magnitude.
  /// `head_group` as sampling::Uniform's (whole groups of consecutive heads).
  explicit Importance(std::uint64_t seed = 0, double uniform_share = 0.5, double decay = 0.9,
                      int head_group = 1)
      : seed_(seed), uniform_share_(uniform_share), decay_(decay), head_group_(head_group) {
    require<value_error>(std::isfinite(uniform_share) && uniform_share > 0 && uniform_share <= 1,
                         "sampling::Importance: uniform_share must be in (0, 1], got ",
                         uniform_share);
    require<value_error>(std::isfinite(decay) && decay >= 0 && decay < 1,
                         "sampling::Importance: decay must be in [0, 1), got ", decay);
    require<value_error>(head_group >= 1, "sampling::Importance: head_group must be >= 1, got ",
                         head_group);
  }

  /// The subnetwork of `step` at `rates`, every active layer with per-unit scales 1/π_i. Throws
  /// value_error when a rate is outside (0, 1], `step` is negative, `head_group` does not
  /// divide `shape.heads` or the statistic belongs to another shape.
  [[nodiscard]] Subnetwork sample(const SubnetworkShape& shape, const Rates& rates,
                                  std::int64_t step) const {
    check_rates(rates, name());
    require<value_error>(step >= 0, name(), ": step ", step, " is negative");
    require<value_error>(shape.heads % head_group_ == 0, name(), ": head_group ", head_group_,
                         " does not divide the ", shape.heads, " heads");
    check_state_shape(shape);
    const std::uint64_t stream =
        rng_stream(RngPurpose::subnetwork, static_cast<std::uint64_t>(step));
    const int groups = shape.heads / head_group_;
    const int kL = active_count(rates.layers, shape.layers);
    const int kH = active_count(rates.heads, groups);
    const int kM = active_count(rates.neurons, shape.neurons);
    const auto L = static_cast<std::uint64_t>(shape.layers);
    Subnetwork subnet(shape);
    for (const int l : draw_without_replacement(seed_, stream, 0, kL, shape.layers)) {
      // Per layer: counter L + 2l for the heads' u, L + 2l + 1 for the neurons'.
      const std::uint64_t counter = L + 2 * static_cast<std::uint64_t>(l);
      std::vector<double> head_weights = weights(heads_, l, shape.heads);
      if (head_group_ > 1) {  // a group weighs what its heads weigh together
        std::vector<double> grouped(std::size_t(groups), 0.0);
        for (int h = 0; h < shape.heads; ++h) {
          grouped[std::size_t(h / head_group_)] += head_weights[std::size_t(h)];
        }
        head_weights = std::move(grouped);
      }
      const auto head_pi = inclusion_probabilities(head_weights, kH);
      const auto neuron_pi =
          inclusion_probabilities(weights(neurons_, l, shape.neurons), kM);
      std::vector<int> heads, neurons;
      std::vector<double> head_scales, neuron_scales;
      for (const int g : systematic_sample(head_pi, uniform(stream, counter))) {
        for (int i = 0; i < head_group_; ++i) {
          heads.push_back(g * head_group_ + i);
          head_scales.push_back(1.0 / head_pi[std::size_t(g)]);
        }
      }
      for (const int n : systematic_sample(neuron_pi, uniform(stream, counter + 1))) {
        neurons.push_back(n);
        neuron_scales.push_back(1.0 / neuron_pi[std::size_t(n)]);
      }
      subnet.activate_layer(l, std::move(heads), std::move(neurons), std::move(head_scales),
                            std::move(neuron_scales));
    }
    return subnet;
  }

  /// Folds the gradient norms of the units `subnet` trained at `step` into the statistic: a
  /// unit's first norm is taken as is, later ones as β·g + (1-β)·norm; units that did not train
  /// keep their value. Throws value_error when `norms` is of another shape than `subnet`, the
  /// statistic belongs to another shape, or a trained unit's norm is negative or not finite
  /// (units folded before the bad one stay folded).
  void observe(std::int64_t, const Subnetwork& subnet, const UnitGradients& norms) {
    const SubnetworkShape& shape = subnet.shape();
    require<value_error>(norms.shape == shape, name(), "::observe: gradient norms of shape (",
                         norms.shape.layers, ", ", norms.shape.heads, ", ", norms.shape.neurons,
                         ") for a subnetwork of shape (", shape.layers, ", ", shape.heads, ", ",
                         shape.neurons, ")");
    if (heads_.empty()) {
      heads_.assign(std::size_t(shape.layers * shape.heads), -1.0);
      neurons_.assign(std::size_t(shape.layers * shape.neurons), -1.0);
    }
    check_state_shape(shape);
    for (const int l : subnet.active_layers()) {
      for (const int h : subnet.heads(l)) {
        fold(heads_[std::size_t(l * shape.heads + h)],
             norms.heads[std::size_t(l * shape.heads + h)]);
      }
      for (const int n : subnet.neurons(l)) {
        fold(neurons_[std::size_t(l * shape.neurons + n)],
             norms.neurons[std::size_t(l * shape.neurons + n)]);
      }
    }
  }

  /// The statistic, for checkpoints: "heads" (L·H) and "neurons" (L·M) running magnitudes, -1
  /// for a unit not yet observed; both empty before the first observation.
  [[nodiscard]] std::map<std::string, std::vector<double>> state() const {
    return {{"heads", heads_}, {"neurons", neurons_}};
  }

  /// Restores state(). Throws value_error unless `state` has exactly the keys "heads" and
  /// "neurons", both empty or both not, with values finite and >= 0 or exactly -1. The sizes
  /// are checked against the model's shape by the next sample() or observe().
  void restore(const std::map<std::string, std::vector<double>>& state) {
    require<value_error>(state.size() == 2 && state.contains("heads") && state.contains("neurons"),
                         name(), "::restore: expected the entries \"heads\" and \"neurons\"");
    const auto& heads = state.at("heads");
    const auto& neurons = state.at("neurons");
    require<value_error>(heads.empty() == neurons.empty(), name(),
                         "::restore: \"heads\" and \"neurons\" must both be empty or both not");
    for (const auto* values : {&heads, &neurons}) {
      for (const double x : *values) {
        require<value_error>(x == -1.0 || (std::isfinite(x) && x >= 0), name(),
                             "::restore: a running magnitude of ", x);
      }
    }
    heads_ = heads;
    neurons_ = neurons;
  }

  /// "sampling::Importance".
  [[nodiscard]] std::string_view name() const noexcept { return "sampling::Importance"; }
  /// The Philox key of every draw.
  [[nodiscard]] std::uint64_t seed() const noexcept { return seed_; }
  /// α, in (0, 1]: the share of every unit's weight that ignores its gradients.
  [[nodiscard]] double uniform_share() const noexcept { return uniform_share_; }
  /// β, in [0, 1): the decay of the running gradient magnitude.
  [[nodiscard]] double decay() const noexcept { return decay_; }
  /// Heads per drawn group (1: heads drawn one by one).
  [[nodiscard]] int head_group() const noexcept { return head_group_; }

 private:
  /// The weights of layer l's n units (heads or neurons, by `all`): w_i = (1-α)·g_i/Σg + α/N,
  /// an unobserved unit at the mean of the observed ones, all alike before any observation.
  std::vector<double> weights(const std::vector<double>& all, int l, int units) const {
    const auto n = static_cast<std::size_t>(units);
    std::vector<double> w(n, 1.0 / double(n));
    if (all.empty()) return w;
    const auto stats = std::span<const double>(all).subspan(std::size_t(l) * n, n);
    double sum = 0;
    int observed = 0;
    for (const double g : stats) {
      if (g >= 0) sum += g, ++observed;
    }
    if (observed == 0 || sum <= 0) return w;
    const double mean = sum / observed;
    const double total = sum + mean * double(n - std::size_t(observed));
    for (std::size_t i = 0; i < n; ++i) {
      const double g = stats[i] >= 0 ? stats[i] : mean;
      w[i] = (1 - uniform_share_) * g / total + uniform_share_ / double(n);
    }
    return w;
  }

  void fold(double& stat, double norm) const {
    require<value_error>(std::isfinite(norm) && norm >= 0, name(),
                         "::observe: a unit's gradient norm is ", norm);
    stat = stat < 0 ? norm : decay_ * stat + (1 - decay_) * norm;
  }

  /// A uniform double in [0, 1) from Philox (seed, stream, counter).
  double uniform(std::uint64_t stream, std::uint64_t counter) const {
    const auto w = Philox4x32(seed_)(stream, counter);
    return uniform_double(w[0], w[1]);
  }

  void check_state_shape(const SubnetworkShape& shape) const {
    require<value_error>(heads_.empty() ||
                             (heads_.size() == std::size_t(shape.layers * shape.heads) &&
                              neurons_.size() == std::size_t(shape.layers * shape.neurons)),
                         name(), ": the statistic holds ", heads_.size(), " head and ",
                         neurons_.size(), " neuron entries, not those of shape (", shape.layers,
                         ", ", shape.heads, ", ", shape.neurons, ")");
  }

  std::uint64_t seed_;
  double uniform_share_;
  double decay_;
  int head_group_;
  std::vector<double> heads_;    // (L·H) running gradient magnitudes, -1 unobserved; or empty
  std::vector<double> neurons_;  // (L·M)
};

}  // namespace sampling

static_assert(ObservingSamplingPolicy<sampling::Importance>);

}  // namespace est
