#pragma once
// Gathering the active columns or rows of a weight matrix into a packed matrix, and adding a
// packed gradient back, on the GPU; same contract as the CPU gather.hpp. The index lists come
// from the host (a subnetwork is sampled there, identically on every device): they are checked
// there (strictly increasing, in range) and copied into the context's index scratch in stream
// order. (Straight from pageable memory: on an H100 that measured faster for these small lists
// than staging them through a pinned ring.)
// Shapes: R rows, n columns of the full matrix, k selected indices.

#include <span>
#include <vector>

#include "est/core/checks.hpp"
#include "est/core/index_runs.hpp"
#include "est/backend/cuda/kernels.cuh"

namespace est {

namespace cuda_detail {

/// Checks `indices` against [0, n) and copies them to the device; returns the device copy.
inline const Index* upload_indices(const Context<cuda>& ctx, std::span<const Index> indices,
                                   Index n, const char* op) {
  (void)detail::index_runs(indices, n, op);  // throws on an unsorted or out-of-range index
  auto* device = static_cast<Index*>(
      ctx.scratch(Context<cuda>::Scratch::indices, sizeof(Index) * (indices.size() + 1)));
  if (!indices.empty()) {
    EST_CUDA_CHECK(cudaMemcpyAsync(device, indices.data(), sizeof(Index) * indices.size(),
                                   cudaMemcpyHostToDevice, ctx.stream()));
  }
  return device;
}

template <class T, bool Add>
__global__ void columns_kernel(T* packed, Index packed_stride, T* full, Index full_stride,
                               const Index* columns, Index rows, Index k) {
  const Index i = Index(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= rows * k) return;
  const Index r = i / k, j = i % k;
  if constexpr (Add) {
    full[r * full_stride + columns[j]] += packed[r * packed_stride + j];
  } else {
    packed[r * packed_stride + j] = full[r * full_stride + columns[j]];
  }
}

template <class T, bool Add>
__global__ void rows_kernel(T* packed, Index packed_stride, T* full, Index full_stride,
                            const Index* rows, Index k, Index cols) {
  const Index i = Index(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= k * cols) return;
  const Index j = i / cols, c = i % cols;
  if constexpr (Add) {
    full[rows[j] * full_stride + c] += packed[j * packed_stride + c];
  } else {
    packed[j * packed_stride + c] = full[rows[j] * full_stride + c];
  }
}

}  // namespace cuda_detail

/// packed (R, k) = full (R, n) columns `columns`.
template <class T>
void gather_columns(const Context<cuda>& ctx, MatrixView<T, cuda> packed,
                    ConstMatrix<T, cuda> full, std::span<const Index> columns) {
  require<shape_error>(packed.rows() == full.rows() && packed.cols() == std::ssize(columns),
                       "gather_columns: packed is ", packed.rows(), "x", packed.cols(),
                       ", expected ", full.rows(), "x", columns.size());
  expect_no_overlap(packed, full, "gather_columns", "packed", "full");
  const Index* idx = cuda_detail::upload_indices(ctx, columns, full.cols(), "gather_columns");
  const Index n = packed.rows() * packed.cols();
  if (n == 0) return;
  cuda_detail::columns_kernel<T, false><<<cuda_detail::blocks_for(n, 256), 256, 0, ctx.stream()>>>(
      packed.data(), packed.stride(), const_cast<T*>(full.data()), full.stride(), idx,
      packed.rows(), packed.cols());
  EST_CUDA_CHECK_LAUNCH();
}

/// full (R, n) columns `columns` += packed (R, k).
template <class T>
void scatter_add_columns(const Context<cuda>& ctx, MatrixView<T, cuda> full,
                         ConstMatrix<T, cuda> packed, std::span<const Index> columns) {
  require<shape_error>(packed.rows() == full.rows() && packed.cols() == std::ssize(columns),
                       "scatter_add_columns: packed is ", packed.rows(), "x", packed.cols(),
                       ", expected ", full.rows(), "x", columns.size());
  expect_no_overlap(full, packed, "scatter_add_columns", "full", "packed");
  const Index* idx = cuda_detail::upload_indices(ctx, columns, full.cols(), "scatter_add_columns");
  const Index n = packed.rows() * packed.cols();
  if (n == 0) return;
  cuda_detail::columns_kernel<T, true><<<cuda_detail::blocks_for(n, 256), 256, 0, ctx.stream()>>>(
      const_cast<T*>(packed.data()), packed.stride(), full.data(), full.stride(), idx,
      packed.rows(), packed.cols());
  EST_CUDA_CHECK_LAUNCH();
}

/// packed (k, C) = full (n, C) rows `rows`.
template <class T>
void gather_rows(const Context<cuda>& ctx, MatrixView<T, cuda> packed, ConstMatrix<T, cuda> full,
                 std::span<const Index> rows) {
  require<shape_error>(packed.cols() == full.cols() && packed.rows() == std::ssize(rows),
                       "gather_rows: packed is ", packed.rows(), "x", packed.cols(), ", expected ",
                       rows.size(), "x", full.cols());
  expect_no_overlap(packed, full, "gather_rows", "packed", "full");
  const Index* idx = cuda_detail::upload_indices(ctx, rows, full.rows(), "gather_rows");
  const Index n = packed.rows() * packed.cols();
  if (n == 0) return;
  cuda_detail::rows_kernel<T, false><<<cuda_detail::blocks_for(n, 256), 256, 0, ctx.stream()>>>(
      packed.data(), packed.stride(), const_cast<T*>(full.data()), full.stride(), idx,
      packed.rows(), packed.cols());
  EST_CUDA_CHECK_LAUNCH();
}

/// full (n, C) rows `rows` += packed (k, C).
template <class T>
void scatter_add_rows(const Context<cuda>& ctx, MatrixView<T, cuda> full,
                      ConstMatrix<T, cuda> packed, std::span<const Index> rows) {
  require<shape_error>(packed.cols() == full.cols() && packed.rows() == std::ssize(rows),
                       "scatter_add_rows: packed is ", packed.rows(), "x", packed.cols(),
                       ", expected ", rows.size(), "x", full.cols());
  expect_no_overlap(full, packed, "scatter_add_rows", "full", "packed");
  const Index* idx = cuda_detail::upload_indices(ctx, rows, full.rows(), "scatter_add_rows");
  const Index n = packed.rows() * packed.cols();
  if (n == 0) return;
  cuda_detail::rows_kernel<T, true><<<cuda_detail::blocks_for(n, 256), 256, 0, ctx.stream()>>>(
      const_cast<T*>(packed.data()), packed.stride(), full.data(), full.stride(), idx,
      packed.rows(), packed.cols());
  EST_CUDA_CHECK_LAUNCH();
}

namespace cuda_detail {

template <class T, bool Columns>
__global__ void scale_kernel(T* m, Index stride, Index rows, Index cols, const T* scales) {
  const Index i = Index(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= rows * cols) return;
  const Index r = i / cols, c = i % cols;
  m[r * stride + c] *= scales[Columns ? c : r];
}

/// Multiplies the rows (Columns = false) or columns of `m` by `scales`, copied over as T.
template <class T, bool Columns>
void scale_packed(const Context<cuda>& ctx, MatrixView<T, cuda> m, std::span<const double> scales,
                  const char* op) {
  const Index expected = Columns ? m.cols() : m.rows();
  require<shape_error>(std::ssize(scales) == expected, op, ": ", scales.size(), " scales for ",
                       expected, Columns ? " columns" : " rows");
  const Index n = m.rows() * m.cols();
  if (n == 0) return;
  std::vector<T> host(scales.begin(), scales.end());
  auto* device = static_cast<T*>(
      ctx.scratch(Context<cuda>::Scratch::scales, sizeof(T) * host.size()));
  EST_CUDA_CHECK(cudaMemcpyAsync(device, host.data(), sizeof(T) * host.size(),
                                 cudaMemcpyHostToDevice, ctx.stream()));
  scale_kernel<T, Columns><<<blocks_for(n, 256), 256, 0, ctx.stream()>>>(
      m.data(), m.stride(), m.rows(), m.cols(), device);
  EST_CUDA_CHECK_LAUNCH();
}

}  // namespace cuda_detail

/// m (R, n) row r *= scales[r].
template <class T>
void scale_rows(const Context<cuda>& ctx, MatrixView<T, cuda> m, std::span<const double> scales) {
  cuda_detail::scale_packed<T, false>(ctx, m, scales, "scale_rows");
}

/// m (R, n) column c *= scales[c].
template <class T>
void scale_columns(const Context<cuda>& ctx, MatrixView<T, cuda> m,
                   std::span<const double> scales) {
  cuda_detail::scale_packed<T, true>(ctx, m, scales, "scale_columns");
}

}  // namespace est
