#pragma once
// Reference twin of est/backend/cpu/cross_entropy.hpp: softmax, then the loss and its gradient
// from their textbook definitions, in separate loops.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "est/core/tensor.hpp"

namespace est::reference {

/// losses (N) = -log softmax(logits (N, V))[targets (N)]; unless `d_logits` has no rows it
/// receives grad_scale · (softmax - onehot) (N, V), and it may alias `logits`. Returns the mean
/// loss. The twin of ops/cross_entropy.hpp; neither shapes nor token ids are checked.
template <class T>
double softmax_cross_entropy(TensorView<T> losses, MatrixView<T> d_logits, ConstMatrix<T> logits,
                             ConstView<std::int32_t> targets, T grad_scale) {
  const Index n = logits.rows(), v = logits.cols();
  double total = 0;
  std::vector<T> prob(static_cast<std::size_t>(v));
  for (Index r = 0; r < n; ++r) {
    T max = logits(r, 0);
    for (Index j = 1; j < v; ++j) max = std::max(max, logits(r, j));
    T sum = 0;
    for (Index j = 0; j < v; ++j) sum += std::exp(logits(r, j) - max);
    for (Index j = 0; j < v; ++j) prob[j] = std::exp(logits(r, j) - max) / sum;
    losses[r] = -std::log(prob[targets[r]]);
    total += static_cast<double>(losses[r]);
    if (d_logits.rows() != 0) {
      for (Index j = 0; j < v; ++j)
        d_logits(r, j) = grad_scale * (prob[j] - (j == targets[r] ? T(1) : T(0)));
    }
  }
  return n ? total / static_cast<double>(n) : 0.0;
}

}  // namespace est::reference
