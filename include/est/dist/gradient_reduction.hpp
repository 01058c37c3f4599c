#pragma once
// The gradient all-reduce of data parallelism, cut to the step's subnetwork.
//
// Under a subnetwork only the elements the step's slice plan trains have gradients; every other
// element of the gradient arena is zero on every rank (the model zeroes the arena and its
// backward writes the active slices only). So a rank packs the active elements in arena order
// (the order of active_segments(), the plan's contiguous runs), all-reduces the packed buffer
// and writes it back: the bytes on the wire fall with the subnetwork's size. A full step
// reduces the arena in place.
//
//   packed (A) = grads[active elements]             A = plan.active_elements()
//   all_reduce_sum(packed); grads[active elements] = packed
//
// Shapes: P parameters in the arena; A active elements of a step.

#include <algorithm>
#include <cstring>
#include <span>
#include <vector>

#include "est/core/error.hpp"
#include "est/core/index_runs.hpp"
#include "est/core/shape.hpp"
#include "est/core/tensor.hpp"
#include "est/dist/communicator.hpp"
#include "est/subnet/slice_plan.hpp"

namespace est {

/// A contiguous run of arena elements: [offset, offset + length).
struct ArenaSegment {
  Index offset = 0;  ///< The run's first element in the arena.
  Index length = 0;  ///< Elements in the run, >= 1.
  friend bool operator==(const ArenaSegment&, const ArenaSegment&) = default;
};

/// The elements `plan` trains, as contiguous runs of the arena in increasing order, adjacent
/// runs merged (a whole tensor is one run; a column-sliced one is a run per row and run of
/// consecutive columns). Their lengths add up to plan.active_elements(). Throws value_error
/// when the plan is inconsistent (SlicePlan::validate()).
inline std::vector<ArenaSegment> active_segments(const SlicePlan& plan) {
  plan.validate("active_segments", plan.parameter_count());
  std::vector<ArenaSegment> out;
  auto add = [&out](Index offset, Index length) {
    if (length == 0) return;
    if (!out.empty() && out.back().offset + out.back().length == offset) {
      out.back().length += length;
    } else {
      out.push_back({offset, length});
    }
  };
  for (const TensorSlice& t : plan.tensors()) {
    switch (t.kind) {
      case SliceKind::all: add(t.offset, t.rows * t.cols); break;
      case SliceKind::none: break;
      case SliceKind::columns: {
        const auto runs = detail::index_runs(plan.indices(t), t.cols, "active_segments");
        for (Index r = 0; r < t.rows; ++r) {
          for (const auto& run : runs) add(t.offset + r * t.cols + run.source, run.length);
        }
        break;
      }
      case SliceKind::rows:
        for (const auto& run : detail::index_runs(plan.indices(t), t.rows, "active_segments")) {
          add(t.offset + run.source * t.cols, run.length * t.cols);
        }
        break;
    }
  }
  return out;
}

/// Sums a gradient arena over the ranks of a Communicator: the whole arena, or only the
/// elements a step's slice plan trains (packed into a buffer the reducer keeps between steps).
/// The gradients are summed, not averaged: each rank scales its loss by 1 / (ranks ·
/// micro-batches), so the sum is the mean over the global batch.
template <class T>
class GradientReducer {
 public:
  /// Sums every element of `grads` (P) over the ranks, in place.
  void reduce_all(Communicator& comm, TensorView<T> grads) {
    if (comm.size() > 1) comm.all_reduce_sum(std::span<T>(grads.data(), std::size_t(grads.numel())));
  }

  /// Sums the elements of `grads` (P) that `plan` trains over the ranks, in place; the others
  /// stay as they are (zero, when the gradients come from a backward under the plan). Throws
  /// shape_error when `plan` does not cover P elements.
  void reduce_active(Communicator& comm, const SlicePlan& plan, TensorView<T> grads) {
    require<shape_error>(plan.parameter_count() == grads.numel(), "GradientReducer: the slice "
                         "plan covers ", plan.parameter_count(), " elements, the gradients hold ",
                         grads.numel());
    if (comm.size() == 1) return;
    plan.validate("GradientReducer", grads.numel());
    packed_.resize(std::size_t(plan.active_elements()));  // (A)
    walk(plan, grads.data(), packed_.data(), /*pack=*/true);
    comm.all_reduce_sum(std::span<T>(packed_));
    walk(plan, grads.data(), packed_.data(), /*pack=*/false);
  }

 private:
  /// Copies the active elements of `arena` (P) to `packed` (A) in arena order (pack), or back.
  /// The order is active_segments()'s; columns are gathered index by index, since a sampled
  /// neuron set makes runs of a few elements, too short for a copy call each.
  static void walk(const SlicePlan& plan, T* arena, T* packed, bool pack) {
    auto copy = [pack](T* at, T* p, Index n) {
      if (pack) {
        std::memcpy(p, at, std::size_t(n) * sizeof(T));
      } else {
        std::memcpy(at, p, std::size_t(n) * sizeof(T));
      }
    };
    for (const TensorSlice& t : plan.tensors()) {
      T* base = arena + t.offset;
      switch (t.kind) {
        case SliceKind::all:
          copy(base, packed, t.rows * t.cols);
          packed += t.rows * t.cols;
          break;
        case SliceKind::none: break;
        case SliceKind::columns: {
          const std::span<const Index> cols = plan.indices(t);
          for (Index r = 0; r < t.rows; ++r) {
            T* row = base + r * t.cols;
            if (pack) {
              for (const Index c : cols) *packed++ = row[c];
            } else {
              for (const Index c : cols) row[c] = *packed++;
            }
          }
          break;
        }
        case SliceKind::rows:
          for (const Index r : plan.indices(t)) {
            copy(base + r * t.cols, packed, t.cols);
            packed += t.cols;
          }
          break;
      }
    }
  }

  std::vector<T> packed_;  // (A) the active elements of the last step, in segment order
};

}  // namespace est
