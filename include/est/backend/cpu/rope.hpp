#pragma once
// Rotary position embeddings in place, Hugging Face's rotate-half convention: within each head
// of size d, element i pairs with element i + d/2 and the pair turns by the angle of its
// position t (tables from est/ops/rope_table.hpp):
//   x'[i]       = x[i] · cos − x[i + d/2] · sin
//   x'[i + d/2] = x[i + d/2] · cos + x[i] · sin
// The backward pass is the inverse rotation (sin negated). The heads are the columns
// [first, first + heads·d) of x (B, T, W), so Q and K inside a fused projection rotate in place.
// Shapes: B batch, T sequence (position of row (b, t) is t), W columns, d head size, P >= T.

#include "est/backend/cpu/parallel.hpp"
#include "est/core/op_checks.hpp"
#include "est/core/tensor.hpp"

namespace est {

namespace cpu_detail {
template <class T>
void rope_rotate(const Context<cpu>& ctx, TensorView<T> x, Index first, Index heads, Index d,
                 ConstView<T> cos, ConstView<T> sin, T direction, const char* op) {
  const auto dims = op_checks::rope(op, x.shape(), first, heads, d, cos.shape(), sin.shape());
  parallel_for(ctx, dims.B * dims.T, [&](Index bt) {
    const Index t = bt % dims.T, half = dims.half;
    const T* c = cos.data() + t * half;
    const T* s = sin.data() + t * half;
    T* row = x.data() + bt * dims.width + first;
    for (Index h = 0; h < heads; ++h) {
      T* lo = row + h * d;
      T* hi = lo + half;
      for (Index i = 0; i < half; ++i) {
        const T a = lo[i], b = hi[i], sn = direction * s[i];
        lo[i] = a * c[i] - b * sn;
        hi[i] = b * c[i] + a * sn;
      }
    }
  });
}
}  // namespace cpu_detail

/// Rotates heads [first, first + heads·d) of x (B, T, W) by their positions' angles.
template <class T>
void rope_forward(const Context<cpu>& ctx, TensorView<T> x, Index first, Index heads,
                  Index head_dim, ConstView<T> cos, ConstView<T> sin) {
  cpu_detail::rope_rotate<T>(ctx, x, first, heads, head_dim, cos, sin, T(1), "rope_forward");
}

/// In place on a gradient: d_x = Rᵀ · d_out, the inverse rotation.
template <class T>
void rope_backward(const Context<cpu>& ctx, TensorView<T> d_x, Index first, Index heads,
                   Index head_dim, ConstView<T> cos, ConstView<T> sin) {
  cpu_detail::rope_rotate<T>(ctx, d_x, first, heads, head_dim, cos, sin, T(-1), "rope_backward");
}

}  // namespace est
