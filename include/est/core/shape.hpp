#pragma once
// Shape: the extents of a row-major tensor of rank 0..4.

#include <algorithm>
#include <array>
#include <cstdint>
#include <initializer_list>
#include <ostream>

#include "est/core/error.hpp"

namespace est {

/// Signed index type used for every extent and offset.
using Index = std::int64_t;

/// A rank-0 shape (the default) is a scalar: one element. An empty tensor has a zero extent.
class Shape {
 public:
  /// The largest rank a shape may have.
  static constexpr int max_rank = 4;

  constexpr Shape() = default;

  /// The shape with these extents, outermost first (e.g. `{B, T, C}`). Throws est::shape_error
  /// when there are more than max_rank extents, an extent is negative, or the element count
  /// overflows a 64-bit Index.
  Shape(std::initializer_list<Index> extents) {
    require<shape_error>(extents.size() <= max_rank, "Shape: rank ", extents.size(),
                         " exceeds the maximum rank ", max_rank);
    Index count = 1;
    for (Index e : extents) {
      require<shape_error>(e >= 0, "Shape: extents must be >= 0, got ", e);
      require<shape_error>(!__builtin_mul_overflow(count, e, &count), "Shape: ",
                           "the element count of these extents overflows a 64-bit index");
      extents_[rank_++] = e;
    }
  }

  /// The number of extents, 0 to max_rank.
  [[nodiscard]] constexpr int rank() const noexcept { return rank_; }
  /// The extent of dimension `i`, 0 <= `i` < rank() (unchecked).
  [[nodiscard]] constexpr Index operator[](int i) const noexcept { return extents_[i]; }

  /// The number of elements: the product of the extents (1 at rank 0).
  [[nodiscard]] constexpr Index numel() const noexcept {
    Index n = 1;
    for (int i = 0; i < rank_; ++i) n *= extents_[i];
    return n;
  }

  friend constexpr bool operator==(const Shape& a, const Shape& b) noexcept {
    return a.rank_ == b.rank_ && std::equal(a.extents_.begin(), a.extents_.begin() + a.rank_,
                                            b.extents_.begin());
  }

  friend std::ostream& operator<<(std::ostream& out, const Shape& s) {
    out << '(';
    for (int i = 0; i < s.rank_; ++i) out << (i ? ", " : "") << s.extents_[i];
    return out << ')';
  }

 private:
  std::array<Index, max_rank> extents_{};
  int rank_ = 0;
};

}  // namespace est
