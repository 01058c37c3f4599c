#pragma once
// FLOPs accounting: the forward and backward FLOPs of one training step (each model family
// counts its own: models/<family>/family.hpp, step_flops), and the running totals of a run, the
// subnetworks' cost next to what the full model would have cost.

#include <cstdint>

#include "est/core/error.hpp"

namespace est {

/// The FLOPs of one optimizer step (all its micro-batches), as a model family counts them.
struct StepFlops {
  std::int64_t forward = 0;   ///< FLOPs of the forward passes.
  std::int64_t backward = 0;  ///< FLOPs of the backward passes.
  /// Forward plus backward.
  [[nodiscard]] std::int64_t total() const noexcept { return forward + backward; }
  friend bool operator==(const StepFlops&, const StepFlops&) = default;
};

/// Running totals of a training run: what the subnetworks cost next to what the full model
/// would have cost, step by step and in all.
class FlopsMeter {
 public:
  /// Records one step: what the `subnetwork` computed and what the `full` model would have.
  /// Throws value_error unless 0 <= `subnetwork.total()` <= `full.total()` and `full.total()` > 0.
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
  /// Throws value_error when `steps` or `total` is negative or `total` exceeds `total_full`.
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

  /// Steps recorded so far.
  [[nodiscard]] std::int64_t steps() const noexcept { return steps_; }
  /// The last step's FLOPs (all zero before any step).
  [[nodiscard]] const StepFlops& last() const noexcept { return last_; }
  /// What the full model would have cost at the last step (all zero before any step).
  [[nodiscard]] const StepFlops& last_full() const noexcept { return last_full_; }
  /// Cumulative FLOPs spent (a double, so long runs do not overflow).
  [[nodiscard]] double total() const noexcept { return total_; }
  /// Cumulative FLOPs the full model would have spent over the same steps.
  [[nodiscard]] double total_full() const noexcept { return total_full_; }
  /// 1 - spent / full over the whole run: the fraction of compute saved (0 before any step).
  [[nodiscard]] double saving() const noexcept {
    return total_full_ > 0 ? 1.0 - total_ / total_full_ : 0.0;
  }
  /// 1 - spent / full for the last step alone (0 before any step).
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
