#pragma once
// Tensors: `TensorView` (non-owning, contiguous, row-major, any rank up to 4), `MatrixView`
// (non-owning 2-D with a row stride, so a column block of a wider matrix is a view too) and
// `Tensor` (owning, aligned for vector instructions). The device is part of the type,
// so handing a CUDA tensor to a CPU op does not compile. Default-constructed tensors and views
// are empty (shape (0)).

#include <cmath>
#include <span>
#include <string_view>
#include <type_traits>
#include <vector>

#include <cstddef>
#include <new>

#include "est/core/device.hpp"
#include "est/core/error.hpp"
#include "est/core/shape.hpp"

namespace est {

template <class T, class Device = cpu>
class MatrixView;

/// A non-owning view of a contiguous row-major tensor.
template <class T, class Device = cpu>
class TensorView {
 public:
  /// The element type without const.
  using value_type = std::remove_const_t<T>;
  /// The device whose memory `data()` points into.
  using device_type = Device;

  constexpr TensorView() = default;
  /// A view of `shape.numel()` elements at `data`, which must hold that many (unchecked).
  TensorView(T* data, Shape shape) : data_(data), shape_(shape) {}

  /// A view of mutable data converts to a view of const data.
  template <class U>
    requires std::is_same_v<const U, T> && (!std::is_same_v<U, T>)
  TensorView(const TensorView<U, Device>& other) : data_(other.data()), shape_(other.shape()) {}

  /// A view of another device's memory never converts: passing one is a readable error.
  template <class U, class Other>
    requires(!std::is_same_v<Other, Device>)
  TensorView(const TensorView<U, Other>&) {
    static_assert(detail::dependent_false<U, Other>,
                  "est: a tensor of one device was passed where a tensor of another device is "
                  "expected (a CPU tensor to a CUDA op, or the reverse); copy it across with "
                  "est::copy first");
  }

  /// The address of the first element.
  [[nodiscard]] T* data() const noexcept { return data_; }
  /// The extents.
  [[nodiscard]] const Shape& shape() const noexcept { return shape_; }
  /// The number of dimensions.
  [[nodiscard]] int rank() const noexcept { return shape_.rank(); }
  /// The extent of dimension `i`, 0 <= `i` < rank() (unchecked).
  [[nodiscard]] Index dim(int i) const noexcept { return shape_[i]; }
  /// The number of elements.
  [[nodiscard]] Index numel() const noexcept { return shape_.numel(); }
  /// The elements as a span (host memory only: a device view's span is not dereferenceable).
  [[nodiscard]] std::span<T> span() const noexcept {
    return {data_, static_cast<std::size_t>(numel())};
  }
  /// Element `i` in row-major order, 0 <= `i` < numel() (unchecked).
  [[nodiscard]] T& operator[](Index i) const noexcept { return data_[i]; }

  /// The same data seen with another shape of the same element count.
  [[nodiscard]] TensorView reshape(Shape shape) const {
    require<shape_error>(shape.numel() == numel(), "TensorView::reshape: cannot view ", shape_,
                         " (", numel(), " elements) as ", shape, " (", shape.numel(),
                         " elements)");
    return {data_, shape};
  }

  /// The tensor as a matrix of `rows` x (numel / rows) (e.g. (B, T, C) as (B*T, C)).
  [[nodiscard]] MatrixView<T, Device> matrix(Index rows) const;
  /// The tensor as a matrix whose columns are the last dimension.
  [[nodiscard]] MatrixView<T, Device> matrix() const {
    const Index cols = rank() == 0 ? 1 : dim(rank() - 1);
    return matrix(cols == 0 ? 0 : numel() / cols);
  }

 private:
  T* data_ = nullptr;
  Shape shape_ = Shape{0};
};

/// A non-owning row-major matrix view with a row stride (`stride >= cols`): a sub-block of a
/// larger matrix, such as the columns of one attention head inside a fused QKV activation.
template <class T, class Device>
class MatrixView {
 public:
  /// The element type without const.
  using value_type = std::remove_const_t<T>;
  /// The device whose memory `data()` points into.
  using device_type = Device;

