#pragma once
// The AdamW update of one arena slice on the GPU (ops/adamw.hpp states the op; train/adamw.hpp
// describes the rule and the frozen / zero_grad treatment of inactive elements).

#include <cmath>
#include <cstdint>

#include "est/backend/cuda/kernels.cuh"
#include "est/core/tensor.hpp"
#include "est/ops/adamw_slice.hpp"

namespace est {

namespace cuda_detail {

template <class T>
__global__ void adamw_kernel(AdamWSlice<T> s) {
  const Index i = Index(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= s.size) return;
  const bool is_active = s.active == nullptr || s.active[i] != 0;
  if (!is_active && s.frozen) return;
  const T grad = is_active ? s.grads[i] : T(0);
  T c1 = s.c1, c2 = s.c2;
  if (s.counts) {
    // The element's own count: the corrections in double rounded to T, as the host tables are.
    const int t = ++s.counts[i];
    c1 = T(1.0 / (1.0 - pow(double(s.beta1), double(t))));
    c2 = T(1.0 / (1.0 - pow(double(s.beta2), double(t))));
  }
  const T m = s.beta1 * s.m[i] + (T(1) - s.beta1) * grad;
  const T v = s.beta2 * s.v[i] + (T(1) - s.beta2) * grad * grad;
  s.m[i] = m;
  s.v[i] = v;
  const T p = s.params[i];
  const T update = (m * c1) / (sqrt(v * c2) + s.eps) + s.decay * p;
  s.params[i] = p - s.rate * update;
}

}  // namespace cuda_detail

/// The AdamW update of one device slice.
template <class T>
void adamw_update(const Context<cuda>& ctx, const AdamWSlice<T>& slice) {
  if (slice.size == 0) return;
  cuda_detail::adamw_kernel<T><<<cuda_detail::blocks_for(slice.size, 256), 256, 0,
                                 ctx.stream()>>>(slice);
  EST_CUDA_CHECK_LAUNCH();
}

}  // namespace est
