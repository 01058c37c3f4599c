#pragma once
// The AdamW update of one arena slice on the CPU (ops/adamw.hpp states the op). Each element is
// updated on its own, so the result is bit for bit the same on any thread count.

#include <cmath>
#include <cstdint>

#include "est/backend/cpu/parallel.hpp"
#include "est/core/context.hpp"
#include "est/ops/adamw_slice.hpp"

namespace est {

/// The CPU update of one slice (the CUDA backend has the same op for device slices).
template <class T>
void adamw_update(const Context<cpu>& ctx, const AdamWSlice<T>& s) {
  T* p = s.params;
  const T* g = s.grads;
  T* m = s.m;
  T* v = s.v;
  const T b1 = s.beta1, b2 = s.beta2, eps = s.eps, rate = s.rate, decay = s.decay;
  if (s.active == nullptr && s.counts == nullptr) {  // every element active, one shared count
    const T c1 = s.c1, c2 = s.c2;
    cpu_detail::parallel_blocks(ctx, s.size, [&](Index begin, Index size) {
      for (Index i = begin; i < begin + size; ++i) {
        m[i] = b1 * m[i] + (T(1) - b1) * g[i];
        v[i] = b2 * v[i] + (T(1) - b2) * g[i] * g[i];
        const T update = (m[i] * c1) / (std::sqrt(v[i] * c2) + eps) + decay * p[i];
        p[i] -= rate * update;
      }
    });
    return;
  }
  const std::uint8_t* on = s.active;
  std::int32_t* count = s.counts;
  cpu_detail::parallel_blocks(ctx, s.size, [&](Index begin, Index size) {
    for (Index i = begin; i < begin + size; ++i) {
      const bool is_active = on == nullptr || on[i] != 0;
      if (!is_active && s.frozen) continue;
      const T grad = is_active ? g[i] : T(0);
      // Frozen elements carry their own step count; otherwise all share t.
      const std::size_t t = count ? static_cast<std::size_t>(++count[i])
                                  : static_cast<std::size_t>(s.t);
      m[i] = b1 * m[i] + (T(1) - b1) * grad;
      v[i] = b2 * v[i] + (T(1) - b2) * grad * grad;
      const T update = (m[i] * s.c1_table[t]) / (std::sqrt(v[i] * s.c2_table[t]) + eps) +
                       decay * p[i];
      p[i] -= rate * update;
    }
  });
}

}  // namespace est
