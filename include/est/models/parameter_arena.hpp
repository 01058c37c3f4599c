#pragma once
// What every model's parameter layout shares: all parameters live in one flat arena (and all
// gradients in a second arena of the same layout), cut into named tensors in a fixed order.
// `ArenaLayout` hands out the consecutive views and records their specs; each model's layout
// (models/gpt2/parameters.hpp, models/llama/parameters.hpp) names the tensors.

#include <string>
#include <vector>

#include "est/core/error.hpp"
#include "est/core/parameter_spec.hpp"
#include "est/core/tensor.hpp"

namespace est {

/// Consecutive views into an arena from `base`, each appended to `specs` when it is not null.
template <class T, class Device = cpu>
class ArenaLayout {
 public:
  /// Starts at offset 0 of `base` (null: record the specs only) and appends a spec per tensor
  /// to `specs` (null: none). Neither is owned; both must outlive the layout.
  ArenaLayout(T* base, std::vector<ParameterSpec>* specs) : base_(base), specs_(specs) {}

  /// The next tensor: `shape` elements after the previous one. Matrices (rank >= 2) decay.
  /// Without a base (null) the views are empty and only the specs are recorded.
  TensorView<T, Device> take(std::string name, Shape shape) {
    TensorView<T, Device> view(base_ ? base_ + offset_ : nullptr, shape);
    if (specs_) specs_->push_back({std::move(name), shape, offset_, shape.rank() >= 2});
    offset_ += shape.numel();
    return view;
  }

  /// Throws est::error naming `who` unless exactly `expected` elements were laid out (the
  /// configuration's count).
  void expect_total(Index expected, const char* who) const {
    require(offset_ == expected, who, ": laid out ", offset_,
            " parameters but the configuration's parameter_count() says ", expected);
  }

 private:
  T* base_;
  std::vector<ParameterSpec>* specs_;
  Index offset_ = 0;
};

}  // namespace est
