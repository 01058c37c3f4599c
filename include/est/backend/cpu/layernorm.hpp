#pragma once
// LayerNorm over the last dimension: out = (x - mean) * rstd * weight + bias, with
// rstd = 1 / sqrt(var + eps) and the biased variance, as torch.nn.LayerNorm computes it.
// Shapes: N rows (B*T), C features.

#include <cmath>
#include <vector>

#include "est/backend/cpu/arrays.hpp"
#include "est/backend/cpu/parallel.hpp"
#include "est/core/checks.hpp"
#include "est/core/op_checks.hpp"
#include "est/core/tensor.hpp"

namespace est {

/// out (N, C), mean (N), rstd (N) from x (N, C), weight (C), bias (C). The statistics are saved
/// for the backward pass.
template <class T>
void layernorm_forward(const Context<cpu>& ctx, MatrixView<T> out, TensorView<T> mean,
                       TensorView<T> rstd, ConstMatrix<T> x, ConstView<T> weight,
                       ConstView<T> bias, T eps = T(1e-5)) {
  op_checks::layernorm_forward(out, mean.numel(), rstd.numel(), x, weight.numel(), bias.numel(),
                               double(eps));
  const Index n = x.rows(), c = x.cols();
  const cpu_detail::ConstRowArray<T> w(weight.data(), c), b(bias.data(), c);
  cpu_detail::parallel_for(ctx, n, [&](Index r) {
    const cpu_detail::ConstRowArray<T> xr(&x(r, 0), c);
    const T m = xr.mean();
    const T var = (xr - m).square().mean();
    const T s = T(1) / std::sqrt(var + eps);
    cpu_detail::RowArray<T>(&out(r, 0), c) = (xr - m) * s * w + b;
    mean[r] = m;
    rstd[r] = s;
  });
}

/// d_x (N, C) += ∂loss/∂x; d_weight (C) += ...; d_bias (C) += ..., from d_out (N, C) and the
/// saved x, weight, mean, rstd. d_x must not share memory with d_out or x.
template <class T>
void layernorm_backward(const Context<cpu>& ctx, MatrixView<T> d_x, TensorView<T> d_weight,
                        TensorView<T> d_bias, ConstMatrix<T> d_out, ConstMatrix<T> x,
                        ConstView<T> weight, ConstView<T> mean, ConstView<T> rstd) {
  op_checks::layernorm_backward(d_x, d_weight.numel(), d_bias.numel(), d_out, x, weight.numel(),
                                mean.numel(), rstd.numel());
  const Index n = x.rows(), c = x.cols();
  const cpu_detail::ConstRowArray<T> w(weight.data(), c);
  // Each thread sums its rows' weight/bias gradients privately; the partial sums are added in
  // thread order afterwards, so the result is deterministic.
  const int parts = static_cast<int>(std::clamp<Index>(n, 1, ctx.threads()));
  std::vector<Eigen::Array<T, 1, Eigen::Dynamic>> dw_part(parts), db_part(parts);
  const Index chunk = (n + parts - 1) / parts;
  cpu_detail::parallel_for(ctx, parts, [&](Index p) {
    auto& dw = dw_part[p];
    auto& db = db_part[p];
    dw.setZero(c);
    db.setZero(c);
    Eigen::Array<T, 1, Eigen::Dynamic> xhat(c), dnorm(c);
    for (Index r = p * chunk; r < std::min(n, (p + 1) * chunk); ++r) {
      const cpu_detail::ConstRowArray<T> xr(&x(r, 0), c), dy(&d_out(r, 0), c);
      xhat = (xr - mean[r]) * rstd[r];
      dnorm = dy * w;
      const T mean_dnorm = dnorm.mean();
      const T mean_dnorm_xhat = (dnorm * xhat).mean();
      cpu_detail::RowArray<T>(&d_x(r, 0), c) += (dnorm - mean_dnorm - xhat * mean_dnorm_xhat) * rstd[r];
      dw += dy * xhat;
      db += dy;
    }
  });
  cpu_detail::RowArray<T> dw_total(d_weight.data(), c), db_total(d_bias.data(), c);
  for (int p = 0; p < parts; ++p) {
    dw_total += dw_part[p];
    db_total += db_part[p];
  }
}

}  // namespace est
