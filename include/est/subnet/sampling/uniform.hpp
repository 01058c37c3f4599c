#pragma once
// The paper's sampling policy: layers, heads and neurons drawn uniformly without replacement.

#include <algorithm>
#include <cstdint>
#include <string_view>
#include <vector>

#include "est/core/philox.hpp"
#include "est/subnet/growth.hpp"
#include "est/subnet/sampling/policy.hpp"
#include "est/subnet/subnetwork.hpp"

namespace est::sampling {

/// How sampling::Uniform chooses the layers of a step. The paper says neither whether layers
/// are drawn as an exact count or one by one, nor whether some are never dropped; the default
/// (an exact count, nothing pinned) is the reading est started from.
struct LayerDraw {
  /// How many layers a step trains.
  enum class Count : std::uint8_t {
    exact,      ///< max(1, round(pL·L)) layers (at least the pinned ones), drawn uniformly
    bernoulli,  ///< each unpinned layer independently, with the probability that makes the
                ///< expected count pL·L (pinned layers included); redrawn while none is kept
  };
  Count count = Count::exact;  ///< Exact count or Bernoulli draws.
  bool pin_first = false;      ///< Layer 0 trains at every step.
  bool pin_last = false;       ///< Layer L-1 trains at every step.
  /// Scale each kept layer's residual branches by 1/p_l, p_l the probability that the draw
  /// keeps layer l (1 for a pinned layer; Subnetwork::set_layer_scale): the stochastic-depth
  /// convention, so that the expected residual stream matches the full model's as H/h and M/m
  /// do within a layer. (Bernoulli's redraw of an empty draw is left out of p_l.)
  bool rescale = false;
  friend bool operator==(const LayerDraw&, const LayerDraw&) = default;
};

/// The paper's sampler: max(1, round(pL·L)) layers, and in each of them max(1, round(pH·H))
/// heads and max(1, round(pM·M)) neurons (rounded to `neuron_granularity`), each set drawn
/// uniformly without replacement and independently per layer.
///
/// With `head_group` k > 1, heads are drawn in whole groups of k consecutive heads:
/// max(1, round(pH·H/k)) of the H/k groups, every head of a drawn group active. For a Llama with
/// grouped-query attention, k = heads / kv_heads makes each drawn key/value group serve all of
/// its query heads (the default, k = 1, draws query heads one by one; a key/value group then
/// runs whenever one of its heads is drawn).
///
/// `layers` changes how layers are chosen (LayerDraw): pinned first and/or last layers, and
/// Bernoulli draws instead of an exact count. The default reproduces the subnetworks of est's
/// first versions exactly.
///
/// Randomness: Philox under `seed`, stream rng_stream(RngPurpose::subnetwork, step). Within the
/// stream, the layer draws use counters [0, L), layer l's head draws [L + l·H, L + (l+1)·H) and
/// its neuron draws [L + L·H + l·M, ...): a layer's heads and neurons do not depend on which
/// other layers were drawn, and nothing depends on earlier steps. Bernoulli redraws (when no
/// layer was kept) use counters [L + L·H + L·M + (r-1)·L, ...) for attempt r.
class Uniform {
 public:
  /// Draws under `seed`, rounding partial neuron counts to multiples of `neuron_granularity`
  /// (see active_count()) and drawing heads in groups of `head_group`; throws value_error when
  /// either is below 1.
  explicit Uniform(std::uint64_t seed = 0, int neuron_granularity = 1, int head_group = 1,
                   LayerDraw layers = {})
      : seed_(seed), granularity_(neuron_granularity), head_group_(head_group), layers_(layers) {
    require<value_error>(neuron_granularity >= 1,
                         "sampling::Uniform: neuron_granularity must be >= 1, got ",
                         neuron_granularity);
    require<value_error>(head_group >= 1, "sampling::Uniform: head_group must be >= 1, got ",
                         head_group);
  }

