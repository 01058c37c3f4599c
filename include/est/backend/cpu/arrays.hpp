#pragma once
// Eigen array maps over one row of contiguous data: element-wise and reduction expressions that
// Eigen vectorises, without copies.

#include <Eigen/Core>

#include "est/core/shape.hpp"

namespace est::cpu_detail {

template <class T>
using RowArray = Eigen::Map<Eigen::Array<T, 1, Eigen::Dynamic>>;
template <class T>
using ConstRowArray = Eigen::Map<const Eigen::Array<T, 1, Eigen::Dynamic>>;

}  // namespace est::cpu_detail
