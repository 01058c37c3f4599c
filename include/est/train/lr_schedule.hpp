#pragma once
// Learning-rate schedules: pure functions from the optimizer step (0-based) to the rate.
//   lr::Constant      the same rate at every step
//   lr::WarmupCosine  linear warmup to `max` over `warmup` steps, then a half cosine down to
//                     `min` at step `total`, and `min` after it
//   lr::WarmupLinear  the same warmup, then a straight line down to `min` at `total`
// During warmup, step s gets max·(s+1)/warmup, so the first step already moves (as nanoGPT and
// llm.c do). After warmup, with r = (s - warmup) / (total - warmup) in [0, 1]:
//   cosine: min + (max - min)·(1 + cos(π r))/2;   linear: max - (max - min)·r.

#include <cmath>
#include <cstdint>
#include <numbers>
#include <string_view>

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

class Constant {
 public:
  explicit Constant(double rate) : rate_(rate) { detail::check_rate(rate, "lr::Constant", "the"); }
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

struct CosineDecay {
  double operator()(double r) const { return 0.5 * (1.0 + std::cos(std::numbers::pi * r)); }
};
struct LinearDecay {
  double operator()(double r) const { return 1.0 - r; }
};

class WarmupCosine : public WarmupDecay<CosineDecay> {
 public:
  WarmupCosine(double max, double min, std::int64_t warmup, std::int64_t total)
      : WarmupDecay(max, min, warmup, total, "lr::WarmupCosine") {}
};

class WarmupLinear : public WarmupDecay<LinearDecay> {
 public:
  WarmupLinear(double max, double min, std::int64_t warmup, std::int64_t total)
      : WarmupDecay(max, min, warmup, total, "lr::WarmupLinear") {}
};

}  // namespace est::lr
