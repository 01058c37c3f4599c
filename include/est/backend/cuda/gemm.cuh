#pragma once
// GEMMs through cuBLAS on row-major est matrices. cuBLAS is column-major: a row-major matrix
// with row stride s is, to cuBLAS, its transpose with leading dimension s, so
// C = op(A)·op(B) is computed as Cᵀ = op(B)ᵀ·op(A)ᵀ with the operands swapped.

#include <type_traits>

#include "est/backend/cuda/context.cuh"
#include "est/core/checks.hpp"
#include "est/core/op_checks.hpp"
#include "est/core/tensor.hpp"
#include "est/core/transpose.hpp"

namespace est {

namespace cuda_detail {

template <class T>
constexpr cudaDataType_t data_type() {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                "est CUDA GEMM: the scalar must be float or double");
  return std::is_same_v<T, float> ? CUDA_R_32F : CUDA_R_64F;
}

template <class T>
cublasComputeType_t compute_type(const Context<cuda>& ctx) {
  if constexpr (std::is_same_v<T, double>) {
    return CUBLAS_COMPUTE_64F;
  } else {
    return ctx.allow_tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  }
}

inline cublasOperation_t op(Transpose t) { return t == Transpose::no ? CUBLAS_OP_N : CUBLAS_OP_T; }

/// Row-major C (m, n) = alpha·op(A)·op(B) + beta·C for `batch` matrices `stride_*` elements
/// apart (batch 1: a plain GEMM). lda/ldb/ldc are row strides.
template <class T>
void gemm_rows(const Context<cuda>& ctx, Index m, Index n, Index k, T alpha, const T* a, Index lda,
               Transpose ta, Index stride_a, const T* b, Index ldb, Transpose tb, Index stride_b,
               T beta, T* c, Index ldc, Index stride_c, Index batch) {
  if (m == 0 || n == 0 || batch == 0) return;
  constexpr cudaDataType_t type = data_type<T>();
  if (batch == 1) {
    EST_CUBLAS_CHECK(cublasGemmEx(ctx.cublas(), op(tb), op(ta), int(n), int(m), int(k), &alpha, b,
                                  type, int(ldb), a, type, int(lda), &beta, c, type, int(ldc),
                                  compute_type<T>(ctx), CUBLAS_GEMM_DEFAULT));
  } else {
    EST_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
        ctx.cublas(), op(tb), op(ta), int(n), int(m), int(k), &alpha, b, type, int(ldb),
        stride_b, a, type, int(lda), stride_a, &beta, c, type, int(ldc), stride_c, int(batch),
        compute_type<T>(ctx), CUBLAS_GEMM_DEFAULT));
  }
}

}  // namespace cuda_detail

/// C (m, n) = alpha · op(A) · op(B) + beta · C, with op(A) (m, k) and op(B) (k, n). With
/// beta == 0, C is only written. Same contract as the CPU gemm.
template <class T>
void gemm(const Context<cuda>& ctx, MatrixView<T, cuda> c, ConstMatrix<T, cuda> a, Transpose ta,
          ConstMatrix<T, cuda> b, Transpose tb, T alpha = T(1), T beta = T(0)) {
  const op_checks::GemmDims dims = op_checks::gemm(c, a, ta, b, tb);
  const Index m = dims.m, n = dims.n, k = dims.k;
  // cuBLAS wants a leading dimension >= 1 even for an empty or one-column operand.
  auto ld = [](Index stride) { return stride > 0 ? stride : Index(1); };
  cuda_detail::gemm_rows<T>(ctx, m, n, k, alpha, a.data(), ld(a.stride()), ta, 0, b.data(),
                            ld(b.stride()), tb, 0, beta, c.data(), ld(c.stride()), 0, 1);
}

}  // namespace est
