#pragma once
// RMSNorm over the last dimension: out = x · rstd · weight, rstd = 1 / sqrt(mean(x²) + eps), as
// Hugging Face's LlamaRMSNorm computes it (no mean subtraction, no bias).
// Shapes: N rows (B*T), C features.

#include <algorithm>
#include <cmath>
#include <vector>

#include "est/backend/cpu/arrays.hpp"
#include "est/backend/cpu/parallel.hpp"
#include "est/core/op_checks.hpp"
#include "est/core/tensor.hpp"

namespace est {

/// out (N, C) and rstd (N) from x (N, C), weight (C). rstd is saved for the backward pass.
template <class T>
void rmsnorm_forward(const Context<cpu>& ctx, MatrixView<T> out, TensorView<T> rstd,
                     ConstMatrix<T> x, ConstView<T> weight, T eps = T(1e-5)) {
  op_checks::rmsnorm("rmsnorm_forward", out, x, rstd.numel(), weight.numel(), double(eps));
  const Index n = x.rows(), c = x.cols();
  const cpu_detail::ConstRowArray<T> w(weight.data(), c);
  cpu_detail::parallel_for(ctx, n, [&](Index r) {
    const cpu_detail::ConstRowArray<T> xr(&x(r, 0), c);
    const T s = T(1) / std::sqrt(xr.square().mean() + eps);
    cpu_detail::RowArray<T>(&out(r, 0), c) = xr * s * w;
    rstd[r] = s;
  });
}

/// d_x (N, C) += ∂loss/∂x and d_weight (C) += ∂loss/∂weight, from d_out (N, C) and the saved x,
/// weight, rstd. With x̂ = x·rstd and g = d_out ⊙ weight: d_x = rstd · (g − x̂ · mean(g ⊙ x̂)).
/// d_x must not share memory with d_out or x.
template <class T>
void rmsnorm_backward(const Context<cpu>& ctx, MatrixView<T> d_x, TensorView<T> d_weight,
                      ConstMatrix<T> d_out, ConstMatrix<T> x, ConstView<T> weight,
                      ConstView<T> rstd) {
  op_checks::rmsnorm("rmsnorm_backward", d_x, x, rstd.numel(), weight.numel(), 0.0);
  op_checks::rmsnorm("rmsnorm_backward", d_out, x, rstd.numel(), d_weight.numel(), 0.0);
  expect_no_overlap(d_x, d_out, "rmsnorm_backward", "d_x", "d_out");
  const Index n = x.rows(), c = x.cols();
  const cpu_detail::ConstRowArray<T> w(weight.data(), c);
  // Each thread sums its rows' weight gradient privately; the partial sums are added in thread
  // order afterwards, so the result is deterministic.
  const int parts = static_cast<int>(std::clamp<Index>(n, 1, ctx.threads()));
  std::vector<Eigen::Array<T, 1, Eigen::Dynamic>> dw_part(parts);
  const Index chunk = (n + parts - 1) / parts;
  cpu_detail::parallel_for(ctx, parts, [&](Index p) {
    auto& dw = dw_part[p];
    dw.setZero(c);
    Eigen::Array<T, 1, Eigen::Dynamic> xhat(c), g(c);
    for (Index r = p * chunk; r < std::min(n, (p + 1) * chunk); ++r) {
      const cpu_detail::ConstRowArray<T> xr(&x(r, 0), c), dy(&d_out(r, 0), c);
      xhat = xr * rstd[r];
      g = dy * w;
      const T mean_g_xhat = (g * xhat).mean();
      cpu_detail::RowArray<T>(&d_x(r, 0), c) += (g - xhat * mean_g_xhat) * rstd[r];
      dw += dy * xhat;
    }
  });
  cpu_detail::RowArray<T> dw_total(d_weight.data(), c);
  for (int p = 0; p < parts; ++p) dw_total += dw_part[p];
}

}  // namespace est
