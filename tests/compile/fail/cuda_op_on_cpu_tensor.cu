// Must not compile: a CPU tensor handed to a CUDA op.
#include <est/backend/cuda.cuh>

void instantiate(const est::Context<est::cuda>& ctx, est::TensorView<float> x,
                 est::TensorView<float, est::cuda> out) {
  est::gelu_forward<float>(ctx, out, x);
}
