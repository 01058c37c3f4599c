#pragma once
// Rotary position embeddings in place on the GPU, one thread per rotated pair; same contract
// (Hugging Face's rotate-half convention) as the CPU rope.hpp. The backward pass is the inverse
// rotation (sin negated).
// Shapes: B batch, T sequence (position of row (b, t) is t), W columns, d head size, P >= T.

#include "est/backend/cuda/kernels.cuh"
#include "est/core/op_checks.hpp"
#include "est/core/tensor.hpp"

namespace est {

namespace cuda_detail {

/// Pair (lo, hi) = (i, i + d/2) of head h in row bt turns by the angle of position bt % T.
template <class T>
__global__ void rope_kernel(T* x, Index width, Index first, Index heads, Index d, Index seq,
                            const T* cos, const T* sin, T direction, Index pairs) {
  const Index idx = Index(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= pairs) return;
  const Index half = d / 2, per_row = heads * half;
  const Index bt = idx / per_row, rem = idx % per_row;
  const Index h = rem / half, i = rem % half, t = bt % seq;
  T* lo = x + bt * width + first + h * d + i;
  T* hi = lo + half;
  const T c = cos[t * half + i], sn = direction * sin[t * half + i];
  const T a = *lo, b = *hi;
  *lo = a * c - b * sn;
  *hi = b * c + a * sn;
}

template <class T>
void rope_rotate(const Context<cuda>& ctx, TensorView<T, cuda> x, Index first, Index heads,
                 Index d, ConstView<T, cuda> cos, ConstView<T, cuda> sin, T direction,
                 const char* op) {
  const auto dims = op_checks::rope(op, x.shape(), first, heads, d, cos.shape(), sin.shape());
  const Index pairs = dims.B * dims.T * heads * dims.half;
  if (pairs == 0) return;
  rope_kernel<<<blocks_for(pairs, 256), 256, 0, ctx.stream()>>>(
      x.data(), dims.width, first, heads, d, dims.T, cos.data(), sin.data(), direction, pairs);
  EST_CUDA_CHECK_LAUNCH();
}

}  // namespace cuda_detail

/// Rotates heads [first, first + heads·d) of x (B, T, W) by their positions' angles.
template <class T>
void rope_forward(const Context<cuda>& ctx, TensorView<T, cuda> x, Index first, Index heads,
                  Index head_dim, ConstView<T, cuda> cos, ConstView<T, cuda> sin) {
  cuda_detail::rope_rotate<T>(ctx, x, first, heads, head_dim, cos, sin, T(1), "rope_forward");
}

/// In place on a gradient: d_x = Rᵀ · d_out, the inverse rotation.
template <class T>
void rope_backward(const Context<cuda>& ctx, TensorView<T, cuda> d_x, Index first, Index heads,
                   Index head_dim, ConstView<T, cuda> cos, ConstView<T, cuda> sin) {
  cuda_detail::rope_rotate<T>(ctx, d_x, first, heads, head_dim, cos, sin, T(-1),
                              "rope_backward");
}

}  // namespace est
