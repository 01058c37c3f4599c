#pragma once
// Reference twin of est/backend/cpu/gemm.hpp: the triple loop.

#include "est/core/tensor.hpp"
#include "est/core/transpose.hpp"

namespace est::reference {

/// C (m, n) = alpha · op(A) · op(B) + beta · C by the triple loop, summed in T: the twin of
/// ops/gemm.hpp. With beta == 0, C is not read. Throws est::shape_error when the shapes do not
/// match (overlap is not checked).
template <class T>
void gemm(MatrixView<T> c, ConstMatrix<T> a, Transpose ta, ConstMatrix<T> b, Transpose tb,
          T alpha = T(1), T beta = T(0)) {
  const Index m = c.rows(), n = c.cols();
  const Index k = ta == Transpose::no ? a.cols() : a.rows();
  require<shape_error>((ta == Transpose::no ? a.rows() : a.cols()) == m &&
                           (tb == Transpose::no ? b.rows() : b.cols()) == k &&
                           (tb == Transpose::no ? b.cols() : b.rows()) == n,
                       "reference::gemm: shapes do not match");
  for (Index i = 0; i < m; ++i) {
    for (Index j = 0; j < n; ++j) {
      T sum = 0;
      for (Index p = 0; p < k; ++p) {
        const T aip = ta == Transpose::no ? a(i, p) : a(p, i);
        const T bpj = tb == Transpose::no ? b(p, j) : b(j, p);
        sum += aip * bpj;
      }
      c(i, j) = alpha * sum + (beta == T(0) ? T(0) : beta * c(i, j));
    }
  }
}

}  // namespace est::reference
