#pragma once
// Growth schedules: pure functions from the optimizer step to the sampling rates (pL, pH, pM),
// the fractions of layers, heads per layer and MLP neurons per layer that train at that step.
//
// A growth policy is any type `G` with
//   Rates G::rates(std::int64_t step) const;   // step >= 0; every rate in (0, 1]
//   std::string_view G::name() const;          // used in error messages
// (the concept GrowthPolicy below). est provides Constant, ThreeStage (the paper's practical
// scheduler) and Linear (a smooth ramp).

#include <cmath>
#include <concepts>
#include <cstdint>
#include <ostream>
#include <string_view>

#include "est/core/error.hpp"

namespace est {

/// Sampling rates: the fraction of layers, of heads in each active layer and of MLP neurons in
/// each active layer that train. 1 means all.
struct Rates {
  double layers = 1;   ///< pL: the fraction of the layers that train.
  double heads = 1;    ///< pH: the fraction of the heads of each active layer that train.
  double neurons = 1;  ///< pM: the fraction of the MLP neurons of each active layer that train.

  /// True when every rate is exactly 1: the full model trains.
  [[nodiscard]] bool is_full() const noexcept {
    return layers == 1 && heads == 1 && neurons == 1;
  }
  friend bool operator==(const Rates&, const Rates&) = default;
  friend std::ostream& operator<<(std::ostream& out, const Rates& r) {
    return out << "(pL " << r.layers << ", pH " << r.heads << ", pM " << r.neurons << ")";
  }
};

/// Throws value_error naming `source` unless every rate is in (0, 1].
inline void check_rates(const Rates& r, std::string_view source) {
  auto check = [&](double rate, const char* what) {
    require<value_error>(std::isfinite(rate) && rate > 0 && rate <= 1, source, ": ", what,
                         " rate ", rate, " is outside (0, 1]");
  };
  check(r.layers, "layer");
  check(r.heads, "head");
  check(r.neurons, "neuron");
}

/// A growth policy: the sampling rates of every optimizer step.
///
/// A type `G` is a growth policy when a `const G& g` offers
/// - `g.rates(step)` returning est::Rates: the rates of optimizer step `step` (0-based). Every
///   rate must lie in (0, 1]; est::SubnetworkSchedule checks the result with check_rates() and
///   throws value_error naming the policy otherwise. The rates must be a pure function of `step`
///   (no state carried from call to call), so that a resumed run and every data-parallel rank
///   get the same rates; est's policies throw value_error for a negative step.
/// - `g.name()` convertible to `std::string_view`: the policy's name in error messages.
///
/// The trainer asks for the rates once per step, through est::SubnetworkSchedule::at(), before
/// anything is computed; est::growth::Constant, est::growth::ThreeStage and est::growth::Linear
/// are the policies est provides.
template <class G>
concept GrowthPolicy = requires(const G& g, std::int64_t step) {
  { g.rates(step) } -> std::same_as<Rates>;
  { g.name() } -> std::convertible_to<std::string_view>;
};

/// A step of the run, given either as a step number or as a fraction of the total steps
/// (rounded to the nearest step).
class Boundary {
 public:
  /// Step `s` itself (checked against the run by resolve()).
  [[nodiscard]] static constexpr Boundary step(std::int64_t s) noexcept { return {s, 0, false}; }
  /// The fraction `f` of the run, in [0, 1] (checked by resolve()).
  [[nodiscard]] static constexpr Boundary fraction(double f) noexcept { return {0, f, true}; }

  /// The step number in a run of `total_steps`; throws value_error naming `what` when it is
  /// negative or beyond the run (a fraction outside [0, 1] or not finite).
  [[nodiscard]] std::int64_t resolve(std::int64_t total_steps, std::string_view what) const {
    if (!is_fraction_) {
      require<value_error>(step_ >= 0 && step_ <= total_steps, what, ": step ", step_,
                           " is outside the run [0, ", total_steps, "]");
      return step_;
    }
    require<value_error>(std::isfinite(fraction_) && fraction_ >= 0 && fraction_ <= 1, what, ": fraction ",
                         fraction_, " of the run is outside [0, 1]");
    return std::llround(fraction_ * double(total_steps));
  }

 private:
  constexpr Boundary(std::int64_t s, double f, bool is_fraction) noexcept
      : step_(s), fraction_(f), is_fraction_(is_fraction) {}
  std::int64_t step_;
  double fraction_;
  bool is_fraction_;
};

namespace detail {
inline void check_step(std::int64_t step, std::string_view source) {
  require<value_error>(step >= 0, source, ": step ", step, " is negative");
}
}  // namespace detail

namespace growth {

/// The same rates at every step. Constant({1, 1, 1}) is plain training.
class Constant {
 public:
  /// `rates` at every step; throws value_error unless every rate is in (0, 1].
  explicit Constant(Rates rates = {}) : rates_(rates) { check_rates(rates, name()); }
  /// The constructor's rates; throws value_error for a negative `step`.
  [[nodiscard]] Rates rates(std::int64_t step) const {
    detail::check_step(step, name());
    return rates_;
  }
  /// "growth::Constant".
  [[nodiscard]] std::string_view name() const noexcept { return "growth::Constant"; }

