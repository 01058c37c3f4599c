#pragma once
// The gradient 2-norm of every active head and neuron of a step, read off the gradient arena
// through the step's slice plan: a head's norm covers every element its index lists select (its
// Q, K and V columns and bias entries and its rows of W_O in GPT-2; its q rows and o columns in
// Llama), a neuron's its column of the up projection(s), bias entry and row of the down
// projection. Importance-weighted sampling (subnet/sampling/importance.hpp) keeps a running
// statistic of these.
//
// Shapes: L layers, H heads, M neurons per layer; the arena (P) on the host.

#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include "est/core/error.hpp"
#include "est/core/tensor.hpp"
#include "est/subnet/slice_plan.hpp"
#include "est/subnet/subnetwork.hpp"

namespace est {

/// Per-unit gradient norms of one step (0 for a unit that did not train).
struct UnitGradients {
  SubnetworkShape shape;        ///< The model's (L, H, M).
  std::vector<double> heads;    ///< (L·H) head h of layer l at l·H + h.
  std::vector<double> neurons;  ///< (L·M) neuron n of layer l at l·M + n.
};

/// The gradient norms of the units of `plan` (whose index lists carry their units) in `grads`
/// (P, the gradient arena on the host). Units of a layer the plan leaves whole (no index
/// lists) are not covered: they read 0. Throws shape_error when `grads` does not hold
/// `plan.parameter_count()` elements, value_error when a list's units fall outside `shape`.
template <class T>
[[nodiscard]] UnitGradients unit_gradient_norms(const SlicePlan& plan, const SubnetworkShape& shape,
                                                ConstView<T> grads) {
  require<shape_error>(grads.numel() == plan.parameter_count(), "unit_gradient_norms: ",
                       grads.numel(), " gradients for a slice plan of ", plan.parameter_count(),
                       " parameters");
  UnitGradients out{shape, std::vector<double>(std::size_t(shape.layers * shape.heads), 0.0),
                    std::vector<double>(std::size_t(shape.layers * shape.neurons), 0.0)};
  for (const TensorSlice& t : plan.tensors()) {
    if (t.list < 0 || (t.kind != SliceKind::columns && t.kind != SliceKind::rows)) continue;
    const ListUnits units = plan.units(t.list);
    if (units.kind == UnitKind::none) continue;
    const bool heads = units.kind == UnitKind::head;
    const int per_layer = heads ? shape.heads : shape.neurons;
    require<value_error>(units.layer >= 0 && units.layer < shape.layers, "unit_gradient_norms: ",
                         "a slice list of layer ", units.layer, " in a model of ", shape.layers,
                         " layers");
    std::vector<double>& sums = heads ? out.heads : out.neurons;
    const T* g = grads.data() + t.offset;
    for (const Index i : plan.indices(t)) {
      const Index unit = (units.period > 0 ? i % units.period : i) / units.size;
      require<value_error>(unit >= 0 && unit < per_layer, "unit_gradient_norms: index ", i,
                           " maps to unit ", unit, " of ", per_layer);
      double sum = 0;
      if (t.kind == SliceKind::rows) {
        for (Index c = 0; c < t.cols; ++c) sum += double(g[i * t.cols + c]) * double(g[i * t.cols + c]);
      } else {
        for (Index r = 0; r < t.rows; ++r) sum += double(g[r * t.cols + i]) * double(g[r * t.cols + i]);
      }
      sums[std::size_t(units.layer * per_layer + unit)] += sum;
    }
  }
  for (double& x : out.heads) x = std::sqrt(x);
  for (double& x : out.neurons) x = std::sqrt(x);
  return out;
}

}  // namespace est
