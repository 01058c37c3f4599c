#pragma once
// Learning-rate schedules: pure functions from the optimizer step (0-based) to the rate.
//   lr::Constant      the same rate at every step
//   lr::WarmupCosine  linear warmup to `max` over `warmup` steps, then a half cosine down to
//                     `min` at step `total`, and `min` after it
//   lr::WarmupLinear  the same warmup, then a straight line down to `min` at `total`
//   lr::WarmupStableDecay  the same warmup, `max` until `decay_start`, then a straight line
//                     down to `min` at `total` (warmup–stable–decay)
//   lr::Rewarm        any schedule with a second linear warmup from step `at` (e.g. at the
//                     start of EST's full-model stage)
// During warmup, step s gets max·(s+1)/warmup, so the first step already moves (as nanoGPT and
// llm.c do). After warmup, with r = (s - warmup) / (total - warmup) in [0, 1]:
//   cosine: min + (max - min)·(1 + cos(π r))/2;   linear: max - (max - min)·r.

#include <cmath>
#include <cstdint>
#include <numbers>
#include <string_view>
#include <utility>

#include "est/core/error.hpp"

namespace est::lr {

namespace detail {
inline void check_rate(double rate, std::string_view who, const char* what) {
  require<value_error>(std::isfinite(rate) && rate >= 0, who, ": ", what,
                       " learning rate must be finite and >= 0, got ", rate);
}
inline void check_step(std::int64_t step, std::string_view who) {
  require<value_error>(step >= 0, who, ": step ", step, " is negative");
}
}  // namespace detail

/// The same learning rate at every step.
class Constant {
 public:
  /// `rate` at every step; throws value_error when it is negative or not finite.
  explicit Constant(double rate) : rate_(rate) { detail::check_rate(rate, "lr::Constant", "the"); }
  /// The rate; throws value_error for a negative `step`.
  [[nodiscard]] double at(std::int64_t step) const {
    detail::check_step(step, "lr::Constant");
    return rate_;
  }

 private:
  double rate_;
};

/// Shared warmup-then-decay shape; `Decay` maps r in [0, 1] to the fraction of (max - min) left.
template <class Decay>
class WarmupDecay {
 public:
  /// Warmup to `max` over the first `warmup` steps, then the decay down to `min` at step
  /// `total`. `name` appears in errors and is kept as a view: it must outlive the schedule (a
  /// string literal does). Throws value_error when a rate is negative or not finite, `min` >
  /// `max`, `total` < 1 or `warmup` is outside [0, `total`].
  WarmupDecay(double max, double min, std::int64_t warmup, std::int64_t total, std::string_view name)
      : max_(max), min_(min), warmup_(warmup), total_(total), name_(name) {
    detail::check_rate(max, name, "the maximum");
    detail::check_rate(min, name, "the minimum");
    require<value_error>(min <= max, name, ": the minimum learning rate ", min,
                         " is above the maximum ", max);
    require<value_error>(total >= 1, name, ": total steps must be >= 1, got ", total);
    require<value_error>(warmup >= 0 && warmup <= total, name, ": warmup ", warmup,
                         " steps must be in [0, total = ", total, "]");
  }

  /// The rate of `step` (0-based): `max`·(step + 1)/`warmup` during warmup, then
  /// `min` + (`max` - `min`)·Decay(r) with r = (step - warmup)/(total - warmup), and `min` from
  /// step `total` on. Throws value_error for a negative `step`.
  [[nodiscard]] double at(std::int64_t step) const {
    detail::check_step(step, name_);
    if (step < warmup_) return max_ * double(step + 1) / double(warmup_);
    if (step >= total_) return min_;
    const double r = double(step - warmup_) / double(total_ - warmup_);
    return min_ + (max_ - min_) * Decay{}(r);
  }

