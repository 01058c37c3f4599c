#pragma once
// Context<cuda>: the GPU an op runs on, its stream, its cuBLAS handle and workspace, and the
// scratch buffers ops reuse (index lists, partial sums). Every op of the CUDA backend enqueues
// its work on the context's stream and returns without waiting, except where it hands a host
// value back (a loss, a norm).
//
// Numerics: FP32 GEMMs are exact IEEE FP32 by default (parity with the CPU backend). Setting
// `allow_tf32` lets cuBLAS use TF32 tensor cores for FP32 GEMMs (about 10 mantissa bits).

#include <cstddef>
#include <vector>

#include "est/backend/cuda/runtime.cuh"
#include "est/core/context.hpp"
#include "est/core/shape.hpp"

namespace est {

/// CUDA context: one GPU, a non-blocking stream every op enqueues on, a cuBLAS handle bound to
/// that stream with a 32 MiB workspace of its own (so cuBLAS never allocates during a step), and
/// reusable scratch buffers. Neither copyable nor movable; ops take it by const reference.
/// FP32 GEMMs are exact IEEE FP32 unless `allow_tf32` is set.
template <>
class Context<cuda> {
 public:
  /// Scratch buffers of the context; each op uses them only while it runs.
  enum class Scratch { indices, partials, attention, reduce, pointers, masks, scales, count };
  /// @var Scratch::indices
  /// Index lists copied from the host (gathers, scatters, key/value groups).
  /// @var Scratch::partials
  /// Per-chunk partial sums of the deterministic column sums (bias and norm-weight gradients).
  /// @var Scratch::attention
  /// The attention backward's (B, H, T, T) gradient with respect to the probabilities.
  /// @var Scratch::reduce
  /// Reductions handed back to the host (loss, norm) and the embedding backward's sort buffers.
  /// @var Scratch::pointers
  /// The pointer arrays of batched per-head GEMMs.
  /// @var Scratch::masks
  /// The byte masks the active mask is broadcast from.
  /// @var Scratch::scales
  /// Per-unit output scales copied from the host.
  /// @var Scratch::count
  /// The number of slots, not a slot.

  /// Binds the context to CUDA device `device`. Throws est::error, naming the reason, when
  /// there is no such device (no GPU, no driver, or an ordinal out of range).
  explicit Context(int device = 0) : device_(device) {
    const int count = cuda_detail::device_count();
    require(count > 0, "Context<cuda>: no CUDA device is available (no GPU or no driver "
            "found); use est::cpu on this machine");
    require<value_error>(device >= 0 && device < count, "Context<cuda>: device ", device,
                         " does not exist; this machine has ", count, " CUDA device(s)");
    EST_CUDA_CHECK(cudaSetDevice(device_));
    EST_CUDA_CHECK(cudaGetDeviceProperties(&properties_, device_));
    EST_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    EST_CUBLAS_CHECK(cublasCreate(&cublas_));
    EST_CUBLAS_CHECK(cublasSetStream(cublas_, stream_));
    // A workspace of our own, so cuBLAS never allocates during a step.
    EST_CUDA_CHECK(cudaMalloc(&cublas_workspace_, cublas_workspace_bytes));
    EST_CUBLAS_CHECK(cublasSetWorkspace(cublas_, cublas_workspace_, cublas_workspace_bytes));
    EST_CUBLAS_CHECK(cublasSetPointerMode(cublas_, CUBLAS_POINTER_MODE_HOST));
    scratch_.resize(static_cast<std::size_t>(Scratch::count));
  }

  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  /// Waits for the stream, then frees the scratch buffers, the workspace, the handle and the
  /// stream; errors are ignored (a destructor must not throw).
  ~Context() {
    // Destructors must not throw: errors here are ignored.
    cudaStreamSynchronize(stream_);
    for (auto& s : scratch_) cudaFree(s.data);
    cudaFree(cublas_workspace_);
    cublasDestroy(cublas_);
    cudaStreamDestroy(stream_);
  }

  /// The CUDA device ordinal.
  [[nodiscard]] int device() const noexcept { return device_; }
  /// The stream every op of this context enqueues on.
  [[nodiscard]] cudaStream_t stream() const noexcept { return stream_; }
  /// The cuBLAS handle, bound to stream().
  [[nodiscard]] cublasHandle_t cublas() const noexcept { return cublas_; }
  /// The device's properties, read once at construction.
  [[nodiscard]] const cudaDeviceProp& properties() const noexcept { return properties_; }
  /// Number of streaming multiprocessors (for sizing grids).
  [[nodiscard]] int multiprocessors() const noexcept { return properties_.multiProcessorCount; }

  /// Waits for every op enqueued on the stream; errors of earlier kernels surface here.
  void synchronize() const { EST_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

  /// A device buffer of at least `bytes` for `slot`; it grows (never shrinks) and its contents
  /// are undefined. Growing frees the old buffer, which synchronises the device, so work
  /// enqueued earlier never reads freed memory.
  void* scratch(Scratch slot, std::size_t bytes) const {
    auto& s = scratch_[static_cast<std::size_t>(slot)];
    if (s.bytes < bytes) {
      if (s.data) EST_CUDA_CHECK(cudaFree(s.data));
      s.data = nullptr;
      s.bytes = 0;
      const cudaError_t status = cudaMalloc(&s.data, bytes);
      if (status != cudaSuccess) {
        (void)cudaGetLastError();
        std::size_t free_bytes = 0, total = 0;
        cudaMemGetInfo(&free_bytes, &total);
        fail("Context<cuda>::scratch: cannot allocate ", bytes, " bytes of scratch (",
             cudaGetErrorString(status), "); ", free_bytes, " bytes free of ", total);
      }
      s.bytes = bytes;
    }
    return s.data;
  }

  /// FP32 GEMMs may use TF32 tensor cores (off: exact FP32).
  bool allow_tf32 = false;

  /// When set, the model checks its logits and loss for NaN/Inf after every forward pass (a
  /// debugging aid; it copies the logits to the host).
  bool check_numerics = false;

 private:
  static constexpr std::size_t cublas_workspace_bytes = std::size_t{32} << 20;
  /// One scratch slot: a device allocation and its size.
  struct Buffer {
    void* data = nullptr;     ///< device memory, or null before the first use
    std::size_t bytes = 0;    ///< its size in bytes
  };
  int device_;
  cudaDeviceProp properties_{};
  cudaStream_t stream_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  void* cublas_workspace_ = nullptr;
  mutable std::vector<Buffer> scratch_;
};

}  // namespace est
