#pragma once
// CUDA runtime and cuBLAS error checking. Every call est makes to either goes through
// EST_CUDA_CHECK / EST_CUBLAS_CHECK, which turn a failure into est::error naming the call, the
// source location and the status string. These headers are for translation units compiled by
// nvcc (the est::cuda target); CPU-only code never includes them.

#if !defined(__CUDACC__)
#error "est/backend/cuda headers need nvcc: include them from .cu files linked to est::cuda"
#endif

#include <cstddef>

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "est/core/error.hpp"

namespace est::cuda_detail {

inline const char* cublas_status_string(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_LICENSE_ERROR: return "CUBLAS_STATUS_LICENSE_ERROR";
    default: return "unknown cuBLAS status";
  }
}

inline void check_cuda(cudaError_t status, const char* call, const char* file, int line) {
  if (status != cudaSuccess) [[unlikely]] {
    fail(call, " failed at ", file, ":", line, ": ", cudaGetErrorName(status), " (",
         cudaGetErrorString(status), ")");
  }
}

inline void check_cublas(cublasStatus_t status, const char* call, const char* file, int line) {
  if (status != CUBLAS_STATUS_SUCCESS) [[unlikely]] {
    fail(call, " failed at ", file, ":", line, ": ", cublas_status_string(status));
  }
}

/// The number of CUDA devices, 0 when there is no driver or no device (never throws).
inline int device_count() noexcept {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    (void)cudaGetLastError();  // clear the sticky "no driver" error
    return 0;
  }
  return count;
}

/// Blocks of `threads` covering `n` items.
inline unsigned blocks_for(std::ptrdiff_t n, unsigned threads) {
  return static_cast<unsigned>((n + threads - 1) / threads);
}

}  // namespace est::cuda_detail

/// Evaluates the CUDA runtime call `call` and throws est::error naming the call, the source
/// location and the status when it does not return cudaSuccess.
#define EST_CUDA_CHECK(call) ::est::cuda_detail::check_cuda((call), #call, __FILE__, __LINE__)
/// Evaluates the cuBLAS call `call` and throws est::error naming the call, the source location
/// and the status when it does not return CUBLAS_STATUS_SUCCESS.
#define EST_CUBLAS_CHECK(call) ::est::cuda_detail::check_cublas((call), #call, __FILE__, __LINE__)
/// Checks the launch of the kernel just enqueued (bad configuration, missing device code).
#define EST_CUDA_CHECK_LAUNCH() EST_CUDA_CHECK(cudaGetLastError())
