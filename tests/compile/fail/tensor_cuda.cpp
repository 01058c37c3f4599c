// Must not compile: CUDA tensor storage without including the CUDA backend.
#include <est/core/tensor.hpp>

void instantiate() { [[maybe_unused]] est::Tensor<float, est::cuda> t; }
