#pragma once
// Reference grouped-query attention straight on the packed projection (N, (h + 2g)·d) =
// [Q (h heads) | K (g groups) | V (g groups)], query head i reading group group_of_head[i]: the
// independent twin of est's expand_kv + attention + reduce_kv (backend/cpu/kv_groups.hpp).
// Shapes: B batch, T sequence, d head size; out (B, T, h·d), probs (B, h, T, T).

#include <algorithm>
#include <cmath>
#include <span>
#include <vector>

#include "est/core/tensor.hpp"

namespace est::reference {

/// out (B, T, h·d) and probs (B, h, T, T) from packed (B, T, (h + 2g)·d), query head i
/// attending with group group_of_head[i]'s K and V: the twin of expand_kv followed by
/// attention_forward. Shapes are not checked.
template <class T>
void gqa_attention_forward(TensorView<T> out, TensorView<T> probs, ConstView<T> packed,
                           std::span<const Index> group_of_head, Index d) {
  const Index B = packed.dim(0), T_ = packed.dim(1), W = packed.dim(2);
  const Index h = std::ssize(group_of_head), g = (W / d - h) / 2;
  const T scale = T(1) / std::sqrt(T(d));
  auto q = [&](Index b, Index t, Index i) { return packed.data() + (b * T_ + t) * W + i * d; };
  auto k = [&](Index b, Index t, Index i) {
    return packed.data() + (b * T_ + t) * W + (h + group_of_head[std::size_t(i)]) * d;
  };
  auto v = [&](Index b, Index t, Index i) {
    return packed.data() + (b * T_ + t) * W + (h + g + group_of_head[std::size_t(i)]) * d;
  };
  for (Index b = 0; b < B; ++b)
    for (Index i = 0; i < h; ++i)
      for (Index t = 0; t < T_; ++t) {
        T* p = probs.data() + ((b * h + i) * T_ + t) * T_;
        T max = -INFINITY;
        for (Index t2 = 0; t2 <= t; ++t2) {
          T s = 0;
          for (Index j = 0; j < d; ++j) s += q(b, t, i)[j] * k(b, t2, i)[j];
          p[t2] = s * scale;
          max = std::max(max, p[t2]);
        }
        T sum = 0;
        for (Index t2 = 0; t2 <= t; ++t2) sum += (p[t2] = std::exp(p[t2] - max));
        for (Index t2 = 0; t2 <= t; ++t2) p[t2] /= sum;
        for (Index t2 = t + 1; t2 < T_; ++t2) p[t2] = 0;
        for (Index j = 0; j < d; ++j) {
          T o = 0;
          for (Index t2 = 0; t2 <= t; ++t2) o += p[t2] * v(b, t2, i)[j];
          out[(b * T_ + t) * h * d + i * d + j] = o;
        }
      }
}

/// d_packed (written) from d_out (B, T, h·d) and the forward's packed input and probs.
template <class T>
void gqa_attention_backward(TensorView<T> d_packed, ConstView<T> d_out, ConstView<T> packed,
                            ConstView<T> probs, std::span<const Index> group_of_head, Index d) {
  const Index B = packed.dim(0), T_ = packed.dim(1), W = packed.dim(2);
  const Index h = std::ssize(group_of_head), g = (W / d - h) / 2;
  const T scale = T(1) / std::sqrt(T(d));
  std::fill_n(d_packed.data(), d_packed.numel(), T(0));
  auto col = [&](Index part, Index i) {  // first column of Q head i, or of head i's K / V group
    return part == 0 ? i * d : (h + (part - 1) * g + group_of_head[std::size_t(i)]) * d;
  };
  auto at = [&](Index b, Index t) { return (b * T_ + t) * W; };
  for (Index b = 0; b < B; ++b)
    for (Index i = 0; i < h; ++i)
      for (Index t = 0; t < T_; ++t) {
        const T* p = probs.data() + ((b * h + i) * T_ + t) * T_;
        const T* dout = d_out.data() + (b * T_ + t) * h * d + i * d;
        std::vector<T> dp(static_cast<std::size_t>(t + 1));
        for (Index t2 = 0; t2 <= t; ++t2) {
          T s = 0;
          for (Index j = 0; j < d; ++j) {
            s += dout[j] * packed[at(b, t2) + col(2, i) + j];
            d_packed[at(b, t2) + col(2, i) + j] += p[t2] * dout[j];
          }
          dp[std::size_t(t2)] = s;
        }
        T dot = 0;
        for (Index t2 = 0; t2 <= t; ++t2) dot += p[t2] * dp[std::size_t(t2)];
        for (Index t2 = 0; t2 <= t; ++t2) {
          const T ds = p[t2] * (dp[std::size_t(t2)] - dot) * scale;
          for (Index j = 0; j < d; ++j) {
            d_packed[at(b, t) + col(0, i) + j] += ds * packed[at(b, t2) + col(1, i) + j];
            d_packed[at(b, t2) + col(1, i) + j] += ds * packed[at(b, t) + col(0, i) + j];
          }
        }
      }
}

}  // namespace est::reference
