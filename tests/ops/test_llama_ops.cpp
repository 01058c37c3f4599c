// The Llama ops (RMSNorm, RoPE, SwiGLU, grouped-query attention through expand_kv / reduce_kv)
// against their reference twins, the references against finite differences, and RoPE against
// closed-form rotations.

#include <catch2/catch.hpp>

#include <cmath>
#include <complex>
#include <vector>

#include <est/backend/cpu/attention.hpp>
#include <est/backend/cpu/kv_groups.hpp>
#include <est/backend/cpu/rmsnorm.hpp>
#include <est/backend/cpu/rope.hpp>
#include <est/backend/cpu/swiglu.hpp>
#include <est/ops/rope_table.hpp>
#include <est/models/llama/parameters.hpp>
#include <est/reference/gqa_attention.hpp>
#include <est/reference/rmsnorm.hpp>
#include <est/reference/rope.hpp>
#include <est/reference/swiglu.hpp>

#include "../support/test_support.hpp"

using est::Context;
using est::Index;
using est::Tensor;
using est::testing::nan_tensor;
using est::testing::numerical_gradient;
using est::testing::random_tensor;
using est::testing::relative_error;
using est::testing::tolerance;

TEMPLATE_TEST_CASE("rmsnorm forward and backward match the reference", "[llama][rmsnorm]", float,
                   double) {
  using T = TestType;
  const auto [n, c] = GENERATE(std::pair<int, int>{1, 1}, std::pair<int, int>{5, 7},
                               std::pair<int, int>{37, 129}, std::pair<int, int>{16, 768});
  const Context<est::cpu> ctx(GENERATE(1, 2));
  auto x = random_tensor<T>({n, c}, 1, 2.0);
  auto w = random_tensor<T>({c}, 2);
  auto out = nan_tensor<T>({n, c});
  Tensor<T> out_ref({n, c}), rstd({n}), rstd_ref({n});
  est::rmsnorm_forward<T>(ctx, out.view().matrix(), rstd, x.view().matrix(), w, T(1e-5));
  est::reference::rmsnorm_forward<T>(out_ref.view().matrix(), rstd_ref, x.view().matrix(), w,
                                     T(1e-5));
  CHECK(relative_error(out, out_ref) <= tolerance<T>() * 10);
  CHECK(relative_error(rstd, rstd_ref) <= tolerance<T>() * 10);

  auto d_out = random_tensor<T>({n, c}, 4);
  auto dx = random_tensor<T>({n, c}, 5), dx_ref = dx;  // accumulated into
  auto dw = random_tensor<T>({c}, 6), dw_ref = dw;
  est::rmsnorm_backward<T>(ctx, dx.view().matrix(), dw, d_out.view().matrix(), x.view().matrix(),
                           w, rstd_ref);
  est::reference::rmsnorm_backward<T>(dx_ref.view().matrix(), dw_ref, d_out.view().matrix(),
                                      x.view().matrix(), w, rstd_ref);
  CHECK(relative_error(dx, dx_ref) <= (std::is_same_v<T, float> ? 1e-4 : 1e-10));
  CHECK(relative_error(dw, dw_ref) <= tolerance<T>() * 10);
}

TEST_CASE("reference rmsnorm backward equals finite differences", "[llama][rmsnorm][reference]") {
  const int n = 3, c = 6;
  auto x = random_tensor<double>({n, c}, 8);
  auto w = random_tensor<double>({c}, 9);
  auto probe = random_tensor<double>({n, c}, 11);
  Tensor<double> out({n, c}), rstd({n});
  auto loss = [&] {
    est::reference::rmsnorm_forward<double>(out.view().matrix(), rstd, x.view().matrix(), w, 1e-5);
    return est::testing::dot(out, probe);
  };
  loss();
  Tensor<double> dx({n, c}), dw({c});
  est::reference::rmsnorm_backward<double>(dx.view().matrix(), dw, probe.view().matrix(),
                                           x.view().matrix(), w, rstd);
  CHECK(relative_error(dx, numerical_gradient(x.data(), x.numel(), loss)) < 1e-9);
  CHECK(relative_error(dw, numerical_gradient(w.data(), w.numel(), loss)) < 1e-9);
}

