#pragma once
// What every model's parameter layout shares: all parameters live in one flat arena (and all
// gradients in a second arena of the same layout), cut into named tensors in a fixed order.
// `ArenaLayout` hands out the consecutive views and records their specs; each model's layout
// (gpt2_parameters.hpp, llama_parameters.hpp) names the tensors.

#include <string>
#include <vector>

#include "est/core/error.hpp"
#include "est/core/tensor.hpp"
#include "est/subnet/subnetwork.hpp"

namespace est {

/// One named tensor of the arena.
struct ParameterSpec {
  std::string name;   // Hugging Face name
  Shape shape;
  Index offset = 0;   // first element in the arena
  bool weight_decay = false;  // matrices decay; biases and norm weights do not
};

/// Consecutive views into an arena from `base`, each appended to `specs` when it is not null.
template <class T, class Device = cpu>
class ArenaLayout {
 public:
  ArenaLayout(T* base, std::vector<ParameterSpec>* specs) : base_(base), specs_(specs) {}

  /// The next tensor: `shape` elements after the previous one. Matrices (rank >= 2) decay.
  TensorView<T, Device> take(std::string name, Shape shape) {
    TensorView<T, Device> view(base_ + offset_, shape);
    if (specs_) specs_->push_back({std::move(name), shape, offset_, shape.rank() >= 2});
    offset_ += shape.numel();
    return view;
  }

  /// Throws unless exactly `expected` elements were laid out (the configuration's count).
  void expect_total(Index expected, const char* who) const {
    require(offset_ == expected, who, ": laid out ", offset_,
            " parameters but the configuration's parameter_count() says ", expected);
  }

 private:
  T* base_;
  std::vector<ParameterSpec>* specs_;
  Index offset_ = 0;
};

namespace detail {
/// The checks of every mark_active_parameters (any model family, CPU and CUDA).
template <class Config>
void check_active_mask(const Config& config, const Subnetwork& subnet, Index mask_size) {
  require<shape_error>(mask_size == config.parameter_count(), "mark_active_parameters: mask has ",
                       mask_size, " elements, expected parameter_count() = ",
                       config.parameter_count());
  require<value_error>(subnet.shape() == subnetwork_shape(config),
                       "mark_active_parameters: the subnetwork's shape does not match the "
                       "configuration's (layers, heads, mlp_hidden)");
  subnet.validate("mark_active_parameters");  // indices are used as offsets
}
}  // namespace detail

}  // namespace est
