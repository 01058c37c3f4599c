#pragma once
// FLOPs accounting: the forward and backward FLOPs of one training step (each model family
// counts its own: models/<family>/family.hpp, step_flops), and the running totals of a run, the
// subnetworks' cost next to what the full model would have cost.

#include <cstdint>

#include "est/core/error.hpp"

namespace est {

struct StepFlops {
  std::int64_t forward = 0;
  std::int64_t backward = 0;
  [[nodiscard]] std::int64_t total() const noexcept { return forward + backward; }
  friend bool operator==(const StepFlops&, const StepFlops&) = default;
};

/// Running totals of a training run: what the subnetworks cost next to what the full model
/// would have cost, step by step and in all.
class FlopsMeter {
 public:
  void add(const StepFlops& subnetwork, const StepFlops& full) {
    require<value_error>(full.total() > 0 && subnetwork.total() >= 0 &&
                             subnetwork.total() <= full.total(),
                         "FlopsMeter::add: a step of ", subnetwork.total(),
                         " FLOPs against a full step of ", full.total(),
                         " (expected 0 <= subnetwork <= full, full > 0)");
    last_ = subnetwork;
    last_full_ = full;
    total_ += double(subnetwork.total());
    total_full_ += double(full.total());
    ++steps_;
  }

  /// The meter of a checkpoint: its totals and last step, as the accessors below report them.
  [[nodiscard]] static FlopsMeter restore(std::int64_t steps, double total, double total_full,
                                          StepFlops last, StepFlops last_full) {
    require<value_error>(steps >= 0 && total >= 0 && total <= total_full,
                         "FlopsMeter::restore: inconsistent totals (steps ", steps, ", total ",
                         total, ", full ", total_full, ")");
    FlopsMeter m;
    m.steps_ = steps;
    m.total_ = total;
    m.total_full_ = total_full;
    m.last_ = last;
    m.last_full_ = last_full;
    return m;
  }

  [[nodiscard]] std::int64_t steps() const noexcept { return steps_; }
  [[nodiscard]] const StepFlops& last() const noexcept { return last_; }
  [[nodiscard]] const StepFlops& last_full() const noexcept { return last_full_; }
  /// Cumulative FLOPs spent, and what the full model would have spent.
  [[nodiscard]] double total() const noexcept { return total_; }
  [[nodiscard]] double total_full() const noexcept { return total_full_; }
  /// 1 - spent / full, over the whole run and for the last step (0 before any step).
  [[nodiscard]] double saving() const noexcept {
    return total_full_ > 0 ? 1.0 - total_ / total_full_ : 0.0;
  }
  [[nodiscard]] double last_saving() const noexcept {
    return last_full_.total() > 0 ? 1.0 - double(last_.total()) / double(last_full_.total())
                                  : 0.0;
  }

 private:
  StepFlops last_, last_full_;
  double total_ = 0, total_full_ = 0;
  std::int64_t steps_ = 0;
};

}  // namespace est