TEST_CASE("rope tables are Hugging Face's angles", "[llama][rope]") {
  const Index P = 40, d = 16;
  const auto table = est::rope_table<double>(P, d, 10000.0);
  for (Index t : {0, 1, 7, 39}) {
    for (Index i = 0; i < d / 2; ++i) {
      const double angle = double(t) * std::pow(10000.0, -2.0 * double(i) / double(d));
      // transformers rounds frequencies and angles to float: agreement to float precision.
      CHECK(table.cos[t * d / 2 + i] == Approx(std::cos(angle)).margin(1e-5));
      CHECK(table.sin[t * d / 2 + i] == Approx(std::sin(angle)).margin(1e-5));
    }
  }
  EST_CHECK_THROWS(est::rope_table<float>(4, 7, 10000.0), est::value_error, "even head size");
}

TEST_CASE("rope rotates every pair by its closed-form angle and preserves norms",
          "[llama][rope]") {
  const Index B = 2, T_ = 5, d = 8, heads = 3, first = 4, W = first + heads * d + 3;
  const double theta = 500.0;
  const auto table = est::rope_table<double>(T_, d, theta);
  const Context<est::cpu> ctx(2);
  auto x = random_tensor<double>({B, T_, W}, 1);
  auto y = x;
  est::rope_forward<double>(ctx, y, first, heads, d, table.cos, table.sin);
  for (Index b = 0; b < B; ++b)
    for (Index t = 0; t < T_; ++t) {
      const Index row = (b * T_ + t) * W;
      for (Index c = 0; c < W; ++c) {
        if (c < first || c >= first + heads * d) CHECK(y[row + c] == x[row + c]);  // untouched
      }
      for (Index h = 0; h < heads; ++h)
        for (Index i = 0; i < d / 2; ++i) {
          const double angle = double(t) / std::pow(theta, 2.0 * double(i) / double(d));
          const Index lo = row + first + h * d + i, hi = lo + d / 2;
          // The pair (x_i, x_{i+d/2}) as a complex number times e^{i·angle}.
          const std::complex<double> z(x[lo], x[hi]), r = z * std::polar(1.0, angle);
          CHECK(y[lo] == Approx(r.real()).margin(1e-5));
          CHECK(y[hi] == Approx(r.imag()).margin(1e-5));
        }
    }
  // The backward pass is the inverse rotation: it undoes the forward exactly (up to rounding).
  est::rope_backward<double>(ctx, y, first, heads, d, table.cos, table.sin);
  CHECK(relative_error(y, x) < 1e-14);
}

TEMPLATE_TEST_CASE("rope forward and backward match the reference", "[llama][rope]", float,
                   double) {
  using T = TestType;
  const Index B = 3, T_ = 7, d = GENERATE(2, 8, 64), heads = 3, W = 4 * heads * d;
  const Index first = GENERATE(Index(0), Index(2));
  const auto table = est::rope_table<T>(T_ + 2, d, 10000.0);  // P > T is allowed
  const Context<est::cpu> ctx(GENERATE(1, 2));
  auto x = random_tensor<T>({B, T_, W}, 3);
  auto x_ref = x;
  est::rope_forward<T>(ctx, x, first * d, heads, d, table.cos, table.sin);
  est::reference::rope_forward<T>(x_ref, first * d, heads, d, table.cos, table.sin);
  CHECK(relative_error(x, x_ref) <= tolerance<T>());
  est::rope_backward<T>(ctx, x, first * d, heads, d, table.cos, table.sin);
  est::reference::rope_backward<T>(x_ref, first * d, heads, d, table.cos, table.sin);
  CHECK(relative_error(x, x_ref) <= tolerance<T>());
}

