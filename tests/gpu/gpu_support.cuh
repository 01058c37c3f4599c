#pragma once
// Helpers for the GPU tests: moving test tensors between host and device, poisoning device
// outputs with NaN (so an element an op should have written but did not is caught), and the
// tolerances of the CUDA backend against the CPU backend.

#include <cmath>
#include <limits>
#include <vector>

#include <est/backend/cuda.cuh>

#include "../support/test_support.hpp"

namespace est::testing {

/// A device copy of a host tensor.
template <class T>
Tensor<T, cuda> upload(const Context<cuda>& ctx, const Tensor<T>& host) {
  Tensor<T, cuda> device(host.shape());
  copy(ctx, device.view(), host.view());
  return device;
}

/// A host copy of a device tensor or view.
template <class T>
Tensor<std::remove_const_t<T>> download(const Context<cuda>& ctx, TensorView<T, cuda> device) {
  Tensor<std::remove_const_t<T>> host(device.shape());
  copy(ctx, host.view(), device);
  return host;
}
template <class T>
Tensor<T> download(const Context<cuda>& ctx, const Tensor<T, cuda>& device) {
  return download(ctx, device.view());
}

/// A device tensor filled with NaN (integers: the byte pattern 0xAB).
template <class T>
Tensor<T, cuda> poisoned(const Context<cuda>& ctx, Shape shape) {
  if constexpr (std::is_floating_point_v<T>) {
    return upload(ctx, nan_tensor<T>(shape));
  } else {
    Tensor<T> t(shape);
    std::fill_n(t.data(), t.numel(), T(0xAB));
    return upload(ctx, t);
  }
}

/// GPU against CPU: FP32 1e-5 relative (the issue's bound), double 1e-10.
template <class T>
constexpr double gpu_tolerance() {
  return std::is_same_v<T, double> ? 1e-10 : 1e-5;
}

}  // namespace est::testing
