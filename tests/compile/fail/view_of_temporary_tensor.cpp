// Must not compile: a view of a temporary tensor would point into freed memory.
#include <est/core/tensor.hpp>

void instantiate() {
  est::TensorView<const float> view = est::Tensor<float>(est::Shape{4}).view();
  (void)view;
}
