#pragma once
// Global gradient norm and clipping on the CPU, with PyTorch's definition
// (torch.nn.utils.clip_grad_norm_): the norm is the 2-norm of all gradient elements together;
// when it exceeds max_norm, every gradient is multiplied by max_norm / (norm + 1e-6). The CUDA
// twins are in backend/cuda/norm.cuh, the plain ones in reference/norm.hpp.

#include <cmath>
#include <vector>

#include "est/backend/cpu/parallel.hpp"
#include "est/core/context.hpp"
#include "est/core/error.hpp"
#include "est/core/tensor.hpp"

namespace est {

/// The 2-norm of `values`, accumulated in double. Each thread sums a fixed block and the
/// partial sums are added in block order, so the result depends only on the thread count.
template <class T>
[[nodiscard]] double global_norm(const Context<cpu>& ctx, ConstView<T> values) {
  const Index n = values.numel();
  const int parts = std::max(1, std::min<int>(ctx.threads(), static_cast<int>(n / 65536) + 1));
  std::vector<double> partial(static_cast<std::size_t>(parts), 0.0);
  const Index chunk = (n + parts - 1) / parts;
  cpu_detail::parallel_for(Context<cpu>(parts), parts, [&](Index p) {
    const Index begin = std::min(n, p * chunk), end = std::min(n, begin + chunk);
    double sum = 0;
    for (Index i = begin; i < end; ++i) sum += double(values[i]) * double(values[i]);
    partial[static_cast<std::size_t>(p)] = sum;
  });
  double total = 0;
  for (double s : partial) total += s;
  return std::sqrt(total);
}

/// Scales `grads` so that their global norm is at most `max_norm` (> 0); returns the norm
/// before clipping. A non-finite norm is returned without touching the gradients: the caller
/// decides (est's trainer skips such a step).
template <class T>
double clip_grad_norm(const Context<cpu>& ctx, TensorView<T> grads, double max_norm) {
  require<value_error>(std::isfinite(max_norm) && max_norm > 0,
                       "clip_grad_norm: max_norm must be finite and > 0, got ", max_norm);
  const double norm = global_norm<T>(ctx, grads);
  if (!std::isfinite(norm)) return norm;
  const double coefficient = max_norm / (norm + 1e-6);
  if (coefficient < 1.0) {
    const T c = static_cast<T>(coefficient);
    cpu_detail::parallel_blocks(ctx, grads.numel(), [&](Index begin, Index size) {
      for (Index i = begin; i < begin + size; ++i) grads[i] *= c;
    });
  }
  return norm;
}

}  // namespace est
