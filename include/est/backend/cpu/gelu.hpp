#pragma once
// GELU with GPT-2's tanh approximation:
// gelu(x) = x/2 · (1 + tanh(√(2/π) · (x + 0.044715 x³))).

#include "est/backend/cpu/arrays.hpp"
#include "est/backend/cpu/parallel.hpp"
#include "est/core/tensor.hpp"

namespace est {

namespace cpu_detail {
template <class T>
inline constexpr T gelu_k = T(0.7978845608028654);  // √(2/π)
template <class T>
inline constexpr T gelu_c = T(0.044715);
}  // namespace cpu_detail

/// out (n) = gelu(x (n)); any shape, same for both.
template <class T>
void gelu_forward(const Context<cpu>& ctx, TensorView<T> out, ConstView<T> x) {
  require<shape_error>(out.numel() == x.numel(), "gelu_forward: out has ", out.numel(),
                       " elements, x has ", x.numel());
  using namespace cpu_detail;
  parallel_blocks(ctx, x.numel(), [&](Index begin, Index size) {
    const ConstRowArray<T> xs(x.data() + begin, size);
    RowArray<T>(out.data() + begin, size) =
        T(0.5) * xs * (T(1) + (gelu_k<T> * (xs + gelu_c<T> * xs.cube())).tanh());
  });
}

/// d_x (n) = gelu'(x) · d_out (written, not accumulated).
template <class T>
void gelu_backward(const Context<cpu>& ctx, TensorView<T> d_x, ConstView<T> x,
                   ConstView<T> d_out) {
  require<shape_error>(d_x.numel() == x.numel() && d_out.numel() == x.numel(),
                       "gelu_backward: d_x, x and d_out must have the same size, got ",
                       d_x.numel(), ", ", x.numel(), " and ", d_out.numel());
  using namespace cpu_detail;
  parallel_blocks(ctx, x.numel(), [&](Index begin, Index size) {
    const ConstRowArray<T> xs(x.data() + begin, size), dy(d_out.data() + begin, size);
    const auto th = (gelu_k<T> * (xs + gelu_c<T> * xs.cube())).tanh().eval();
    const auto inner_grad = gelu_k<T> * (T(1) + T(3) * gelu_c<T> * xs.square());
    RowArray<T>(d_x.data() + begin, size) =
        (T(0.5) * (T(1) + th) + T(0.5) * xs * (T(1) - th.square()) * inner_grad) * dy;
  });
}

}  // namespace est
