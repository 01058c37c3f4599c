#pragma once
// Eigen maps of est's views: a matrix view as an Eigen row-major matrix (for the GEMMs), and
// one row of contiguous data as an Eigen array (element-wise and reduction expressions that
// Eigen vectorises), without copies. Only the CPU backend sees Eigen.

#include <Eigen/Core>

#include <type_traits>

#include "est/core/shape.hpp"
#include "est/core/tensor.hpp"

namespace est::cpu_detail {

template <class T>
using RowArray = Eigen::Map<Eigen::Array<T, 1, Eigen::Dynamic>>;
template <class T>
using ConstRowArray = Eigen::Map<const Eigen::Array<T, 1, Eigen::Dynamic>>;

/// An Eigen map of `m` (row-major, outer stride = the view's row stride).
template <class T>
[[nodiscard]] auto eigen_map(MatrixView<T> m) {
  using Matrix = Eigen::Matrix<std::remove_const_t<T>, Eigen::Dynamic, Eigen::Dynamic,
                               Eigen::RowMajor>;
  using Mapped = std::conditional_t<std::is_const_v<T>, const Matrix, Matrix>;
  return Eigen::Map<Mapped, Eigen::Unaligned, Eigen::OuterStride<>>(
      m.data(), m.rows(), m.cols(), Eigen::OuterStride<>(m.stride()));
}

}  // namespace est::cpu_detail