TEST_CASE("reference rope backward equals finite differences", "[llama][rope][reference]") {
  const Index B = 1, T_ = 4, d = 6, heads = 2, W = heads * d;
  const auto table = est::rope_table<double>(T_, d, 10000.0);
  auto x = random_tensor<double>({B, T_, W}, 5);
  auto probe = random_tensor<double>({B, T_, W}, 6);
  auto loss = [&] {
    auto y = x;
    est::reference::rope_forward<double>(y, 0, heads, d, table.cos, table.sin);
    return est::testing::dot(y, probe);
  };
  auto g = probe;
  est::reference::rope_backward<double>(g, 0, heads, d, table.cos, table.sin);
  CHECK(relative_error(g, numerical_gradient(x.data(), x.numel(), loss)) < 1e-9);
}

TEMPLATE_TEST_CASE("swiglu forward and backward match the reference", "[llama][swiglu]", float,
                   double) {
  using T = TestType;
  const auto [n, m] = GENERATE(std::pair<int, int>{1, 1}, std::pair<int, int>{9, 33},
                               std::pair<int, int>{64, 256});
  const Context<est::cpu> ctx(GENERATE(1, 2));
  auto gate_up = random_tensor<T>({n, 2 * m}, 1, 3.0);
  auto out = nan_tensor<T>({n, m});
  Tensor<T> out_ref({n, m});
  est::swiglu_forward<T>(ctx, out.view().matrix(), gate_up.view().matrix());
  est::reference::swiglu_forward<T>(out_ref.view().matrix(), gate_up.view().matrix());
  CHECK(relative_error(out, out_ref) <= tolerance<T>());
  auto d_out = random_tensor<T>({n, m}, 2);
  auto d_gate_up = nan_tensor<T>({n, 2 * m});
  Tensor<T> d_ref({n, 2 * m});
  est::swiglu_backward<T>(ctx, d_gate_up.view().matrix(), d_out.view().matrix(),
                          gate_up.view().matrix());
  est::reference::swiglu_backward<T>(d_ref.view().matrix(), d_out.view().matrix(),
                                     gate_up.view().matrix());
  CHECK(relative_error(d_gate_up, d_ref) <= tolerance<T>() * 10);
}

TEST_CASE("reference swiglu backward equals finite differences", "[llama][swiglu][reference]") {
  const int n = 3, m = 5;
  auto gate_up = random_tensor<double>({n, 2 * m}, 7, 2.0);
  auto probe = random_tensor<double>({n, m}, 8);
  Tensor<double> out({n, m});
  auto loss = [&] {
    est::reference::swiglu_forward<double>(out.view().matrix(), gate_up.view().matrix());
    return est::testing::dot(out, probe);
  };
  Tensor<double> g({n, 2 * m});
  est::reference::swiglu_backward<double>(g.view().matrix(), probe.view().matrix(),
                                          gate_up.view().matrix());
  CHECK(relative_error(g, numerical_gradient(gate_up.data(), gate_up.numel(), loss)) < 1e-9);
}

namespace {
/// Group of each of `heads` for `group_size` query heads per group, renumbered over the groups
/// in use (as the model does).
std::vector<Index> groups_of(const std::vector<int>& heads, int group_size) {
  std::vector<Index> groups, of_head;
  est::llama_kv_groups(heads, group_size, groups, of_head);
  return of_head;
}
}  // namespace

