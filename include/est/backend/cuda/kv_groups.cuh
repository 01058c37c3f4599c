#pragma once
// Grouped-query attention's key/value expansion and its backward reduction on the GPU; same
// contract as the CPU kv_groups.hpp. group_of_head comes from the host: it is checked there
// (op_checks::kv_groups) and copied into the context's index scratch in stream order. The
// reduction gives each group's K and V gradient to one thread per element, which adds its heads
// in head order: deterministic, and the CPU's order of additions.
// Shapes: N rows (B*T), h query heads, g key/value groups, d head size;
// packed (N, (h + 2g)·d) = [Q | K | V], expanded (N, 3·h·d) = [Q | K | V].

#include <span>
#include <vector>

#include "est/backend/cuda/kernels.cuh"
#include "est/core/checks.hpp"
#include "est/core/op_checks.hpp"
#include "est/core/tensor.hpp"

namespace est {

namespace cuda_detail {

/// A device copy of `values` in the context's index scratch, in stream order.
inline const Index* upload_index_list(const Context<cuda>& ctx, std::span<const Index> values) {
  auto* device = static_cast<Index*>(
      ctx.scratch(Context<cuda>::Scratch::indices, sizeof(Index) * (values.size() + 1)));
  if (!values.empty()) {
    EST_CUDA_CHECK(cudaMemcpyAsync(device, values.data(), sizeof(Index) * values.size(),
                                   cudaMemcpyHostToDevice, ctx.stream()));
  }
  return device;
}

/// expanded[r, c] for c in [0, 3hd): Q copied, K and V of head i read from its group.
template <class T>
__global__ void expand_kv_kernel(T* expanded, Index e_stride, const T* packed, Index p_stride,
                                 const Index* group_of_head, Index n, Index h, Index g, Index d) {
  const Index hd = h * d, cols = 3 * hd;
  const Index idx = Index(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= n * cols) return;
  const Index r = idx / cols, c = idx % cols;
  Index src = c;  // Q
  if (c >= hd) {
    const Index part = c / hd - 1, within = c % hd;  // part 0: K, 1: V
    src = hd + part * g * d + group_of_head[within / d] * d + within % d;
  }
  expanded[r * e_stride + c] = packed[r * p_stride + src];
}

/// d_packed[r, c] for c in [0, (h + 2g)d): Q copied, each group's K and V the sum of its heads'
/// (heads first_head[j] .. first_head[j + 1] - 1 of group j), in head order.
template <class T>
__global__ void reduce_kv_kernel(T* d_packed, Index p_stride, const T* d_expanded,
                                 Index e_stride, const Index* first_head, Index n, Index h,
                                 Index g, Index d) {
  const Index hd = h * d, cols = hd + 2 * g * d;
  const Index idx = Index(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= n * cols) return;
  const Index r = idx / cols, c = idx % cols;
  const T* src = d_expanded + r * e_stride;
  T value;
  if (c < hd) {
    value = src[c];
  } else {
    const Index part = (c - hd) / (g * d), within = (c - hd) % (g * d);  // part 0: K, 1: V
    const Index group = within / d, j = within % d;
    const T* heads = src + (part + 1) * hd;
    value = T(0);
    for (Index i = first_head[group]; i < first_head[group + 1]; ++i) value += heads[i * d + j];
  }
  d_packed[r * p_stride + c] = value;
}

}  // namespace cuda_detail

/// expanded (N, 3hd) from packed (N, (h + 2g)d).
template <class T>
void expand_kv(const Context<cuda>& ctx, MatrixView<T, cuda> expanded,
               ConstMatrix<T, cuda> packed, std::span<const Index> group_of_head,
               Index head_dim) {
  const auto [N, h, g, d] = op_checks::kv_groups("expand_kv", expanded, packed, group_of_head,
                                                 head_dim);
  const Index* groups = cuda_detail::upload_index_list(ctx, group_of_head);
  const Index total = N * 3 * h * d;
  if (total == 0) return;
  cuda_detail::expand_kv_kernel<<<cuda_detail::blocks_for(total, 256), 256, 0, ctx.stream()>>>(
      expanded.data(), expanded.stride(), packed.data(), packed.stride(), groups, N, h, g, d);
  EST_CUDA_CHECK_LAUNCH();
}

/// d_packed (N, (h + 2g)d) (written) from d_expanded (N, 3hd): Q copied, each group's K and V
/// the sum of its heads'.
template <class T>
void reduce_kv(const Context<cuda>& ctx, MatrixView<T, cuda> d_packed,
               ConstMatrix<T, cuda> d_expanded, std::span<const Index> group_of_head,
               Index head_dim) {
  const auto [N, h, g, d] = op_checks::kv_groups("reduce_kv", d_expanded, d_packed, group_of_head,
                                                 head_dim);
  // group_of_head rises by 0 or 1 from 0 (checked): group j's heads are one contiguous range.
  std::vector<Index> first_head(std::size_t(g + 1), h);
  for (Index i = h; i-- > 0;) first_head[std::size_t(group_of_head[std::size_t(i)])] = i;
  const Index* starts = cuda_detail::upload_index_list(ctx, first_head);
  const Index total = N * (h + 2 * g) * d;
  if (total == 0) return;
  cuda_detail::reduce_kv_kernel<<<cuda_detail::blocks_for(total, 256), 256, 0, ctx.stream()>>>(
      d_packed.data(), d_packed.stride(), d_expanded.data(), d_expanded.stride(), starts, N, h, g,
      d);
  EST_CUDA_CHECK_LAUNCH();
}

}  // namespace est
