#pragma once
// What a sliced half-block (attention or MLP) reads of the step's slice plan: the units its
// first projection selects, those its second projection selects, and the factors the second
// projection's output is scaled by. Each family's model picks the two tensors of a half from
// the plan (models/<family>/model.hpp); the blocks gather, compute and scatter with them.

#include <cstddef>
#include <span>

#include "est/core/error.hpp"
#include "est/core/shape.hpp"
#include "est/subnet/slice_plan.hpp"

namespace est {

/// The part of one half-block a pass computes, read off the slice plan by half_slice(): the
/// second projection's output is scaled by `second_scales` or `scale` (H/h, M/m). The spans
/// point into the plan, so they are valid while it lives and is not changed.
struct HalfSlice {
  bool whole = true;                     ///< Every unit at scale 1: the plain, unsliced ops.
  std::span<const Index> first;          ///< Selected columns / rows of the first projection.
  std::span<const Index> second;         ///< Selected rows / columns of the second projection.
  std::span<const double> second_scales; ///< A scale per index of `second`, or empty.
  double scale = 1.0;                    ///< The uniform output scale when second_scales is empty.
};

/// The half whose first and second projections are the plan's tensors `first` and `second`
/// (indices in arena order). A half is whole when neither tensor is sliced. Throws value_error
/// when only one of them is.
[[nodiscard]] inline HalfSlice half_slice(const SlicePlan& plan, std::size_t first,
                                          std::size_t second) {
  const TensorSlice& a = plan.tensors()[first];
  const TensorSlice& b = plan.tensors()[second];
  HalfSlice half;
  half.whole = a.list < 0 && b.list < 0;
  if (half.whole) return half;
  // A family slices both projections of a half by the same units, or neither.
  require<value_error>(a.list >= 0 && b.list >= 0, "half_slice: tensors ", first, " and ",
                       second, " of the slice plan are not sliced together");
  half.first = plan.indices(a);
  half.second = plan.indices(b);
  half.second_scales = b.list < 0 ? std::span<const double>() : plan.scales(b.list);
  half.scale = b.scale;
  return half;
}

}  // namespace est
