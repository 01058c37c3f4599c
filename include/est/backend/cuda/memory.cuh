#pragma once
// Device memory: Tensor<T, cuda> (an owning, zero-initialised buffer in GPU memory, taken with
// plain cudaMalloc, never managed memory), and fills and copies within the device and between
// host and device. Allocation failures are est::error stating the bytes requested and free.

#include <cstddef>
#include <utility>
#include <vector>

#include "est/backend/cuda/context.cuh"
#include "est/core/tensor.hpp"

namespace est {

namespace cuda_detail {

/// cudaMalloc of `bytes`, turning failure into an error with the requested and free bytes.
inline void* allocate(std::size_t bytes, const char* what) {
  if (bytes == 0) return nullptr;
  void* p = nullptr;
  const cudaError_t status = cudaMalloc(&p, bytes);
  if (status != cudaSuccess) {
    (void)cudaGetLastError();
    std::size_t free_bytes = 0, total = 0;
    cudaMemGetInfo(&free_bytes, &total);
    fail(what, ": cannot allocate ", bytes, " bytes on the GPU (", cudaGetErrorString(status),
         "); ", free_bytes, " bytes are free of ", total);
  }
  return p;
}

}  // namespace cuda_detail

/// An owning tensor in GPU memory, zero-initialised. Move-only; views must not outlive it.
template <class T>
class Tensor<T, cuda> {
 public:
  Tensor() = default;
  /// A tensor of `shape` in fresh device memory (cudaMalloc), every element zero. It waits for
  /// the device, so the buffer is ready on every stream when it returns. Throws est::error,
  /// stating the bytes requested and free, when the allocation fails.
  explicit Tensor(Shape shape) : shape_(shape) {
    const std::size_t bytes = static_cast<std::size_t>(shape.numel()) * sizeof(T);
    data_ = static_cast<T*>(cuda_detail::allocate(bytes, "Tensor<T, cuda>"));
    if (bytes) {
      // cudaMemset runs on the legacy stream, which est's non-blocking streams do not wait
      // for: finish it before anyone can use the buffer.
      EST_CUDA_CHECK(cudaMemset(data_, 0, bytes));
      EST_CUDA_CHECK(cudaDeviceSynchronize());
    }
  }
  /// Takes `other`'s buffer; `other` is left empty (shape (0)).
  Tensor(Tensor&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), shape_(std::exchange(other.shape_, Shape{0})) {}
  /// Frees this tensor's buffer and takes `other`'s; `other` is left empty.
  Tensor& operator=(Tensor&& other) noexcept {
    if (this != &other) {
      release();
      data_ = std::exchange(other.data_, nullptr);
      shape_ = std::exchange(other.shape_, Shape{0});
    }
    return *this;
  }
  Tensor(const Tensor&) = delete;
  Tensor& operator=(const Tensor&) = delete;
  /// Frees the buffer (cudaFree waits for the device, so no pending kernel still reads it).
  ~Tensor() { release(); }

  /// A mutable view of the whole tensor.
  [[nodiscard]] TensorView<T, cuda> view() & noexcept { return {data_, shape_}; }
  /// A read-only view of the whole tensor.
  [[nodiscard]] TensorView<const T, cuda> view() const& noexcept { return {data_, shape_}; }
  TensorView<const T, cuda> view() const&& = delete;
  /// Converts to a mutable view, so a Tensor passes where an op takes a view.
  operator TensorView<T, cuda>() & noexcept { return view(); }
  /// Converts to a read-only view.
  operator TensorView<const T, cuda>() const& noexcept { return view(); }
  operator TensorView<const T, cuda>() const&& = delete;

  /// The address of the first element, in device memory.
  [[nodiscard]] T* data() noexcept { return data_; }
  /// The address of the first element (device memory), read-only.
  [[nodiscard]] const T* data() const noexcept { return data_; }
  /// The extents.
  [[nodiscard]] const Shape& shape() const noexcept { return shape_; }
  /// The number of elements.
  [[nodiscard]] Index numel() const noexcept { return shape_.numel(); }

 private:
  void release() noexcept {
    if (data_) cudaFree(data_);  // synchronises the device: no pending kernel still reads it
    data_ = nullptr;
  }
  T* data_ = nullptr;
  Shape shape_ = Shape{0};
};

/// Sets every element of `out` to zero (enqueued on the context's stream).
template <class T>
void fill_zero(const Context<cuda>& ctx, TensorView<T, cuda> out) {
  if (out.numel() == 0) return;
  EST_CUDA_CHECK(cudaMemsetAsync(out.data(), 0, static_cast<std::size_t>(out.numel()) * sizeof(T),
                                 ctx.stream()));
}

namespace cuda_detail {
template <class T>
void copy_bytes(const Context<cuda>& ctx, T* dst, const T* src, Index dst_n, Index src_n,
                cudaMemcpyKind kind) {
  require<shape_error>(dst_n == src_n, "copy: destination has ", dst_n, " elements, source ",
                       src_n);
  if (src_n == 0) return;
  EST_CUDA_CHECK(cudaMemcpyAsync(dst, src, static_cast<std::size_t>(src_n) * sizeof(T), kind,
                                 ctx.stream()));
}
}  // namespace cuda_detail

/// dst = src, from a device or a host view. Device to device and host to device are enqueued
/// (a pageable host source is staged before the call returns, per CUDA's "API synchronization
/// behavior", so it may be reused at once); device to host returns when the data is there.
template <class T, class U, class Source>
  requires std::is_same_v<std::remove_const_t<U>, T>
void copy(const Context<cuda>& ctx, TensorView<T, cuda> dst, TensorView<U, Source> src) {
  if constexpr (std::is_same_v<Source, cuda>) {
    cuda_detail::copy_bytes<T>(ctx, dst.data(), src.data(), dst.numel(), src.numel(),
                               cudaMemcpyDeviceToDevice);
  } else {
    cuda_detail::copy_bytes<T>(ctx, dst.data(), src.data(), dst.numel(), src.numel(),
                               cudaMemcpyHostToDevice);
  }
}

/// Device to host; returns when the data is on the host.
template <class T, class U>
  requires std::is_same_v<std::remove_const_t<U>, T>
void copy(const Context<cuda>& ctx, TensorView<T, cpu> dst, TensorView<U, cuda> src) {
  cuda_detail::copy_bytes<T>(ctx, dst.data(), src.data(), dst.numel(), src.numel(),
                             cudaMemcpyDeviceToHost);
  ctx.synchronize();
}

/// A host copy of a device tensor (waits for it).
template <class T>
[[nodiscard]] std::vector<std::remove_const_t<T>> to_host(const Context<cuda>& ctx,
                                                          TensorView<T, cuda> src) {
  std::vector<std::remove_const_t<T>> host(static_cast<std::size_t>(src.numel()));
  copy(ctx, TensorView<std::remove_const_t<T>, cpu>(host.data(), src.shape()),
       ConstView<std::remove_const_t<T>, cuda>(src.data(), src.shape()));
  return host;
}

}  // namespace est