  constexpr MatrixView() = default;
  /// A `rows` x `cols` view at `data` whose rows start `stride` elements apart. Throws
  /// est::shape_error unless rows >= 0, cols >= 0 and stride >= cols.
  MatrixView(T* data, Index rows, Index cols, Index stride)
      : data_(data), rows_(rows), cols_(cols), stride_(stride) {
    require<shape_error>(rows >= 0 && cols >= 0 && stride >= cols,
                         "MatrixView: need rows >= 0, cols >= 0 and stride >= cols; got rows=",
                         rows, " cols=", cols, " stride=", stride);
  }
  /// A contiguous `rows` x `cols` view (stride = cols).
  MatrixView(T* data, Index rows, Index cols) : MatrixView(data, rows, cols, cols) {}

  /// A view of mutable data converts to a view of const data.
  template <class U>
    requires std::is_same_v<const U, T> && (!std::is_same_v<U, T>)
  MatrixView(const MatrixView<U, Device>& other)
      : data_(other.data()), rows_(other.rows()), cols_(other.cols()), stride_(other.stride()) {}

  /// A view of another device's memory never converts (see TensorView).
  template <class U, class Other>
    requires(!std::is_same_v<Other, Device>)
  MatrixView(const MatrixView<U, Other>&) {
    static_assert(detail::dependent_false<U, Other>,
                  "est: a tensor of one device was passed where a tensor of another device is "
                  "expected (a CPU tensor to a CUDA op, or the reverse); copy it across with "
                  "est::copy first");
  }

  /// The address of element (0, 0).
  [[nodiscard]] T* data() const noexcept { return data_; }
  /// The number of rows.
  [[nodiscard]] Index rows() const noexcept { return rows_; }
  /// The number of columns.
  [[nodiscard]] Index cols() const noexcept { return cols_; }
  /// The distance in elements from the start of one row to the start of the next.
  [[nodiscard]] Index stride() const noexcept { return stride_; }
  /// Element (r, c), 0 <= `r` < rows() and 0 <= `c` < cols() (unchecked).
  [[nodiscard]] T& operator()(Index r, Index c) const noexcept { return data_[r * stride_ + c]; }

  /// The `nrows` x `ncols` block whose top-left element is (r0, c0), with this view's stride.
  /// Throws est::shape_error when the block does not fit.
  [[nodiscard]] MatrixView block(Index r0, Index c0, Index nrows, Index ncols) const {
    require<shape_error>(r0 >= 0 && c0 >= 0 && nrows >= 0 && ncols >= 0 &&
                             r0 + nrows <= rows_ && c0 + ncols <= cols_,
                         "MatrixView::block: block (", r0, ", ", c0, ") of size ", nrows, "x",
                         ncols, " does not fit a ", rows_, "x", cols_, " matrix");
    return {data_ + r0 * stride_ + c0, nrows, ncols, stride_};
  }
  /// Rows [r0, r0 + nrows), every column (see block()).
  [[nodiscard]] MatrixView rows_block(Index r0, Index nrows) const {
    return block(r0, 0, nrows, cols_);
  }
  /// Columns [c0, c0 + ncols), every row (see block()).
  [[nodiscard]] MatrixView cols_block(Index c0, Index ncols) const {
    return block(0, c0, rows_, ncols);
  }

