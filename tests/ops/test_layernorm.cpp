// est/backend/cpu/layernorm.hpp against reference::layernorm_*, and the reference backward
// against finite differences.

#include <catch2/catch.hpp>

#include <est/backend/cpu/layernorm.hpp>
#include <est/reference/layernorm.hpp>

#include "../support/test_support.hpp"

using est::Context;
using est::Tensor;
using est::testing::random_tensor;
using est::testing::relative_error;
using est::testing::tolerance;

TEMPLATE_TEST_CASE("layernorm forward and backward match the reference", "[layernorm]", float,
                   double) {
  using T = TestType;
  const auto [n, c] = GENERATE(std::pair<int, int>{1, 1}, std::pair<int, int>{5, 7},
                               std::pair<int, int>{37, 129}, std::pair<int, int>{64, 768});
  const Context<est::cpu> ctx(GENERATE(1, 2));
  auto x = random_tensor<T>({n, c}, 1, 3.0);
  for (int i = 0; i < x.numel(); ++i) x[i] += T(1.5);  // a non-zero mean to remove
  auto w = random_tensor<T>({c}, 2);
  auto b = random_tensor<T>({c}, 3);
  auto out = est::testing::nan_tensor<T>({n, c});  // written, not accumulated
  Tensor<T> out_ref({n, c}), mean({n}), mean_ref({n}), rstd({n}), rstd_ref({n});
  est::layernorm_forward<T>(ctx, out.view().matrix(), mean, rstd, x.view().matrix(), w, b);
  est::reference::layernorm_forward<T>(out_ref.view().matrix(), mean_ref, rstd_ref,
                                       x.view().matrix(), w, b);
  // Single-element rows have zero variance: the output is the bias and rstd = 1/sqrt(eps).
  CHECK(relative_error(out, out_ref) <= tolerance<T>() * 10);
  CHECK(relative_error(mean, mean_ref) <= tolerance<T>() * 10);
  CHECK(relative_error(rstd, rstd_ref) <= tolerance<T>() * 10);

  auto d_out = random_tensor<T>({n, c}, 4);
  auto dx = random_tensor<T>({n, c}, 5), dx_ref = dx;  // accumulated into
  auto dw = random_tensor<T>({c}, 6), dw_ref = dw;
  auto db = random_tensor<T>({c}, 7), db_ref = db;
  est::layernorm_backward<T>(ctx, dx.view().matrix(), dw, db, d_out.view().matrix(),
                             x.view().matrix(), w, mean_ref, rstd_ref);
  est::reference::layernorm_backward<T>(dx_ref.view().matrix(), dw_ref, db_ref,
                                        d_out.view().matrix(), x.view().matrix(), w, mean_ref,
                                        rstd_ref);
  // The input gradient subtracts nearly equal terms; float keeps ~1e-4 of its scale.
  CHECK(relative_error(dx, dx_ref) <= (std::is_same_v<T, float> ? 2e-4 : 1e-10));
  CHECK(relative_error(dw, dw_ref) <= tolerance<T>() * 10);
  CHECK(relative_error(db, db_ref) <= tolerance<T>() * 10);
}

TEST_CASE("reference layernorm backward equals finite differences", "[layernorm][reference]") {
  const int n = 3, c = 6;
  auto x = random_tensor<double>({n, c}, 8);
  auto w = random_tensor<double>({c}, 9);
  auto b = random_tensor<double>({c}, 10);
  auto probe = random_tensor<double>({n, c}, 11);
  Tensor<double> out({n, c}), mean({n}), rstd({n});
  auto loss = [&] {
    est::reference::layernorm_forward<double>(out.view().matrix(), mean, rstd, x.view().matrix(), w, b);
    return est::testing::dot(out, probe);
  };
  loss();
  Tensor<double> dx({n, c}), dw({c}), db({c});
  est::reference::layernorm_backward<double>(dx.view().matrix(), dw, db, probe.view().matrix(),
                                             x.view().matrix(), w, mean, rstd);
  CHECK(relative_error(dx, est::testing::numerical_gradient(x.data(), x.numel(), loss)) < 1e-8);
  CHECK(relative_error(dw, est::testing::numerical_gradient(w.data(), w.numel(), loss)) < 1e-8);
  CHECK(relative_error(db, est::testing::numerical_gradient(b.data(), b.numel(), loss)) < 1e-8);
}

TEST_CASE("layernorm rejects bad shapes and eps", "[layernorm][errors]") {
  {
    const Context<est::cpu> ctx1(1);
    Tensor<float> x0({3, 0}), out0({3, 0}), m0({3}), r0({3}), w0({0}), b0({0});
    EST_CHECK_THROWS(est::layernorm_forward<float>(ctx1, out0.view().matrix(3), m0, r0,
                                                   x0.view().matrix(3), w0, b0),
                     est::shape_error, "x has 0 features, expected at least 1");
  }
  const Context<est::cpu> ctx(1);
  Tensor<float> x({4, 8}), out({4, 8}), mean({4}), rstd({3}), w({8}), b({8});
  EST_CHECK_THROWS(est::layernorm_forward<float>(ctx, out.view().matrix(), mean, rstd,
                                                 x.view().matrix(), w, b),
                   est::shape_error, "mean and rstd need 4 elements");
  Tensor<float> rstd4({4});
  EST_CHECK_THROWS(est::layernorm_forward<float>(ctx, out.view().matrix(), mean, rstd4,
                                                 x.view().matrix(), w, b, -1.0f),
                   est::value_error, "eps must be a finite positive number");
}
