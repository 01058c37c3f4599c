#pragma once
// Gathering the active columns or rows of a weight matrix into a packed matrix, adding a packed
// gradient back into the columns or rows it came from, and scaling packed rows or columns by
// their units' output scales. A sliced layer runs its GEMMs on
// the packed matrices, so they shrink with the subnetwork.
// Shapes: R rows, n columns of the full matrix, k selected indices.
//
// Index lists must be strictly increasing (sorted, no repeats: a subnetwork's sets are), so a
// scatter never adds two packed rows into one full row. They are processed as runs of
// consecutive values (an attention head's columns form runs of d), each run copied as a block.

#include <algorithm>
#include <span>
#include <utility>
#include <vector>

#include "est/backend/cpu/parallel.hpp"
#include "est/core/checks.hpp"
#include "est/core/index_runs.hpp"
#include "est/core/tensor.hpp"

namespace est {

/// packed (R, k) = full (R, n) columns `columns`.
template <class T>
void gather_columns(const Context<cpu>& ctx, MatrixView<T> packed, ConstMatrix<T> full,
                    std::span<const Index> columns) {
  require<shape_error>(packed.rows() == full.rows() && packed.cols() == std::ssize(columns),
                       "gather_columns: packed is ", packed.rows(), "x", packed.cols(),
                       ", expected ", full.rows(), "x", columns.size());
  const auto runs = detail::index_runs(columns, full.cols(), "gather_columns");
  expect_no_overlap(packed, full, "gather_columns", "packed", "full");
  cpu_detail::parallel_ranges(ctx, full.rows(), [&](Index r0, Index r1) {
    for (Index r = r0; r < r1; ++r) {
      const T* src = &full(r, 0);
      T* dst = &packed(r, 0);
      for (const auto& run : runs) std::copy_n(src + run.source, run.length, dst + run.packed);
    }
  });
}

/// full (R, n) columns `columns` += packed (R, k).
template <class T>
void scatter_add_columns(const Context<cpu>& ctx, MatrixView<T> full, ConstMatrix<T> packed,
                         std::span<const Index> columns) {
  require<shape_error>(packed.rows() == full.rows() && packed.cols() == std::ssize(columns),
                       "scatter_add_columns: packed is ", packed.rows(), "x", packed.cols(),
                       ", expected ", full.rows(), "x", columns.size());
  const auto runs = detail::index_runs(columns, full.cols(), "scatter_add_columns");
  expect_no_overlap(full, packed, "scatter_add_columns", "full", "packed");
  cpu_detail::parallel_ranges(ctx, full.rows(), [&](Index r0, Index r1) {
    for (Index r = r0; r < r1; ++r) {
      const T* src = &packed(r, 0);
      T* dst = &full(r, 0);
      for (const auto& run : runs) {
        for (Index i = 0; i < run.length; ++i) dst[run.source + i] += src[run.packed + i];
      }
    }
  });
}

/// packed (k, C) = full (n, C) rows `rows`.
template <class T>
void gather_rows(const Context<cpu>& ctx, MatrixView<T> packed, ConstMatrix<T> full,
                 std::span<const Index> rows) {
  require<shape_error>(packed.cols() == full.cols() && packed.rows() == std::ssize(rows),
                       "gather_rows: packed is ", packed.rows(), "x", packed.cols(), ", expected ",
                       rows.size(), "x", full.cols());
  (void)detail::index_runs(rows, full.rows(), "gather_rows");
  expect_no_overlap(packed, full, "gather_rows", "packed", "full");
  cpu_detail::parallel_ranges(ctx, packed.rows(), [&](Index r0, Index r1) {
    for (Index r = r0; r < r1; ++r) std::copy_n(&full(rows[r], 0), full.cols(), &packed(r, 0));
  });
}

/// full (n, C) rows `rows` += packed (k, C).
template <class T>
void scatter_add_rows(const Context<cpu>& ctx, MatrixView<T> full, ConstMatrix<T> packed,
                      std::span<const Index> rows) {
  require<shape_error>(packed.cols() == full.cols() && packed.rows() == std::ssize(rows),
                       "scatter_add_rows: packed is ", packed.rows(), "x", packed.cols(),
                       ", expected ", rows.size(), "x", full.cols());
  (void)detail::index_runs(rows, full.rows(), "scatter_add_rows");
  expect_no_overlap(full, packed, "scatter_add_rows", "full", "packed");
  cpu_detail::parallel_ranges(ctx, packed.rows(), [&](Index r0, Index r1) {
    for (Index r = r0; r < r1; ++r) {
      const T* src = &packed(r, 0);
      T* dst = &full(rows[r], 0);
      for (Index c = 0; c < full.cols(); ++c) dst[c] += src[c];
    }
  });
}

/// m (R, n) row r *= scales[r]: per-unit output scales on packed rows.
template <class T>
void scale_rows(const Context<cpu>& ctx, MatrixView<T> m, std::span<const double> scales) {
  require<shape_error>(std::ssize(scales) == m.rows(), "scale_rows: ", scales.size(),
                       " scales for ", m.rows(), " rows");
  cpu_detail::parallel_ranges(ctx, m.rows(), [&](Index r0, Index r1) {
    for (Index r = r0; r < r1; ++r) {
      const T s = static_cast<T>(scales[std::size_t(r)]);
      for (Index c = 0; c < m.cols(); ++c) m(r, c) *= s;
    }
  });
}

/// m (R, n) column c *= scales[c]: per-unit output scales on packed columns.
template <class T>
void scale_columns(const Context<cpu>& ctx, MatrixView<T> m, std::span<const double> scales) {
  require<shape_error>(std::ssize(scales) == m.cols(), "scale_columns: ", scales.size(),
                       " scales for ", m.cols(), " columns");
  cpu_detail::parallel_ranges(ctx, m.rows(), [&](Index r0, Index r1) {
    for (Index r = r0; r < r1; ++r) {
      for (Index c = 0; c < m.cols(); ++c) m(r, c) *= static_cast<T>(scales[std::size_t(c)]);
    }
  });
}

}  // namespace est