  /// The subnetwork of `step` at `rates`, with the default scales H/|heads| and M/|neurons|.
  /// Throws value_error when a rate is outside (0, 1], `step` is negative or `head_group` does
  /// not divide `shape.heads`.
  [[nodiscard]] Subnetwork sample(const SubnetworkShape& shape, const Rates& rates,
                                  std::int64_t step) const {
    check_rates(rates, name());
    require<value_error>(step >= 0, name(), ": step ", step, " is negative");
    const std::uint64_t stream = rng_stream(RngPurpose::subnetwork, static_cast<std::uint64_t>(step));
    const auto L = static_cast<std::uint64_t>(shape.layers);
    const auto H = static_cast<std::uint64_t>(shape.heads);
    const auto M = static_cast<std::uint64_t>(shape.neurons);
    const int kL = active_count(rates.layers, shape.layers);
    require<value_error>(shape.heads % head_group_ == 0, name(), ": head_group ", head_group_,
                         " does not divide the ", shape.heads, " heads");
    const int groups = shape.heads / head_group_;
    const int kH = active_count(rates.heads, groups);
    const int kM = active_count(rates.neurons, shape.neurons, granularity_);
    Subnetwork subnet(shape);
    const std::vector<double> keep = keep_probabilities(rates.layers, kL, shape.layers);
    for (int l : draw_layers(stream, rates.layers, kL, shape)) {
      const auto ul = static_cast<std::uint64_t>(l);
      std::vector<int> heads = draw_without_replacement(seed_, stream, L + ul * H, kH, groups);
      if (head_group_ > 1) {
        std::vector<int> members;
        for (int g : heads) {
          for (int i = 0; i < head_group_; ++i) members.push_back(g * head_group_ + i);
        }
        heads = std::move(members);
      }
      subnet.activate_layer(l, std::move(heads),
                            draw_without_replacement(seed_, stream, L + L * H + ul * M, kM,
                                                     shape.neurons));
      if (layers_.rescale) subnet.set_layer_scale(l, 1.0 / keep[ul]);
    }
    return subnet;
  }
  /// "sampling::Uniform".
  [[nodiscard]] std::string_view name() const noexcept { return "sampling::Uniform"; }
  /// The Philox key of every draw.
  [[nodiscard]] std::uint64_t seed() const noexcept { return seed_; }
  /// Partial neuron counts are rounded to multiples of this (1: not rounded).
  [[nodiscard]] int neuron_granularity() const noexcept { return granularity_; }
  /// Heads per drawn group (1: heads drawn one by one).
  [[nodiscard]] int head_group() const noexcept { return head_group_; }
  /// How layers are chosen.
  [[nodiscard]] const LayerDraw& layer_draw() const noexcept { return layers_; }

 private:
  /// (L) the probability that a step at layer rate `rate` keeps each layer: 1 for a pinned
  /// layer; for the others (k - pinned)/(L - pinned) under an exact count of k layers, and the
  /// Bernoulli probability (pL·L - pinned)/(L - pinned), clamped to [0, 1].
  [[nodiscard]] std::vector<double> keep_probabilities(double rate, int k, int L) const {
    std::vector<double> p(static_cast<std::size_t>(L), 0.0);
    int pinned = 0;
    if (layers_.pin_first) p.front() = 1.0;
    if (layers_.pin_last) p.back() = 1.0;
    for (const double x : p) pinned += x == 1.0;
    const int free = L - pinned;
    if (free == 0) return p;
    const double q = layers_.count == LayerDraw::Count::exact
                         ? double(std::max(k, pinned) - pinned) / double(free)
                         : std::clamp((rate * L - pinned) / double(free), 0.0, 1.0);
    for (double& x : p) {
      if (x != 1.0) x = q;
    }
    return p;
  }

  /// The active layers of a step, sorted: `k` is the exact count max(1, round(pL·L)).
  [[nodiscard]] std::vector<int> draw_layers(std::uint64_t stream, double rate, int k,
                                             const SubnetworkShape& shape) const {
    const int L = shape.layers;
    if (!layers_.pin_first && !layers_.pin_last && layers_.count == LayerDraw::Count::exact) {
      return draw_without_replacement(seed_, stream, 0, k, L);  // est's first versions' draw
    }
    std::vector<bool> pinned(static_cast<std::size_t>(L), false);
    if (layers_.pin_first) pinned.front() = true;
    if (layers_.pin_last) pinned.back() = true;
    std::vector<int> free;  // the layers that may be dropped, in order
    for (int l = 0; l < L; ++l) {
      if (!pinned[static_cast<std::size_t>(l)]) free.push_back(l);
    }
    const int n_pinned = L - static_cast<int>(free.size());
    std::vector<int> out;
    if (layers_.count == LayerDraw::Count::exact) {
      const int extra = std::max(k, n_pinned) - n_pinned;
      for (int i : draw_without_replacement(seed_, stream, 0, extra,
                                            std::max<int>(1, static_cast<int>(free.size())))) {
        out.push_back(free[static_cast<std::size_t>(i)]);
      }
    } else if (!free.empty()) {
      // Each free layer with probability q, so that n_pinned + q·|free| = pL·L on average.
      const double q = std::clamp((rate * L - n_pinned) / double(free.size()), 0.0, 1.0);
      const auto L64 = static_cast<std::uint64_t>(L);
      const std::uint64_t redraws = L64 + L64 * static_cast<std::uint64_t>(shape.heads) +
                                    L64 * static_cast<std::uint64_t>(shape.neurons);
      const Philox4x32 rng(seed_);
      for (std::uint64_t attempt = 0; out.empty(); ++attempt) {
        const std::uint64_t first = attempt == 0 ? 0 : redraws + (attempt - 1) * L64;
        for (std::size_t i = 0; i < free.size(); ++i) {
          const auto w = rng(stream, first + i);
          if (uniform_double(w[0], w[1]) < q) out.push_back(free[i]);
        }
        if (n_pinned > 0 || q == 0) break;  // pinned layers alone are a valid draw
        require<value_error>(attempt < 1000, name(), ": no layer kept after 1000 Bernoulli "
                             "draws at rate ", rate);
      }
    }
    for (int l = 0; l < L; ++l) {
      if (pinned[static_cast<std::size_t>(l)]) out.push_back(l);
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  std::uint64_t seed_;
  int granularity_;
  int head_group_;
  LayerDraw layers_;
};

}  // namespace est::sampling

namespace est {
static_assert(SamplingPolicy<sampling::Uniform>);
}  // namespace est
