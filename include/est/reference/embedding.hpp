#pragma once
// Reference twin of est/backend/cpu/embedding.hpp.

#include <cstdint>

#include "est/core/tensor.hpp"

namespace est::reference {

template <class T>
void embedding_forward(TensorView<T> out, ConstView<std::int32_t> tokens, ConstView<T> wte,
                       ConstView<T> wpe) {
  const Index B = tokens.dim(0), T_ = tokens.dim(1), C = wte.dim(1);
  for (Index b = 0; b < B; ++b)
    for (Index t = 0; t < T_; ++t)
      for (Index c = 0; c < C; ++c)
        out[(b * T_ + t) * C + c] = wte[tokens[b * T_ + t] * C + c] + wpe[t * C + c];
}

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