 private:
  T* data_ = nullptr;
  Index rows_ = 0;
  Index cols_ = 0;
  Index stride_ = 0;
};

template <class T, class Device>
MatrixView<T, Device> TensorView<T, Device>::matrix(Index rows) const {
  require<shape_error>(rows > 0 ? numel() % rows == 0 : numel() == 0,
                       "TensorView::matrix: ", numel(), " elements of shape ", shape_,
                       " do not split into ", rows, " rows");
  const Index cols = rows > 0 ? numel() / rows : 0;
  return {data_, rows, cols, cols};
}

/// Read-only view of `T`, spelled so that it does not take part in template argument deduction:
/// ops deduce the scalar from their outputs and accept mutable views as inputs.
template <class T, class Device = cpu>
using ConstView = std::type_identity_t<TensorView<const T, Device>>;
/// Read-only matrix view of `T`, non-deducing like ConstView.
template <class T, class Device = cpu>
using ConstMatrix = std::type_identity_t<MatrixView<const T, Device>>;

/// Storage aligned to a cache line (64 bytes, what 512-bit vector loads want).
template <class T>
struct AlignedAllocator {
  /// The element type.
  using value_type = T;
  /// 64 bytes.
  static constexpr std::align_val_t alignment{64};
  AlignedAllocator() = default;
  /// Allocators of any element type are interchangeable (all use aligned `operator new`).
  template <class U>
  constexpr AlignedAllocator(const AlignedAllocator<U>&) noexcept {}
  /// `n` elements of uninitialised storage aligned to `alignment`; throws std::bad_alloc.
  [[nodiscard]] T* allocate(std::size_t n) {
    return static_cast<T*>(::operator new(n * sizeof(T), alignment));
  }
  /// Frees storage from allocate().
  void deallocate(T* p, std::size_t) noexcept { ::operator delete(p, alignment); }
  template <class U>
  friend bool operator==(const AlignedAllocator&, const AlignedAllocator<U>&) noexcept {
    return true;
  }
};

/// An owning, zero-initialised CPU tensor whose storage is aligned to 64 bytes (for vector
/// instructions); Tensor<T, cuda> is in est/backend/cuda/memory.cuh.
/// Copyable and movable. Views must not outlive it: taking one from a temporary
/// does not compile.
template <class T, class Device = cpu>
class Tensor {
  static_assert(std::same_as<Device, cpu>,
                "est::Tensor: GPU tensors are defined by the CUDA backend: include "
                "\"est/backend/cuda.cuh\" in a .cu file compiled by nvcc and link est::cuda.");

 public:
  Tensor() = default;
  /// A tensor of `shape`, every element zero; throws std::bad_alloc when the memory is not
  /// there.
  explicit Tensor(Shape shape) : storage_(static_cast<std::size_t>(shape.numel())), shape_(shape) {}

  /// A mutable view of the whole tensor.
  [[nodiscard]] TensorView<T, Device> view() & noexcept { return {storage_.data(), shape_}; }
  /// A read-only view of the whole tensor.
  [[nodiscard]] TensorView<const T, Device> view() const& noexcept {
    return {storage_.data(), shape_};
  }
  TensorView<const T, Device> view() const&& = delete;
  /// Converts to a mutable view, so a Tensor passes where an op takes a view.
  operator TensorView<T, Device>() & noexcept { return view(); }
  /// Converts to a read-only view.
  operator TensorView<const T, Device>() const& noexcept { return view(); }
  operator TensorView<const T, Device>() const&& = delete;

  /// The address of the first element.
  [[nodiscard]] T* data() noexcept { return storage_.data(); }
  /// The address of the first element, read-only.
  [[nodiscard]] const T* data() const noexcept { return storage_.data(); }
  /// The extents.
  [[nodiscard]] const Shape& shape() const noexcept { return shape_; }
  /// The number of elements.
  [[nodiscard]] Index numel() const noexcept { return shape_.numel(); }
  /// Element `i` in row-major order, 0 <= `i` < numel() (unchecked).
  [[nodiscard]] T& operator[](Index i) noexcept { return storage_[static_cast<std::size_t>(i)]; }
  /// Element `i` in row-major order, read-only (unchecked).
  [[nodiscard]] const T& operator[](Index i) const noexcept {
    return storage_[static_cast<std::size_t>(i)];
  }

 private:
  std::vector<T, AlignedAllocator<T>> storage_;
  Shape shape_ = Shape{0};
};

}  // namespace est
