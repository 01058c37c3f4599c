#pragma once
// The active mask of a step on the CPU: one byte per parameter, 1 where the step's slice plan
// says the element trains, 0 elsewhere (subnet/slice_plan.hpp). AdamW reads it to leave the
// other elements alone.
// Shapes: P parameters; each tensor of the plan (rows, cols) in memory order.

#include <algorithm>
#include <cstdint>

#include "est/backend/cpu/parallel.hpp"
#include "est/core/context.hpp"
#include "est/core/error.hpp"
#include "est/core/tensor.hpp"
#include "est/subnet/slice_plan.hpp"

namespace est {

/// mask (P) = 1 for every element `plan` trains, 0 for every other.
inline void write_active_mask(const Context<cpu>& ctx, const SlicePlan& plan,
                              TensorView<std::uint8_t> mask) {
  require<shape_error>(mask.numel() == plan.parameter_count(), "write_active_mask: mask has ",
                       mask.numel(), " elements, the slice plan covers ", plan.parameter_count());
  plan.validate("write_active_mask", mask.numel());
  for (const TensorSlice& t : plan.tensors()) {
    std::uint8_t* out = mask.data() + t.offset;
    const auto indices = plan.indices(t);
    switch (t.kind) {
      case SliceKind::all:
      case SliceKind::none:
        std::fill_n(out, t.rows * t.cols, std::uint8_t(t.kind == SliceKind::all ? 1 : 0));
        break;
      case SliceKind::columns:  // row by row, in memory order
        cpu_detail::parallel_ranges(ctx, t.rows, [&](Index r0, Index r1) {
          for (Index r = r0; r < r1; ++r) {
            std::uint8_t* row = out + r * t.cols;
            std::fill_n(row, t.cols, std::uint8_t{0});
            for (const Index c : indices) row[c] = 1;
          }
        });
        break;
      case SliceKind::rows:
        std::fill_n(out, t.rows * t.cols, std::uint8_t{0});
        for (const Index r : indices) std::fill_n(out + r * t.cols, t.cols, std::uint8_t{1});
        break;
    }
  }
}

}  // namespace est
