#pragma once
// Token + position embedding: out[b, t] = wte[tokens[b, t]] + wpe[t], or wte[tokens[b, t]] alone
// when wpe is empty (shape (0, C): models with rotary positions have no position table).
// Shapes: B batch, T sequence length, C width, V vocabulary, P positions (context).

#include <cstdint>

#include "est/backend/cpu/arrays.hpp"
#include "est/backend/cpu/parallel.hpp"
#include "est/core/checks.hpp"
#include "est/core/op_checks.hpp"
#include "est/core/tensor.hpp"

namespace est {

/// out (B, T, C) from tokens (B, T), wte (V, C), wpe (P, C). Token ids are checked.
template <class T>
void embedding_forward(const Context<cpu>& ctx, TensorView<T> out, ConstView<std::int32_t> tokens,
                       ConstView<T> wte, ConstView<T> wpe) {
  const bool positions = op_checks::embedding("embedding_forward", tokens.shape(), out.shape(),
                                               wte.shape(), wpe.shape());
  const Index B = tokens.dim(0), T_ = tokens.dim(1), C = wte.dim(1);
  check_token_ids(tokens, wte.dim(0), "embedding_forward", "tokens");
  using cpu_detail::ConstRowArray;
  cpu_detail::parallel_for(ctx, B * T_, [&](Index bt) {
    const Index t = bt % T_;
    cpu_detail::RowArray<T> row(out.data() + bt * C, C);
    row = ConstRowArray<T>(wte.data() + tokens[bt] * C, C);
    if (positions) row += ConstRowArray<T>(wpe.data() + t * C, C);
  });
}

/// d_wte (V, C) += scatter of d_out rows by token; d_wpe (P, C) += sum over the batch (unless
/// wpe is empty).
template <class T>
void embedding_backward(const Context<cpu>& ctx, TensorView<T> d_wte, TensorView<T> d_wpe,
                        ConstView<T> d_out, ConstView<std::int32_t> tokens) {
  const bool positions = op_checks::embedding("embedding_backward", tokens.shape(), d_out.shape(),
                                               d_wte.shape(), d_wpe.shape());
  const Index B = tokens.dim(0), T_ = tokens.dim(1), C = d_wte.dim(1);
  check_token_ids(tokens, d_wte.dim(0), "embedding_backward", "tokens");
  // Several positions may share a token, so threads split the columns, not the rows: every
  // element of d_wte is then summed by one thread in position order (deterministic, no races).
  cpu_detail::parallel_ranges(ctx, C, [&](Index c0, Index c1) {
    for (Index bt = 0; bt < B * T_; ++bt) {
      const T* dy = d_out.data() + bt * C;
      T* dwte = d_wte.data() + tokens[bt] * C;
      for (Index c = c0; c < c1; ++c) dwte[c] += dy[c];
      if (!positions) continue;
      T* dwpe = d_wpe.data() + (bt % T_) * C;
      for (Index c = c0; c < c1; ++c) dwpe[c] += dy[c];
    }
  });
}

}  // namespace est
