// Must not compile: a CUDA tensor handed to a CPU op (views of GPU memory can exist in CPU-only
// code; their device is part of their type).
#include <est/backend/cpu/gelu.hpp>

void instantiate(const est::Context<est::cpu>& ctx, est::TensorView<float, est::cuda> x,
                 est::TensorView<float> out) {
  est::gelu_forward<float>(ctx, out, x);
}
