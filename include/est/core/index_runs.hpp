#pragma once
// The index lists of gathers and scatters (backend/*/gather): checked the same way on every
// device (strictly increasing, inside [0, n)), and split into runs of consecutive indices,
// which the CPU copies block by block.

#include <span>
#include <vector>

#include "est/core/error.hpp"
#include "est/core/shape.hpp"

namespace est::detail {

struct IndexRun {
  Index source;  // first full-matrix index of the run
  Index packed;  // its position in the packed matrix
  Index length;
};

/// Checks that the indices are strictly increasing and in [0, n), and splits the list into runs
/// of consecutive indices.
inline std::vector<IndexRun> index_runs(std::span<const Index> indices, Index n, const char* op) {
  std::vector<IndexRun> runs;
  for (std::size_t i = 0; i < indices.size(); ++i) {
    const Index v = indices[i];
    require<value_error>(v >= 0 && v < n, op, ": index ", v, " (position ", i,
                         ") is outside [0, ", n, ")");
    require<value_error>(i == 0 || v > indices[i - 1], op, ": index ", v, " (position ", i,
                         ") does not follow ", i == 0 ? 0 : indices[i - 1],
                         "; indices must be strictly increasing");
    if (!runs.empty() && runs.back().source + runs.back().length == v) {
      ++runs.back().length;
    } else {
      runs.push_back({v, static_cast<Index>(i), 1});
    }
  }
  return runs;
}

}  // namespace est::detail

