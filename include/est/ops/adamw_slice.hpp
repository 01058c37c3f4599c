#pragma once
// The AdamW update op: what one tensor's share of an AdamW step hands the device kernels
// (backend/cpu/adamw.hpp, backend/cuda/adamw.cuh; the plain twin is reference/adamw.hpp).
// train/adamw.hpp describes the rule and owns the state; per element i:
//
//   if inactive and frozen: nothing
//   g = active ? grads[i] : 0;  t = counts ? ++counts[i] : t;  c1, c2 = 1/(1-β1^t), 1/(1-β2^t)
//   m = β1·m + (1-β1)·g;  v = β2·v + (1-β2)·g²;  p -= rate · ((m·c1) / (sqrt(v·c2) + ε) + decay·p)

#include <cstdint>

#include "est/core/shape.hpp"

namespace est {

/// What an optimizer step does to parameters outside the step's subnetwork (train/adamw.hpp).
enum class InactiveParameters { frozen, zero_grad };

/// One tensor's share of an AdamW step: what the per-device update kernels receive.
template <class T>
struct AdamWSlice {
  T* params;
  const T* grads;
  T* m;
  T* v;
  const std::uint8_t* active;  // 1 = trained this step; null: every element is active
  std::int32_t* counts;        // per-element step counts (frozen mode after masking), or null
  Index size;
  T beta1, beta2, eps, rate, decay;
  bool frozen;                 // inactive elements are skipped (else: a step with g = 0)
  T c1, c2;                    // bias corrections at the shared count t
  const T* c1_table;           // host tables of 1/(1-β^t), t = 0..steps (CPU update)
  const T* c2_table;
  long long t;                 // the shared step count
};

}  // namespace est
