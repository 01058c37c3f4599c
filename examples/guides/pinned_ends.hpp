#pragma once
// A sampling policy of one's own, the example of docs/manual/guides/custom-sampling.md: the
// first and the last layer train at every step, the layers between them are drawn, and heads and
// neurons are drawn in each trained layer as the paper's sampler draws them.

// [policy]
#include <algorithm>
#include <cstdint>
#include <string_view>
#include <vector>

#include <est/subnet/sampling.hpp>

/// Layers: the first and the last always train; of the others, as many are drawn uniformly as
/// make max(1, round(pL·L)) layers in all (never fewer than the two pinned ones). Heads and
/// neurons of each trained layer: sampling::Uniform's draws at rates (1, pH, pM).
class PinnedEnds {
 public:
  PinnedEnds(std::uint64_t seed, int neuron_granularity, int head_group)
      : seed_(seed), units_(seed, neuron_granularity, head_group) {}

  [[nodiscard]] est::Subnetwork sample(const est::SubnetworkShape& shape, const est::Rates& rates,
                                       std::int64_t step) const {
    est::check_rates(rates, name());
    // Heads and neurons for every layer, as the paper's sampler would draw them.
    const est::Subnetwork units = units_.sample(shape, {1.0, rates.heads, rates.neurons}, step);
    // Which layers: both ends, and middle layers drawn from Philox keyed by (seed, step) so that
    // the draw is a pure function of the step (resumed and data-parallel runs agree).
    const int L = shape.layers;
    std::vector<int> layers{0};
    if (L > 2) {
      const int wanted = std::max(2, est::active_count(rates.layers, L));
      const std::uint64_t stream =
          est::rng_stream(est::RngPurpose::subnetwork, static_cast<std::uint64_t>(step));
      for (int middle : est::draw_without_replacement(seed_, stream, /*first=*/0, wanted - 2,
                                                      L - 2)) {
        layers.push_back(middle + 1);
      }
    }
    if (L > 1) layers.push_back(L - 1);
    est::Subnetwork subnet(shape);
    for (int l : layers) {
      const auto heads = units.heads(l);
      const auto neurons = units.neurons(l);
      subnet.activate_layer(l, {heads.begin(), heads.end()}, {neurons.begin(), neurons.end()});
    }
    return subnet;
  }

  [[nodiscard]] std::string_view name() const noexcept { return "pinned-ends"; }

 private:
  std::uint64_t seed_;
  est::sampling::Uniform units_;
};

static_assert(est::SamplingPolicy<PinnedEnds>);
// [policy]