TEMPLATE_TEST_CASE("grouped-query attention through expand_kv and reduce_kv matches the reference",
                   "[llama][gqa]", float, double) {
  using T = TestType;
  const Index B = 2, T_ = 9, d = 8;
  // (active heads, heads per group): full GQA (8 heads in 2 groups), a subset reading both
  // groups, a subset reading one group, plain multi-head attention (group size 1).
  const auto [heads, group_size] = GENERATE(
      std::pair<std::vector<int>, int>{{0, 1, 2, 3, 4, 5, 6, 7}, 4},
      std::pair<std::vector<int>, int>{{1, 2, 6}, 4}, std::pair<std::vector<int>, int>{{5, 7}, 4},
      std::pair<std::vector<int>, int>{{0, 2, 3}, 1});
  const auto of_head = groups_of(heads, group_size);
  const Index h = std::ssize(heads), g = of_head.back() + 1, N = B * T_;
  const Context<est::cpu> ctx(GENERATE(1, 2));
  auto packed = random_tensor<T>({B, T_, (h + 2 * g) * d}, 1);
  auto qkv = nan_tensor<T>({B, T_, 3 * h * d});
  Tensor<T> out({B, T_, h * d}), probs({B, h, T_, T_}), out_ref({B, T_, h * d}),
      probs_ref({B, h, T_, T_});
  est::expand_kv<T>(ctx, qkv.view().matrix(N), packed.view().matrix(N), of_head, d);
  est::attention_forward<T>(ctx, out, probs, qkv, h);
  est::reference::gqa_attention_forward<T>(out_ref, probs_ref, packed, of_head, d);
  CHECK(relative_error(out, out_ref) <= tolerance<T>() * 10);
  CHECK(relative_error(probs, probs_ref) <= tolerance<T>() * 10);

  auto d_out = random_tensor<T>({B, T_, h * d}, 2);
  Tensor<T> d_qkv({B, T_, 3 * h * d}), d_ref({B, T_, (h + 2 * g) * d});
  auto d_packed = nan_tensor<T>({B, T_, (h + 2 * g) * d});
  est::attention_backward<T>(ctx, d_qkv, d_out, qkv, probs, h);
  est::reduce_kv<T>(ctx, d_packed.view().matrix(N), d_qkv.view().matrix(N), of_head, d);
  est::reference::gqa_attention_backward<T>(d_ref, d_out, packed, probs_ref, of_head, d);
  CHECK(relative_error(d_packed, d_ref) <= tolerance<T>() * 20);
}

TEST_CASE("reference grouped-query attention backward equals finite differences",
          "[llama][gqa][reference]") {
  const Index B = 1, T_ = 4, d = 2;
  const std::vector<Index> of_head{0, 0, 1};  // three heads, two groups
  const Index h = 3, g = 2;
  auto packed = random_tensor<double>({B, T_, (h + 2 * g) * d}, 3);
  auto probe = random_tensor<double>({B, T_, h * d}, 4);
  Tensor<double> out({B, T_, h * d}), probs({B, h, T_, T_});
  auto loss = [&] {
    est::reference::gqa_attention_forward<double>(out, probs, packed, of_head, d);
    return est::testing::dot(out, probe);
  };
  loss();
  Tensor<double> grad({B, T_, (h + 2 * g) * d});
  est::reference::gqa_attention_backward<double>(grad, probe, packed, probs, of_head, d);
  CHECK(relative_error(grad, numerical_gradient(packed.data(), packed.numel(), loss)) < 1e-9);
}

TEST_CASE("Llama ops refuse bad arguments before writing", "[llama][errors]") {
  const Context<est::cpu> ctx(1);
  Tensor<float> x({4, 6}), out({4, 6}), rstd({3}), w({6});
  EST_CHECK_THROWS(est::rmsnorm_forward<float>(ctx, out.view().matrix(), rstd, x.view().matrix(),
                                               w),
                   est::shape_error, "rmsnorm_forward: rstd needs 4 elements");
  const auto table = est::rope_table<float>(4, 4, 10000.0);
  Tensor<float> y({1, 6, 8});
  EST_CHECK_THROWS(est::rope_forward<float>(ctx, y, 0, 2, 4, table.cos, table.sin),
                   est::shape_error, "with P >= T = 6");
  EST_CHECK_THROWS(est::rope_forward<float>(ctx, y, 4, 2, 4, table.cos, table.sin),
                   est::value_error, "columns [4, 12) do not fit x of width 8");
  Tensor<float> gate_up({4, 10}), act({4, 6});
  EST_CHECK_THROWS(est::swiglu_forward<float>(ctx, act.view().matrix(), gate_up.view().matrix()),
                   est::shape_error, "expected (N, 2m) and (N, m)");
  Tensor<float> packed({4, 16}), expanded({4, 24});
  const std::vector<Index> skips{0, 2};
  EST_CHECK_THROWS(est::expand_kv<float>(ctx, expanded.view().matrix(), packed.view().matrix(),
                                         skips, 4),
                   est::value_error, "rise by 0 or 1");
}
