#pragma once
// Filling and copying whole tensors. The CUDA backend has the same ops (plus copies between
// host and device), so device-generic code such as the models zeroes and copies through them.

#include <algorithm>

#include "est/core/context.hpp"
#include "est/core/tensor.hpp"

namespace est {

/// Sets every element of `out` to zero.
template <class T>
void fill_zero(const Context<cpu>&, TensorView<T> out) {
  std::fill_n(out.data(), out.numel(), T(0));
}

/// dst = src (same number of elements).
template <class T>
void copy(const Context<cpu>&, TensorView<T> dst, ConstView<T> src) {
  require<shape_error>(dst.numel() == src.numel(), "copy: destination has ", dst.numel(),
                       " elements, source ", src.numel());
  std::copy_n(src.data(), src.numel(), dst.data());
}

}  // namespace est
