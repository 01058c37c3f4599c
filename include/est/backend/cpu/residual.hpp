#pragma once
// Residual connection: out = a + s·b (s = 1 unless a branch is rescaled). Its backward hands
// d_out to a and s·d_out to b.

#include "est/backend/cpu/arrays.hpp"
#include "est/backend/cpu/parallel.hpp"
#include "est/core/tensor.hpp"

namespace est {

/// out (n) = a (n) + `scale`·b (n); with `scale` 1 exactly a + b. Throws shape_error unless
/// the three have the same size.
template <class T>
void residual_forward(const Context<cpu>& ctx, TensorView<T> out, ConstView<T> a,
                      ConstView<T> b, T scale = T(1)) {
  require<shape_error>(out.numel() == a.numel() && b.numel() == a.numel(),
                       "residual_forward: out, a and b must have the same size, got ",
                       out.numel(), ", ", a.numel(), " and ", b.numel());
  using namespace cpu_detail;
  parallel_blocks(ctx, a.numel(), [&](Index begin, Index size) {
    if (scale == T(1)) {
      RowArray<T>(out.data() + begin, size) =
          ConstRowArray<T>(a.data() + begin, size) + ConstRowArray<T>(b.data() + begin, size);
    } else {
      RowArray<T>(out.data() + begin, size) =
          ConstRowArray<T>(a.data() + begin, size) +
          scale * ConstRowArray<T>(b.data() + begin, size);
    }
  });
}

/// out (n) = `scale`·x (n): the gradient that reaches a branch which residual_forward scaled.
/// Throws shape_error unless out and x have the same size.
template <class T>
void scaled_copy(const Context<cpu>& ctx, TensorView<T> out, ConstView<T> x, T scale) {
  require<shape_error>(out.numel() == x.numel(), "scaled_copy: out and x must have the same "
                       "size, got ", out.numel(), " and ", x.numel());
  using namespace cpu_detail;
  parallel_blocks(ctx, x.numel(), [&](Index begin, Index size) {
    RowArray<T>(out.data() + begin, size) = scale * ConstRowArray<T>(x.data() + begin, size);
  });
}

/// d_a (n) += d_out; d_b (n) += d_out.
template <class T>
void residual_backward(const Context<cpu>& ctx, TensorView<T> d_a, TensorView<T> d_b,
                       ConstView<T> d_out) {
  require<shape_error>(d_a.numel() == d_out.numel() && d_b.numel() == d_out.numel(),
                       "residual_backward: d_a, d_b and d_out must have the same size, got ",
                       d_a.numel(), ", ", d_b.numel(), " and ", d_out.numel());
  using namespace cpu_detail;
  parallel_blocks(ctx, d_out.numel(), [&](Index begin, Index size) {
    const ConstRowArray<T> dy(d_out.data() + begin, size);
    RowArray<T>(d_a.data() + begin, size) += dy;
    RowArray<T>(d_b.data() + begin, size) += dy;
  });
}

}  // namespace est
