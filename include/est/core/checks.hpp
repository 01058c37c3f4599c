#pragma once
// Argument checks shared by every backend: shapes, finiteness, token ids and memory overlap.
// Each throws an est::error subclass whose message names the call, the argument and what was
// expected versus what was found.

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

#include "est/core/error.hpp"
#include "est/core/tensor.hpp"

namespace est {

/// Throws est::shape_error unless `view` has exactly `expected` shape; `op` and `name` say
/// which call and which argument.
template <class View>
void expect_shape(const View& view, const Shape& expected, std::string_view op,
                  std::string_view name) {
  require<shape_error>(view.shape() == expected, op, ": ", name, " has shape ", view.shape(),
                       ", expected ", expected);
}

/// Throws est::value_error naming `name` and the first offending index when `view` holds a NaN
/// or an infinity.
template <class T, class Device>
void expect_finite(const TensorView<T, Device>& view, std::string_view op, std::string_view name)
  requires std::same_as<Device, cpu>
{
  for (Index i = 0; i < view.numel(); ++i) {
    if (std::isfinite(view[i])) [[likely]] {
      continue;
    }
    // Name the element by its multi-index, e.g. logits[1, 7, 42].
    std::string where;
    Index rest = i;
    for (int d = view.rank() - 1; d >= 0; --d) {
      where = std::to_string(rest % view.dim(d)) + (where.empty() ? "" : ", ") + where;
      rest /= view.dim(d);
    }
    fail<value_error>(op, ": ", name, "[", where, "] = ", view[i], " is not finite");
  }
}

/// Throws est::value_error naming the first token id outside [0, vocab).
inline void check_token_ids(ConstView<std::int32_t> ids, Index vocab, const char* op,
                            const char* name) {
  for (Index i = 0; i < ids.numel(); ++i) {
    if (ids[i] >= 0 && ids[i] < vocab) [[likely]] {
      continue;
    }
    if (ids.rank() == 2) {
      fail<value_error>(op, ": ", name, "[", i / ids.dim(1), ", ", i % ids.dim(1), "] = ", ids[i],
                        " is outside the vocabulary [0, ", vocab, ")");
    }
    fail<value_error>(op, ": ", name, "[", i, "] = ", ids[i], " is outside the vocabulary [0, ",
                      vocab, ")");
  }
}

/// True when the memory spans [a, a + a_count) and [b, b + b_count) share an element.
template <class T, class U>
bool overlaps(const T* a, Index a_count, const U* b, Index b_count) {
  if (a_count <= 0 || b_count <= 0) return false;
  const auto a0 = reinterpret_cast<std::uintptr_t>(a), b0 = reinterpret_cast<std::uintptr_t>(b);
  const auto a1 = a0 + std::uintptr_t(a_count) * sizeof(T);
  const auto b1 = b0 + std::uintptr_t(b_count) * sizeof(U);
  return a0 < b1 && b0 < a1;
}

/// The memory a matrix view spans, from its first to its last element.
template <class T, class Device>
Index span_of(const MatrixView<T, Device>& m) {
  return m.rows() == 0 || m.cols() == 0 ? 0 : (m.rows() - 1) * m.stride() + m.cols();
}

/// Throws est::value_error when an output `out` shares memory with an input `in` of an op that
/// does not allow it.
template <class T, class U, class Device>
void expect_no_overlap(const MatrixView<T, Device>& out, const MatrixView<U, Device>& in,
                       std::string_view op, std::string_view out_name, std::string_view in_name) {
  require<value_error>(!overlaps(out.data(), span_of(out), in.data(), span_of(in)), op, ": ",
                       out_name, " overlaps ", in_name, "; this op needs separate buffers");
}

}  // namespace est
