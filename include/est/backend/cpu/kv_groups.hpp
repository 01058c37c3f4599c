#pragma once
// Grouped-query attention through the multi-head attention op: the projection computes Q for h
// query heads and K, V for g key/value groups, packed (N, (h + 2g)·d) = [Q | K | V]; expansion
// copies each query head's group into a multi-head (N, 3·h·d) = [Q | K | V] layout, and the
// backward reduction adds the h heads' K and V gradients back into their g groups (in head
// order: deterministic). group_of_head (h) maps query head i to its group, ascending.
// Shapes: N rows (B*T), d head size.

#include <algorithm>
#include <span>

#include "est/backend/cpu/parallel.hpp"
#include "est/core/op_checks.hpp"
#include "est/core/tensor.hpp"

namespace est {

/// expanded (N, 3hd) from packed (N, (h + 2g)d).
template <class T>
void expand_kv(const Context<cpu>& ctx, MatrixView<T> expanded, ConstMatrix<T> packed,
               std::span<const Index> group_of_head, Index head_dim) {
  const auto [N, h, g, d] = op_checks::kv_groups("expand_kv", expanded, packed, group_of_head,
                                                 head_dim);
  cpu_detail::parallel_for(ctx, N, [&, h = h, g = g, d = d](Index r) {
    const T* src = &packed(r, 0);
    T* dst = &expanded(r, 0);
    std::copy_n(src, h * d, dst);
    for (Index part = 1; part <= 2; ++part) {  // K, then V
      const T* groups = src + h * d + (part - 1) * g * d;
      T* heads = dst + part * h * d;
      for (Index i = 0; i < h; ++i) std::copy_n(groups + group_of_head[i] * d, d, heads + i * d);
    }
  });
}

/// d_packed (N, (h + 2g)d) (written) from d_expanded (N, 3hd): Q copied, each group's K and V
/// the sum of its heads'.
template <class T>
void reduce_kv(const Context<cpu>& ctx, MatrixView<T> d_packed, ConstMatrix<T> d_expanded,
               std::span<const Index> group_of_head, Index head_dim) {
  const auto [N, h, g, d] = op_checks::kv_groups("reduce_kv", d_expanded, d_packed, group_of_head,
                                                 head_dim);
  cpu_detail::parallel_for(ctx, N, [&, h = h, g = g, d = d](Index r) {
    const T* src = &d_expanded(r, 0);
    T* dst = &d_packed(r, 0);
    std::copy_n(src, h * d, dst);
    std::fill_n(dst + h * d, 2 * g * d, T(0));
    for (Index part = 1; part <= 2; ++part) {
      T* groups = dst + h * d + (part - 1) * g * d;
      const T* heads = src + part * h * d;
      for (Index i = 0; i < h; ++i) {
        T* group = groups + group_of_head[i] * d;
        for (Index j = 0; j < d; ++j) group[j] += heads[i * d + j];
      }
    }
  });
}

}  // namespace est