 private:
  double max_, min_;
  std::int64_t warmup_, total_;
  std::string_view name_;
};

/// A half cosine from 1 at r = 0 to 0 at r = 1.
struct CosineDecay {
  /// (1 + cos(π·r)) / 2.
  double operator()(double r) const { return 0.5 * (1.0 + std::cos(std::numbers::pi * r)); }
};
/// A straight line from 1 at r = 0 to 0 at r = 1.
struct LinearDecay {
  /// 1 - r.
  double operator()(double r) const { return 1.0 - r; }
};

/// Linear warmup to `max` over `warmup` steps, then a half cosine down to `min` at step
/// `total`, and `min` after it.
class WarmupCosine : public WarmupDecay<CosineDecay> {
 public:
  /// See WarmupDecay's constructor (same checks, errors named "lr::WarmupCosine").
  WarmupCosine(double max, double min, std::int64_t warmup, std::int64_t total)
      : WarmupDecay(max, min, warmup, total, "lr::WarmupCosine") {}
};

/// Linear warmup to `max` over `warmup` steps, then a straight line down to `min` at step
/// `total`, and `min` after it.
class WarmupLinear : public WarmupDecay<LinearDecay> {
 public:
  /// See WarmupDecay's constructor (same checks, errors named "lr::WarmupLinear").
  WarmupLinear(double max, double min, std::int64_t warmup, std::int64_t total)
      : WarmupDecay(max, min, warmup, total, "lr::WarmupLinear") {}
};

/// Warmup–stable–decay: linear warmup to `max` over `warmup` steps (as WarmupDecay), `max`
/// until `decay_start`, then a straight line down to `min` at step `total`, and `min` after it.
/// The stable phase lets a run end its growth stages at the full rate and decay only once the
/// full model trains.
class WarmupStableDecay {
 public:
  /// Throws value_error when a rate is negative or not finite, `min` > `max`, `total` < 1, or
  /// not 0 <= `warmup` <= `decay_start` <= `total`.
  WarmupStableDecay(double max, double min, std::int64_t warmup, std::int64_t decay_start,
                    std::int64_t total)
      : max_(max), min_(min), warmup_(warmup), decay_start_(decay_start), total_(total) {
    constexpr std::string_view name = "lr::WarmupStableDecay";
    detail::check_rate(max, name, "the maximum");
    detail::check_rate(min, name, "the minimum");
    require<value_error>(min <= max, name, ": the minimum learning rate ", min,
                         " is above the maximum ", max);
    require<value_error>(total >= 1, name, ": total steps must be >= 1, got ", total);
    require<value_error>(warmup >= 0 && warmup <= decay_start && decay_start <= total, name,
                         ": need 0 <= warmup <= decay_start <= total, got warmup ", warmup,
                         ", decay_start ", decay_start, ", total ", total);
  }

  /// `max`·(step + 1)/`warmup` during warmup, `max` until `decay_start`, then
  /// `max` - (`max` - `min`)·(step - decay_start)/(total - decay_start), and `min` from `total`
  /// on. Throws value_error for a negative `step`.
  [[nodiscard]] double at(std::int64_t step) const {
    detail::check_step(step, "lr::WarmupStableDecay");
    if (step < warmup_) return max_ * double(step + 1) / double(warmup_);
    if (step < decay_start_) return max_;
    if (step >= total_) return min_;
    const double r = double(step - decay_start_) / double(total_ - decay_start_);
    return max_ - (max_ - min_) * r;
  }

 private:
  double max_, min_;
  std::int64_t warmup_, decay_start_, total_;
};

/// Another schedule with a second warmup: from step `at`, for `steps` steps, the rate ramps
/// linearly up to `base`'s, step `at` + i getting base.at(at + i)·(i + 1)/`steps`; every other
/// step has `base`'s rate. With `at` at the first step of EST's full-model stage it re-warms
/// the optimizer for the weights that trained little so far.
template <class Base>
class Rewarm {
 public:
  /// Throws value_error when `at` < 0 or `steps` < 1.
  Rewarm(Base base, std::int64_t at, std::int64_t steps)
      : base_(std::move(base)), at_(at), steps_(steps) {
    require<value_error>(at >= 0, "lr::Rewarm: the re-warm must start at a step >= 0, got ", at);
    require<value_error>(steps >= 1, "lr::Rewarm: the re-warm needs >= 1 step, got ", steps);
  }

  /// `base`'s rate, scaled by (step - at + 1)/steps inside the re-warm. Throws value_error for
  /// a negative `step` (and passes on what `base` throws).
  [[nodiscard]] double at(std::int64_t step) const {
    detail::check_step(step, "lr::Rewarm");
    const double rate = base_.at(step);
    if (step < at_ || step >= at_ + steps_) return rate;
    return rate * double(step - at_ + 1) / double(steps_);
  }

 private:
  Base base_;
  std::int64_t at_, steps_;
};

}  // namespace est::lr
