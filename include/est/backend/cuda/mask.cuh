#pragma once
// The active mask of a step on the GPU: the same bytes as the CPU's write_active_mask
// (backend/cpu/mask.hpp), written into a device arena by kernels, so a training step never
// builds or copies a byte per parameter on the host. The host turns each index list of the
// slice plan into a small byte mask over its extent (the Q/K/V columns of the active heads, the
// rows of W_O, the active neurons, ...) and copies them over in one transfer; every sliced
// tensor's mask is one of them broadcast along its rows or columns.

#include <algorithm>
#include <cstdint>
#include <vector>

#include "est/backend/cuda/kernels.cuh"
#include "est/core/tensor.hpp"
#include "est/subnet/slice_plan.hpp"

namespace est {

namespace cuda_detail {

/// out (rows, cols) = column_mask[c] (when given) AND row_mask[r] (when given).
template <class = void>
__global__ void broadcast_mask_kernel(std::uint8_t* out, Index rows, Index cols,
                                             const std::uint8_t* column_mask,
                                             const std::uint8_t* row_mask) {
  const Index i = Index(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= rows * cols) return;
  const Index r = i / cols, c = i % cols;
  out[i] = (column_mask ? column_mask[c] : 1) & (row_mask ? row_mask[r] : 1);
}

inline void broadcast_mask(const Context<cuda>& ctx, TensorView<std::uint8_t, cuda> out,
                           Index rows, const std::uint8_t* column_mask,
                           const std::uint8_t* row_mask) {
  const Index n = out.numel();
  if (n == 0) return;
  broadcast_mask_kernel<><<<blocks_for(n, 256), 256, 0, ctx.stream()>>>(out.data(), rows, n / rows,
                                                                     column_mask, row_mask);
  EST_CUDA_CHECK_LAUNCH();
}

inline void fill_mask(const Context<cuda>& ctx, TensorView<std::uint8_t, cuda> out,
                      std::uint8_t value) {
  if (out.numel() == 0) return;
  EST_CUDA_CHECK(cudaMemsetAsync(out.data(), value, std::size_t(out.numel()), ctx.stream()));
}

}  // namespace cuda_detail

/// mask (P) = 1 for every element `plan` trains, 0 for every other, on the device.
inline void write_active_mask(const Context<cuda>& ctx, const SlicePlan& plan,
                              TensorView<std::uint8_t, cuda> mask) {
  require<shape_error>(mask.numel() == plan.parameter_count(), "write_active_mask: mask has ",
                       mask.numel(), " elements, the slice plan covers ", plan.parameter_count());
  plan.validate("write_active_mask", mask.numel());
  // Every index list as a byte mask over its extent, back to back.
  std::vector<Index> starts;
  Index total = 0;
  for (int l = 0; l < plan.list_count(); ++l) {
    starts.push_back(total);
    total += plan.extent(l);
  }
  std::vector<std::uint8_t> host(std::size_t(total), 0);
  for (int l = 0; l < plan.list_count(); ++l) {
    for (const Index i : plan.list(l)) host[std::size_t(starts[std::size_t(l)] + i)] = 1;
  }
  auto* device = static_cast<std::uint8_t*>(
      ctx.scratch(Context<cuda>::Scratch::masks, std::max<std::size_t>(host.size(), 1)));
  if (!host.empty()) {
    EST_CUDA_CHECK(cudaMemcpyAsync(device, host.data(), host.size(), cudaMemcpyHostToDevice,
                                   ctx.stream()));
  }
  for (const TensorSlice& t : plan.tensors()) {
    TensorView<std::uint8_t, cuda> out(mask.data() + t.offset, {t.rows * t.cols});
    const std::uint8_t* list = t.list >= 0 ? device + starts[std::size_t(t.list)] : nullptr;
    switch (t.kind) {
      case SliceKind::all: cuda_detail::fill_mask(ctx, out, 1); break;
      case SliceKind::none: cuda_detail::fill_mask(ctx, out, 0); break;
      case SliceKind::columns: cuda_detail::broadcast_mask(ctx, out, t.rows, list, nullptr); break;
      case SliceKind::rows: cuda_detail::broadcast_mask(ctx, out, t.rows, nullptr, list); break;
    }
  }
}

}  // namespace est
