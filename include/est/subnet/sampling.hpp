#pragma once
// Sampling policies: given the model's shape, the rates of the growth schedule and the step,
// choose the subnetwork that trains at that step.
//
// A sampling policy is any type `S` with
//   Subnetwork S::sample(const SubnetworkShape& shape, const Rates& rates,
//                        std::int64_t step) const;
//   std::string_view S::name() const;   // used in error messages
// (the concept SamplingPolicy below). sample() must be a pure function of its arguments and the
// policy's own state, so that every data-parallel rank and every resumed run computes the same
// subnetwork for the same step without communicating. Draw random numbers from Philox keyed by
// (seed, step), as Uniform does, not from a generator that carries state from step to step.
//
// est provides Full (the baseline) and Uniform (the paper). tests/subnet/test_sampling.cpp
// shows a user-written importance-weighted policy in a few dozen lines.

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <string_view>
#include <vector>

#include "est/core/philox.hpp"
#include "est/subnet/growth.hpp"
#include "est/subnet/subnetwork.hpp"

namespace est {

template <class S>
concept SamplingPolicy =
    requires(const S& s, const SubnetworkShape& shape, const Rates& rates, std::int64_t step) {
      { s.sample(shape, rates, step) } -> std::same_as<Subnetwork>;
      { s.name() } -> std::convertible_to<std::string_view>;
    };

/// How many of `total` units a rate keeps: max(1, round(rate * total)). With `granularity` g > 1
/// a partial count is rounded to the nearest multiple of g (at least g, at most total), so that
/// sliced GEMMs keep vector-friendly sizes; a total no larger than g is not rounded. Rate 1
/// always keeps every unit.
[[nodiscard]] inline int active_count(double rate, int total, int granularity = 1) {
  require<value_error>(total >= 1, "active_count: total must be >= 1, got ", total);
  require<value_error>(granularity >= 1, "active_count: granularity must be >= 1, got ",
                       granularity);
  require<value_error>(std::isfinite(rate) && rate > 0 && rate <= 1, "active_count: rate ", rate,
                       " is outside (0, 1]");
  int k = std::max(1, static_cast<int>(std::lround(rate * total)));
  if (granularity > 1 && granularity < total && k < total) {
    const long rounded = std::lround(double(k) / granularity) * granularity;
    k = static_cast<int>(std::clamp<long>(rounded, granularity, total));
  }
  return std::min(k, total);
}

/// `k` distinct integers drawn uniformly from [0, n) (every k-subset equally likely), sorted.
/// A partial Fisher-Yates shuffle whose i-th swap uses Philox counter (stream, first + i) under
/// `seed`: the result depends only on these arguments.
[[nodiscard]] inline std::vector<int> draw_without_replacement(std::uint64_t seed,
                                                               std::uint64_t stream,
                                                               std::uint64_t first, int k, int n) {
  require<value_error>(n >= 1 && k >= 0 && k <= n, "draw_without_replacement: cannot draw ", k,
                       " of ", n);
  std::vector<int> pool(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) pool[static_cast<std::size_t>(i)] = i;
  for (int i = 0; i < k; ++i) {
    const Index j = i + uniform_index(seed, stream, first + static_cast<std::uint64_t>(i), n - i);
    std::swap(pool[static_cast<std::size_t>(i)], pool[static_cast<std::size_t>(j)]);
  }
  pool.resize(static_cast<std::size_t>(k));
  std::sort(pool.begin(), pool.end());
  return pool;
}

namespace sampling {

/// Everything active at every step, whatever the rates: plain training through the EST path.
struct Full {
  [[nodiscard]] Subnetwork sample(const SubnetworkShape& shape, const Rates&,
                                  std::int64_t) const {
    return Subnetwork::full(shape);
  }
  [[nodiscard]] std::string_view name() const noexcept { return "sampling::Full"; }
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
/// Randomness: Philox under `seed`, stream rng_stream(RngPurpose::subnetwork, step). Within the
/// stream, the layer draws use counters [0, L), layer l's head draws [L + l·H, L + (l+1)·H) and
/// its neuron draws [L + L·H + l·M, ...): a layer's heads and neurons do not depend on which
/// other layers were drawn, and nothing depends on earlier steps.
class Uniform {
 public:
  explicit Uniform(std::uint64_t seed = 0, int neuron_granularity = 1, int head_group = 1)
      : seed_(seed), granularity_(neuron_granularity), head_group_(head_group) {
    require<value_error>(neuron_granularity >= 1,
                         "sampling::Uniform: neuron_granularity must be >= 1, got ",
                         neuron_granularity);
    require<value_error>(head_group >= 1, "sampling::Uniform: head_group must be >= 1, got ",
                         head_group);
  }

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
  [[nodiscard]] std::string_view name() const noexcept { return "sampling::Uniform"; }
  [[nodiscard]] std::uint64_t seed() const noexcept { return seed_; }
  [[nodiscard]] int neuron_granularity() const noexcept { return granularity_; }
  [[nodiscard]] int head_group() const noexcept { return head_group_; }

 private:
  std::uint64_t seed_;
  int granularity_;
  int head_group_;
};

}  // namespace sampling

static_assert(SamplingPolicy<sampling::Full>);
static_assert(SamplingPolicy<sampling::Uniform>);

}  // namespace est
