#pragma once
// Softmax cross-entropy fused with its gradient: one pass per row computes the loss and, when
// asked, overwrites a gradient buffer (which may be the logits buffer itself) with
// scale · (softmax(logits) - onehot(target)). Shapes: N rows (B*T), V vocabulary.

#include <cmath>
#include <cstdint>

#include "est/backend/cpu/arrays.hpp"
#include "est/backend/cpu/parallel.hpp"
#include "est/core/checks.hpp"
#include "est/core/op_checks.hpp"
#include "est/core/tensor.hpp"

namespace est {

/// losses (N) = -log softmax(logits (N, V))[targets (N)]. When `d_logits` is not empty it
/// receives grad_scale · (softmax - onehot) (N, V); it may alias `logits`. Returns the mean loss.
template <class T>
double softmax_cross_entropy(const Context<cpu>& ctx, TensorView<T> losses, MatrixView<T> d_logits,
                             ConstMatrix<T> logits, ConstView<std::int32_t> targets,
                             T grad_scale) {
  const Index n = logits.rows(), v = logits.cols();
  const bool with_grad =
      op_checks::softmax_cross_entropy(d_logits, logits, targets.numel(), losses.numel());
  check_token_ids(targets, v, "softmax_cross_entropy", "targets");
  using cpu_detail::ConstRowArray;
  cpu_detail::parallel_for(ctx, n, [&](Index r) {
    const ConstRowArray<T> z(&logits(r, 0), v);
    const T max = z.maxCoeff();
    const T sum = (z - max).exp().sum();
    const Index target = targets[r];
    const T z_target = z[target];
    losses[r] = std::log(sum) - (z_target - max);
    if (with_grad) {
      // Every read of this row happened above, so writing over it is safe when it aliases.
      cpu_detail::RowArray<T> g(&d_logits(r, 0), v);
      g = (z - max).exp() * (grad_scale / sum);
      g[target] -= grad_scale;
    }
  });
  double total = 0;
  for (Index r = 0; r < n; ++r) total += static_cast<double>(losses[r]);
  return n > 0 ? total / static_cast<double>(n) : 0.0;
}

}  // namespace est
