#pragma once
// What a sampling policy is, and the draws policies are made of.
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
// A policy that learns from training (ObservingSamplingPolicy) also has
//   void S::observe(std::int64_t step, const Subnetwork& trained, const UnitGradients& norms);
//   std::map<std::string, std::vector<double>> S::state() const;   // saved in checkpoints
//   void S::restore(const std::map<std::string, std::vector<double>>&);
// The trainer calls observe() after every step that updated the weights, with the gradient norms
// of the units that step trained (subnet/unit_gradients.hpp); its state is then part of the run
// and of every checkpoint, and the subnetwork a pure function of (seed, step, state).

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "est/core/philox.hpp"
#include "est/subnet/growth.hpp"
#include "est/subnet/subnetwork.hpp"
#include "est/subnet/unit_gradients.hpp"

namespace est {

/// A sampling policy: the subnetwork that trains at each optimizer step.
///
/// A type `S` is a sampling policy when a `const S& s` offers
/// - `s.sample(shape, rates, step)` returning est::Subnetwork: the subnetwork of `shape` that
///   trains at optimizer step `step` (0-based) under the growth policy's `rates` (each in
///   (0, 1]). It must be a pure function of its arguments and the policy's own state, so that
///   every data-parallel rank and every resumed run computes the same subnetwork for the same
///   step without communicating: draw random numbers from Philox keyed by (seed, step), as
///   est::sampling::Uniform does, not from a generator that carries state from step to step.
///   The result must have `shape` and pass Subnetwork::validate(); est::SubnetworkSchedule::at()
///   checks it and throws value_error naming the policy and the step otherwise. A policy may
///   throw value_error itself (bad rates, a shape it cannot serve); the schedule rethrows it with
///   the policy's name and the step.
/// - `s.name()` convertible to `std::string_view`: the policy's name in error messages.
///
/// The trainer calls `sample` once per optimizer step, through est::SubnetworkSchedule::at(),
/// before any parameter or gradient is touched; the subnetwork serves every micro-batch of the
/// step. active_count() and draw_without_replacement() are the draws est's policies are made of.
template <class S>
concept SamplingPolicy =
    requires(const S& s, const SubnetworkShape& shape, const Rates& rates, std::int64_t step) {
      { s.sample(shape, rates, step) } -> std::same_as<Subnetwork>;
      { s.name() } -> std::convertible_to<std::string_view>;
    };

/// A sampling policy that learns from the gradients of the units it drew.
///
/// On top of est::SamplingPolicy, a type `S` offers
/// - `s.observe(step, trained, norms)`: the trainer calls it after every step that updated the
///   weights (not after a step skipped for a non-finite loss or gradient norm), with that step's
///   subnetwork `trained` and the gradient 2-norms of its units (est::UnitGradients, computed by
///   unit_gradient_norms() from the step's slice plan after gradient clipping). Units that did
///   not train read 0, and so do the units of a layer that trains all its heads (or all its
///   neurons) at the default scales, since the slice plan has no index list for them.
/// - `cs.state()` returning `std::map<std::string, std::vector<double>>`: everything `observe`
///   has learned, saved in the `"sampling"` entry of every checkpoint's state.json (doubles
///   written with 17 significant digits, so they read back bit for bit).
/// - `s.restore(state)`: loads what state() returned. It throws value_error for a state it
///   cannot accept, which load_checkpoint() reports as an io_error; a checkpoint without a
///   `"sampling"` entry restores the empty map, which a policy with state may refuse.
///
/// The policy's state is then part of the run: the subnetwork of a step is a pure function of
/// (seed, step, state), and a checkpoint resumes it bit for bit. load_checkpoint() restores
/// into a copy of the trainer's policy, so the type must be copyable.
template <class S>
concept ObservingSamplingPolicy =
    SamplingPolicy<S> &&
    requires(S& s, const S& cs, std::int64_t step, const Subnetwork& trained,
             const UnitGradients& norms, const std::map<std::string, std::vector<double>>& state) {
      s.observe(step, trained, norms);
      { cs.state() } -> std::same_as<std::map<std::string, std::vector<double>>>;
      s.restore(state);
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

}  // namespace est
