#pragma once
// The paper's sampling policy: layers, heads and neurons drawn uniformly without replacement.

#include <cstdint>
#include <string_view>
#include <vector>

#include "est/core/philox.hpp"
#include "est/subnet/growth.hpp"
#include "est/subnet/sampling/policy.hpp"
#include "est/subnet/subnetwork.hpp"

namespace est::sampling {

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
/// Randomness: Philox under `seed`, stream rng_stream(RngPurpose::subnetwork, step). Within the
/// stream, the layer draws use counters [0, L), layer l's head draws [L + l·H, L + (l+1)·H) and
/// its neuron draws [L + L·H + l·M, ...): a layer's heads and neurons do not depend on which
/// other layers were drawn, and nothing depends on earlier steps.
class Uniform {
 public:
  /// Draws under `seed`, rounding partial neuron counts to multiples of `neuron_granularity`
  /// (see active_count()) and drawing heads in groups of `head_group`; throws value_error when
  /// either is below 1.
  explicit Uniform(std::uint64_t seed = 0, int neuron_granularity = 1, int head_group = 1)
      : seed_(seed), granularity_(neuron_granularity), head_group_(head_group) {
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
    for (int l : draw_without_replacement(seed_, stream, 0, kL, shape.layers)) {
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

 private:
  std::uint64_t seed_;
  int granularity_;
  int head_group_;
};

}  // namespace est::sampling

namespace est {
static_assert(SamplingPolicy<sampling::Uniform>);
}  // namespace est
