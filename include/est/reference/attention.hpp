#pragma once
// Reference twin of est/backend/cpu/attention.hpp: scores, causal softmax and weighted sums as
// explicit loops over (b, h, t, t2, i).

#include <algorithm>
#include <cmath>
#include <vector>

#include "est/core/tensor.hpp"

namespace est::reference {

/// out (B, T, C) and probs (B, H, T, T) from qkv (B, T, 3C) over `heads` heads, by explicit
/// loops: the twin of ops/attention.hpp's attention_forward. Shapes are not checked.
template <class T>
void attention_forward(TensorView<T> out, TensorView<T> probs, ConstView<T> qkv, Index heads) {
  const Index B = qkv.dim(0), T_ = qkv.dim(1), C = qkv.dim(2) / 3, H = heads, d = C / H;
  const T scale = T(1) / std::sqrt(T(d));
  auto q = [&](Index b, Index t, Index h, Index i) { return qkv[(b * T_ + t) * 3 * C + h * d + i]; };
  auto k = [&](Index b, Index t, Index h, Index i) { return qkv[(b * T_ + t) * 3 * C + C + h * d + i]; };
  auto v = [&](Index b, Index t, Index h, Index i) { return qkv[(b * T_ + t) * 3 * C + 2 * C + h * d + i]; };
  for (Index b = 0; b < B; ++b)
    for (Index h = 0; h < H; ++h)
      for (Index t = 0; t < T_; ++t) {
        T* p = probs.data() + ((b * H + h) * T_ + t) * T_;
        T max = -INFINITY;
        for (Index t2 = 0; t2 <= t; ++t2) {
          T s = 0;
          for (Index i = 0; i < d; ++i) s += q(b, t, h, i) * k(b, t2, h, i);
          p[t2] = s * scale;
          max = std::max(max, p[t2]);
        }
        T sum = 0;
        for (Index t2 = 0; t2 <= t; ++t2) sum += (p[t2] = std::exp(p[t2] - max));
        for (Index t2 = 0; t2 <= t; ++t2) p[t2] /= sum;
        for (Index t2 = t + 1; t2 < T_; ++t2) p[t2] = 0;
        for (Index i = 0; i < d; ++i) {
          T o = 0;
          for (Index t2 = 0; t2 <= t; ++t2) o += p[t2] * v(b, t2, h, i);
          out[(b * T_ + t) * C + h * d + i] = o;
        }
      }
}

/// d_qkv (B, T, 3C) (written) from d_out (B, T, C) and the forward's qkv and probs: the twin
/// of attention_backward. Shapes are not checked.
template <class T>
void attention_backward(TensorView<T> d_qkv, ConstView<T> d_out, ConstView<T> qkv,
                        ConstView<T> probs, Index heads) {
  const Index B = qkv.dim(0), T_ = qkv.dim(1), C = qkv.dim(2) / 3, H = heads, d = C / H;
  const T scale = T(1) / std::sqrt(T(d));
  for (Index i = 0; i < d_qkv.numel(); ++i) d_qkv[i] = 0;
  auto at = [&](Index b, Index t, Index part, Index h, Index i) {
    return (b * T_ + t) * 3 * C + part * C + h * d + i;
  };
  for (Index b = 0; b < B; ++b)
    for (Index h = 0; h < H; ++h)
      for (Index t = 0; t < T_; ++t) {
        const T* p = probs.data() + ((b * H + h) * T_ + t) * T_;
        const T* dout = d_out.data() + (b * T_ + t) * C + h * d;
        // ∂loss/∂p[t2] = dout · v[t2]; V gets p[t2] · dout.
        std::vector<T> dp(static_cast<std::size_t>(t + 1));
        for (Index t2 = 0; t2 <= t; ++t2) {
          T s = 0;
          for (Index i = 0; i < d; ++i) {
            s += dout[i] * qkv[at(b, t2, 2, h, i)];
            d_qkv[at(b, t2, 2, h, i)] += p[t2] * dout[i];
          }
          dp[t2] = s;
        }
        // Through the softmax: ∂loss/∂score[t2] = p[t2] (dp[t2] - Σ p dp).
        T dot = 0;
        for (Index t2 = 0; t2 <= t; ++t2) dot += p[t2] * dp[t2];
        for (Index t2 = 0; t2 <= t; ++t2) {
          const T ds = p[t2] * (dp[t2] - dot) * scale;
          for (Index i = 0; i < d; ++i) {
            d_qkv[at(b, t, 0, h, i)] += ds * qkv[at(b, t2, 1, h, i)];
            d_qkv[at(b, t2, 1, h, i)] += ds * qkv[at(b, t, 0, h, i)];
          }
        }
      }
}

}  // namespace est::reference
