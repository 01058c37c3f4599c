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
enum class InactiveParameters { frozen, zero_grad, mixed };
/// @var InactiveParameters::frozen
/// Not updated at all: no weight decay, moments kept, and each element's own step count (which
/// sets its bias correction) does not advance. PyTorch does this for a parameter whose grad is
/// None.
/// @var InactiveParameters::zero_grad
/// A normal AdamW step with g = 0: the moments decay, the momentum still moves the parameter,
/// weight decay applies (what a masked dense implementation does).
/// @var InactiveParameters::mixed
/// Zero-grad for the heads and neurons a step did not sample inside its active layers, frozen
/// for the layers it skipped: what a slicing implementation in a dynamic framework most likely
/// does (an active layer's tensors all get a gradient, zero where nothing was sampled; a
/// skipped layer's get none). The update kernels see it as frozen with a mask that marks whole
/// active layers (SlicePlan::whole_layers): an unsampled unit's gradient is exactly zero, so
/// marking it active gives it the zero-grad step.

/// One tensor's share of an AdamW step: what the per-device update kernels receive. Every
/// pointer addresses `size` elements in the memory of the device the update runs on, except the
/// correction tables, which are host memory.
template <class T>
struct AdamWSlice {
  T* params;                   ///< the parameters, updated in place
  const T* grads;              ///< their gradients
  T* m;                        ///< first moments, updated in place
  T* v;                        ///< second moments, updated in place
  const std::uint8_t* active;  ///< 1 = trained this step; null: every element is active
  std::int32_t* counts;        ///< per-element step counts (frozen mode, from the first masked
                               ///< step on), each advanced by its element's update; or null
  Index size;                  ///< the number of elements
  T beta1, beta2, eps, rate, decay;
  /// @var beta1
  /// β1, the first moment's decay.
  /// @var beta2
  /// β2, the second moment's decay.
  /// @var eps
  /// ε, added to the root of the corrected second moment.
  /// @var rate
  /// The learning rate of this step.
  /// @var decay
  /// The weight decay λ (0 for tensors that do not decay); the step subtracts rate·λ·p.
  bool frozen;                 ///< inactive elements are skipped (else: a step with g = 0)
  T c1, c2;                    // bias corrections at the shared count t
  /// @var c1
  /// 1/(1-β1^t), the first moment's bias correction at the shared count t.
  /// @var c2
  /// 1/(1-β2^t), the second moment's bias correction at the shared count t.

  /// Host table whose entry t (1 <= t <= the step count) is 1/(1-β1^t); the CPU update and the
  /// reference read it when a mask or per-element counts are given.
  const T* c1_table;
  /// Host table whose entry t is 1/(1-β2^t), as `c1_table`.
  const T* c2_table;
  long long t;                 ///< the shared step count, counting this step
};

}  // namespace est
