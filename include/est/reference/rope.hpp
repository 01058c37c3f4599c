#pragma once
// Reference twin of est/backend/cpu/rope.hpp, written as Hugging Face writes it: out = x · cos +
// rotate_half(x) · sin with rotate_half(x) = [−x2, x1] and cos, sin repeated over both halves;
// the backward pass applies the transposed rotation matrix row by row.

#include <vector>

#include "est/core/tensor.hpp"

namespace est::reference {

/// Rotates heads [first, first + heads·d) of x (B, T, W) in place as Hugging Face writes it,
/// x · cos + rotate_half(x) · sin with tables cos, sin (P, d/2), P >= T: the twin of
/// ops/rope.hpp's rope_forward.
template <class T>
void rope_forward(TensorView<T> x, Index first, Index heads, Index d, ConstView<T> cos,
                  ConstView<T> sin) {
  const Index B = x.dim(0), T_ = x.dim(1), W = x.dim(2), half = d / 2;
  std::vector<T> head(static_cast<std::size_t>(d)), rotated(head.size());
  for (Index b = 0; b < B; ++b)
    for (Index t = 0; t < T_; ++t)
      for (Index h = 0; h < heads; ++h) {
        T* v = x.data() + (b * T_ + t) * W + first + h * d;
        for (Index i = 0; i < d; ++i) head[std::size_t(i)] = v[i];
        for (Index i = 0; i < d; ++i) {
          rotated[std::size_t(i)] = i < half ? -head[std::size_t(i + half)] : head[std::size_t(i - half)];
        }
        for (Index i = 0; i < d; ++i) {
          const T c = cos[t * half + i % half], s = sin[t * half + i % half];
          v[i] = head[std::size_t(i)] * c + rotated[std::size_t(i)] * s;
        }
      }
}

/// In place on a gradient: d_x = Rᵀ · d_out with R the forward's rotation as a d x d matrix:
/// the twin of rope_backward.
template <class T>
void rope_backward(TensorView<T> d_x, Index first, Index heads, Index d, ConstView<T> cos,
                   ConstView<T> sin) {
  const Index B = d_x.dim(0), T_ = d_x.dim(1), W = d_x.dim(2), half = d / 2;
  std::vector<T> g(static_cast<std::size_t>(d));
  for (Index b = 0; b < B; ++b)
    for (Index t = 0; t < T_; ++t)
      for (Index h = 0; h < heads; ++h) {
        T* v = d_x.data() + (b * T_ + t) * W + first + h * d;
        for (Index i = 0; i < d; ++i) g[std::size_t(i)] = v[i];
        // R (d, d): R[i][i] = cos, R[i][i+half] = −sin, R[i+half][i+half] = cos,
        // R[i+half][i] = sin.
        // d_x[j] = Σ_i R[i][j] · g[i].
        for (Index j = 0; j < d; ++j) {
          T sum = 0;
          for (Index i = 0; i < d; ++i) {
            const T c = cos[t * half + i % half], s = sin[t * half + i % half];
            T r = 0;
            if (i == j) r = c;
            else if (i < half && j == i + half) r = -s;
            else if (i >= half && j == i - half) r = s;
            sum += r * g[std::size_t(i)];
          }
          v[j] = sum;
        }
      }
}

}  // namespace est::reference
