#pragma once
// Reference twin of est/backend/cpu/embedding.hpp.

#include <cstdint>

#include "est/core/tensor.hpp"

namespace est::reference {

/// out (B, T, C) = wte[tokens] + wpe[t] from tokens (B, T), wte (V, C), wpe (P, C), P >= T:
/// the twin of ops/embedding.hpp's embedding_forward for models with a position table (unlike
/// the op it needs `wpe`, and it checks neither shapes nor token ids).
template <class T>
void embedding_forward(TensorView<T> out, ConstView<std::int32_t> tokens, ConstView<T> wte,
                       ConstView<T> wpe) {
  const Index B = tokens.dim(0), T_ = tokens.dim(1), C = wte.dim(1);
  for (Index b = 0; b < B; ++b)
    for (Index t = 0; t < T_; ++t)
      for (Index c = 0; c < C; ++c)
        out[(b * T_ + t) * C + c] = wte[tokens[b * T_ + t] * C + c] + wpe[t * C + c];
}

/// d_wte (V, C) += the rows of d_out (B, T, C) by token, d_wpe (P, C) += d_out summed over the
/// batch: the twin of embedding_backward, with `wpe` needed as in the forward.
template <class T>
void embedding_backward(TensorView<T> d_wte, TensorView<T> d_wpe, ConstView<T> d_out,
                        ConstView<std::int32_t> tokens) {
  const Index B = tokens.dim(0), T_ = tokens.dim(1), C = d_wte.dim(1);
  for (Index b = 0; b < B; ++b)
    for (Index t = 0; t < T_; ++t)
      for (Index c = 0; c < C; ++c) {
        d_wte[tokens[b * T_ + t] * C + c] += d_out[(b * T_ + t) * C + c];
        d_wpe[t * C + c] += d_out[(b * T_ + t) * C + c];
      }
}

}  // namespace est::reference