 private:
  Rates rates_;
};

/// The paper's practical scheduler. Stage 1, steps [0, T1): all three dimensions sampled at
/// `stage1`. Stage 2, steps [T1, T2): every layer, heads and neurons sampled at
/// `stage2_heads` / `stage2_neurons`. Stage 3, steps >= T2: the full model.
/// The defaults are provisional (the paper does not publish its values): stage 1 samples half of
/// everything for the first quarter of the run, stage 2 half the heads and neurons for the
/// second quarter.
class ThreeStage {
 public:
  /// The stages' rates and boundaries.
  struct Options {
    Rates stage1{0.5, 0.5, 0.5};  ///< Rates of stage 1 (layers, heads and neurons sampled).
    double stage2_heads = 0.5;    ///< pH of stage 2, in (0, 1] (every layer trains).
    double stage2_neurons = 0.5;  ///< pM of stage 2, in (0, 1].
    /// T1, the first step of stage 2.
    Boundary end_of_stage1 = Boundary::fraction(0.25);
    /// T2, the first step of stage 3 (the full model); T1 <= T2 (T1 = T2 skips stage 2).
    Boundary end_of_stage2 = Boundary::fraction(0.5);
  };

  /// `total_steps` is the length of the run, against which fractions are resolved and
  /// boundaries checked. Throws value_error when `total_steps` < 1, a rate is outside (0, 1],
  /// a boundary lies outside [0, `total_steps`] or stage 1 ends after stage 2.
  ThreeStage(Options options, std::int64_t total_steps)
      : stage1_(options.stage1), stage2_{1.0, options.stage2_heads, options.stage2_neurons} {
    require<value_error>(total_steps >= 1, name(), ": total_steps must be >= 1, got ",
                         total_steps);
    check_rates(stage1_, "growth::ThreeStage stage 1");
    check_rates(stage2_, "growth::ThreeStage stage 2");
    t1_ = options.end_of_stage1.resolve(total_steps, "growth::ThreeStage end of stage 1");
    t2_ = options.end_of_stage2.resolve(total_steps, "growth::ThreeStage end of stage 2");
    require<value_error>(t1_ <= t2_, name(), ": stage 1 ends at step ", t1_,
                         ", after stage 2 ends at step ", t2_, " (boundaries out of order)");
  }
  /// The default Options over a run of `total_steps`.
  explicit ThreeStage(std::int64_t total_steps) : ThreeStage(Options{}, total_steps) {}

  /// Stage 1's rates before T1, stage 2's before T2, all ones from T2 on; throws value_error
  /// for a negative `step`.
  [[nodiscard]] Rates rates(std::int64_t step) const {
    detail::check_step(step, name());
    if (step < t1_) return stage1_;
    if (step < t2_) return stage2_;
    return Rates{};
  }
  /// T1, the first step of stage 2, resolved.
  [[nodiscard]] std::int64_t end_of_stage1() const noexcept { return t1_; }
  /// T2, the first step of stage 3 (the full model), resolved.
  [[nodiscard]] std::int64_t end_of_stage2() const noexcept { return t2_; }
  /// "growth::ThreeStage".
  [[nodiscard]] std::string_view name() const noexcept { return "growth::ThreeStage"; }

 private:
  Rates stage1_, stage2_;
  std::int64_t t1_ = 0, t2_ = 0;
};

/// A smooth schedule: every rate moves linearly from `start` at step 0 to 1 at `end`, and stays
/// at 1 (the full model) from `end` on.
class Linear {
 public:
  /// A ramp from `start` to the full model at `end` in a run of `total_steps`. Throws
  /// value_error when `total_steps` < 1, a rate of `start` is outside (0, 1] or `end` lies
  /// outside [0, `total_steps`].
  Linear(Rates start, Boundary end, std::int64_t total_steps) : start_(start) {
    require<value_error>(total_steps >= 1, name(), ": total_steps must be >= 1, got ",
                         total_steps);
    check_rates(start, name());
    end_ = end.resolve(total_steps, "growth::Linear end of the ramp");
  }

  /// `start` + (1 - `start`)·step / end before `end`, all ones from `end` on; throws
  /// value_error for a negative `step`.
  [[nodiscard]] Rates rates(std::int64_t step) const {
    detail::check_step(step, name());
    if (step >= end_) return Rates{};
    const double t = double(step) / double(end_);
    auto ramp = [t](double from) { return from + (1.0 - from) * t; };
    return {ramp(start_.layers), ramp(start_.heads), ramp(start_.neurons)};
  }
  /// The first step of the full model, resolved.
  [[nodiscard]] std::int64_t end() const noexcept { return end_; }
  /// "growth::Linear".
  [[nodiscard]] std::string_view name() const noexcept { return "growth::Linear"; }

 private:
  Rates start_;
  std::int64_t end_ = 0;
};

}  // namespace growth

static_assert(GrowthPolicy<growth::Constant>);
static_assert(GrowthPolicy<growth::ThreeStage>);
static_assert(GrowthPolicy<growth::Linear>);

}  // namespace est
