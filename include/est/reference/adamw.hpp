#pragma once
// Reference twin of the AdamW update op (ops/adamw.hpp; backend/cpu/adamw.hpp): one element
// after another, the rule written out once, for every combination of mask, per-element counts
// and frozen / zero_grad.

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "est/ops/adamw_slice.hpp"

namespace est::reference {

/// The AdamW update of one slice in host memory, one element after another: the twin of
/// ops/adamw.hpp's adamw_update (the rule is in ops/adamw_slice.hpp).
template <class T>
void adamw_update(const AdamWSlice<T>& s) {
  for (Index i = 0; i < s.size; ++i) {
    const bool active = s.active == nullptr || s.active[i] != 0;
    if (!active && s.frozen) continue;  // no decay, no moment change, no count
    const T grad = active ? s.grads[i] : T(0);
    T c1 = s.c1, c2 = s.c2;  // the shared count's corrections
    if (s.counts != nullptr) {
      const auto t = static_cast<std::size_t>(++s.counts[i]);
      c1 = s.c1_table[t];
      c2 = s.c2_table[t];
    } else if (s.active != nullptr) {
      c1 = s.c1_table[static_cast<std::size_t>(s.t)];
      c2 = s.c2_table[static_cast<std::size_t>(s.t)];
    }
    s.m[i] = s.beta1 * s.m[i] + (T(1) - s.beta1) * grad;
    s.v[i] = s.beta2 * s.v[i] + (T(1) - s.beta2) * grad * grad;
    const T adam = (s.m[i] * c1) / (std::sqrt(s.v[i] * c2) + s.eps);
    s.params[i] -= s.rate * (adam + s.decay * s.params[i]);
  }
}

}  // namespace est::reference
