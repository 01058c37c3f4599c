#pragma once
// A growth policy of one's own, the example of docs/manual/guides/growth-schedule.md: the
// subnetwork grows in equal stairs from a starting size to the full model.

// [policy]
#include <algorithm>
#include <cstdint>
#include <string_view>

#include <est/subnet/growth.hpp>

/// `stairs` stages of equal length over [0, end): in stage i (i = 0 .. stairs-1) every rate is
/// start + (1 - start)·i/stairs; from `end` on, the full model. Stairs(…, stairs = 1) is one
/// sampled stage, then the full model.
class Staircase {
 public:
  Staircase(est::Rates start, int stairs, est::Boundary end, std::int64_t total_steps)
      : start_(start), stairs_(stairs) {
    est::check_rates(start, name());
    est::require<est::value_error>(stairs >= 1, name(), ": stairs must be >= 1, got ", stairs);
    end_ = end.resolve(total_steps, "Staircase end");
  }

  [[nodiscard]] est::Rates rates(std::int64_t step) const {
    est::require<est::value_error>(step >= 0, name(), ": step ", step, " is negative");
    if (step >= end_) return est::Rates{};  // the full model
    const int stair = static_cast<int>(std::min<std::int64_t>(stairs_ - 1, step * stairs_ / end_));
    const double t = double(stair) / stairs_;
    auto grow = [t](double from) { return from + (1.0 - from) * t; };
    return {grow(start_.layers), grow(start_.heads), grow(start_.neurons)};
  }

  [[nodiscard]] std::string_view name() const noexcept { return "Staircase"; }

 private:
  est::Rates start_;
  int stairs_;
  std::int64_t end_ = 0;
};

static_assert(est::GrowthPolicy<Staircase>);
// [policy]
