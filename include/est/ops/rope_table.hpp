#pragma once
// The cos / sin tables of rotary position embeddings (RoPE), as Hugging Face's Llama builds
// them: for a head of size d and pair i < d/2, inverse frequency θ^(−2i/d), angle t · freq at
// position t. The inverse frequencies and the angles are rounded to float as transformers rounds
// them, then cos and sin are taken in double, so a float model matches a transformers model to
// a unit in the last place at every position.
// Shapes: P positions, d head size.

#include <cmath>

#include "est/core/error.hpp"
#include "est/core/tensor.hpp"

namespace est {

/// The cos and sin tables of rotary position embeddings, built by rope_table().
template <class T>
struct RopeTable {
  Tensor<T> cos;  ///< (P, d/2): cos(t · θ^(−2i/d)) at row t, column i
  Tensor<T> sin;  ///< (P, d/2): sin(t · θ^(−2i/d)) at row t, column i
};

/// Tables for positions [0, positions) of heads of size `head_dim` (even) with base `theta`.
template <class T>
[[nodiscard]] RopeTable<T> rope_table(Index positions, Index head_dim, double theta) {
  require<value_error>(positions >= 1 && head_dim >= 2 && head_dim % 2 == 0,
                       "rope_table: need positions >= 1 and an even head size >= 2, got ",
                       positions, " and ", head_dim);
  require<value_error>(std::isfinite(theta) && theta > 1, "rope_table: theta must be > 1, got ",
                       theta);
  const Index half = head_dim / 2;
  RopeTable<T> table{Tensor<T>({positions, half}), Tensor<T>({positions, half})};
  for (Index i = 0; i < half; ++i) {
    const float exponent = float(2 * i) / float(head_dim);
    const float inverse_frequency = 1.0f / std::pow(float(theta), exponent);
    for (Index t = 0; t < positions; ++t) {
      const double angle = double(float(t) * inverse_frequency);
      table.cos[t * half + i] = T(std::cos(angle));
      table.sin[t * half + i] = T(std::sin(angle));
    }
  }
  return table;
}

}  // namespace est
