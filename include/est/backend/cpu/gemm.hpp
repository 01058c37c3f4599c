#pragma once
// General matrix product on the CPU: C = alpha * op(A) * op(B) + beta * C, every operand a
// row-major MatrixView with its own row stride (so sub-blocks such as one attention head's
// columns need no copy).
//
// Threading: Eigen's own OpenMP split of one GEMM scales poorly on few cores, so est splits the
// output itself into `ctx.threads()` panels along its longer side and lets each thread run
// Eigen's single-threaded kernel on its panel. Inside an OpenMP team Eigen does not spawn threads
// of its own (see parallel.hpp). The inner dimension is never split, so every element of C is computed by exactly
// one thread in one fixed order: the result is deterministic for a given thread count.

#include <algorithm>

#include "est/backend/cpu/arrays.hpp"
#include "est/backend/cpu/parallel.hpp"
#include "est/core/checks.hpp"
#include "est/core/context.hpp"
#include "est/core/op_checks.hpp"
#include "est/core/tensor.hpp"
#include "est/core/transpose.hpp"

namespace est {

namespace cpu_detail {

template <class CMap, class AExpr, class BExpr, class T>
void eigen_product(CMap&& c, const AExpr& a, const BExpr& b, T alpha, T beta) {
  if (beta == T(0)) {
    c.noalias() = alpha * (a * b);
  } else {
    if (beta != T(1)) c *= beta;
    c.noalias() += alpha * (a * b);
  }
}

template <class T>
void gemm_panel(MatrixView<T> c, MatrixView<const T> a, Transpose ta, MatrixView<const T> b,
                Transpose tb, T alpha, T beta) {
  auto C = eigen_map(c);
  const auto A = eigen_map(a);
  const auto B = eigen_map(b);
  if (ta == Transpose::no && tb == Transpose::no) eigen_product(C, A, B, alpha, beta);
  if (ta == Transpose::no && tb == Transpose::yes) eigen_product(C, A, B.transpose(), alpha, beta);
  if (ta == Transpose::yes && tb == Transpose::no) eigen_product(C, A.transpose(), B, alpha, beta);
  if (ta == Transpose::yes && tb == Transpose::yes)
    eigen_product(C, A.transpose(), B.transpose(), alpha, beta);
}

/// How many panels to split a product of `flops` into: one per thread, but none smaller than
/// about a million multiply-adds, where threading costs more than it saves.
inline int gemm_parts(const Context<cpu>& ctx, Index m, Index n, Index k) {
#if defined(_OPENMP)
  if (omp_in_parallel()) return 1;
#endif
  const double work = double(m) * double(n) * double(k);
  const double by_work = std::max(1.0, work / 1.0e6);
  return by_work >= ctx.threads() ? ctx.threads() : static_cast<int>(by_work);
}

}  // namespace cpu_detail

/// C (m, n) = alpha * op(A) * op(B) + beta * C, with op(A) (m, k) and op(B) (k, n).
/// With beta == 0, C is only written (it may hold garbage or NaN on entry).
template <class T>
void gemm(const Context<cpu>& ctx, MatrixView<T> c, ConstMatrix<T> a, Transpose ta,
          ConstMatrix<T> b, Transpose tb, T alpha = T(1), T beta = T(0)) {
  const op_checks::GemmDims dims = op_checks::gemm(c, a, ta, b, tb);
  const Index m = dims.m, n = dims.n, k = dims.k;
  if (m == 0 || n == 0) return;

  const int parts = cpu_detail::gemm_parts(ctx, m, n, k);
  // Split the longer side of C; keep panel edges on multiples of 16 so every panel but the last
  // runs full-width vector kernels.
  const bool split_rows = m >= n;
  const Index extent = split_rows ? m : n;
  const Index chunk = ((extent + parts - 1) / parts + 15) / 16 * 16;

  cpu_detail::parallel_for(Context<cpu>(parts), parts, [&](Index p) {
    const Index begin = std::min<Index>(extent, p * chunk);
    const Index size = std::min<Index>(extent, begin + chunk) - begin;
    if (size == 0) return;
    if (split_rows) {
      auto a_part = ta == Transpose::no ? a.rows_block(begin, size) : a.cols_block(begin, size);
      cpu_detail::gemm_panel<T>(c.rows_block(begin, size), a_part, ta, b, tb, alpha, beta);
    } else {
      auto b_part = tb == Transpose::no ? b.cols_block(begin, size) : b.rows_block(begin, size);
      cpu_detail::gemm_panel<T>(c.cols_block(begin, size), a, ta, b_part, tb, alpha, beta);
    }
  });
}

}  // namespace est
