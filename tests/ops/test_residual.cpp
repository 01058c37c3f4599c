// est/backend/cpu/residual.hpp against reference::residual_*.

#include <catch2/catch.hpp>

#include <limits>

#include <est/backend/cpu/residual.hpp>
#include <est/reference/residual.hpp>

#include "../support/test_support.hpp"

using est::Context;
using est::Tensor;
using est::testing::random_tensor;
using est::testing::relative_error;

TEMPLATE_TEST_CASE("residual forward and backward match the reference", "[residual]", float,
                   double) {
  using T = TestType;
  const int n = GENERATE(1, 13, 10007);
  const Context<est::cpu> ctx(GENERATE(1, 2));
  auto a = random_tensor<T>({n}, 1), b = random_tensor<T>({n}, 2);
  auto y = est::testing::nan_tensor<T>({n});
  Tensor<T> y_ref({n});
  est::residual_forward<T>(ctx, y, a, b);
  est::reference::residual_forward<T>(y_ref, a, b);
  CHECK(relative_error(y, y_ref) == 0);  // one addition per element: bit-identical
  auto dy = random_tensor<T>({n}, 3);
  auto da = random_tensor<T>({n}, 4), da_ref = da;
  auto db = random_tensor<T>({n}, 5), db_ref = db;
  est::residual_backward<T>(ctx, da, db, dy);
  est::reference::residual_backward<T>(da_ref, db_ref, dy);
  CHECK(relative_error(da, da_ref) == 0);
  CHECK(relative_error(db, db_ref) == 0);
}

TEMPLATE_TEST_CASE("a rescaled residual branch and its gradient match the reference",
                   "[residual]", float, double) {
  using T = TestType;
  const int n = GENERATE(1, 13, 10007);
  const Context<est::cpu> ctx(GENERATE(1, 2));
  const T scale = T(1.75);
  auto a = random_tensor<T>({n}, 1), b = random_tensor<T>({n}, 2);
  auto y = est::testing::nan_tensor<T>({n});
  Tensor<T> y_ref({n});
  est::residual_forward<T>(ctx, y, a, b, scale);
  est::reference::residual_forward<T>(y_ref, a, b, scale);
  CHECK(relative_error(y, y_ref) <= 4 * std::numeric_limits<T>::epsilon());
  for (int i = 0; i < n; i += 997) {  // against the definition, a + s·b
    CHECK(double(y[i]) == Approx(double(a[i]) + 1.75 * double(b[i])).epsilon(1e-6));
  }
  auto d = est::testing::nan_tensor<T>({n});
  Tensor<T> d_ref({n});
  est::scaled_copy<T>(ctx, d, b, scale);
  est::reference::scaled_copy<T>(d_ref, b, scale);
  CHECK(relative_error(d, d_ref) == 0);  // one product per element: bit-identical
  CHECK(double(d[0]) == Approx(1.75 * double(b[0])));
}

TEST_CASE("residual rejects mismatched sizes", "[residual][errors]") {
  const Context<est::cpu> ctx(1);
  Tensor<float> a({3}), b({4}), y({3});
  EST_CHECK_THROWS(est::residual_forward<float>(ctx, y, a, b), est::shape_error,
                   "must have the same size");
  EST_CHECK_THROWS(est::scaled_copy<float>(ctx, y, b, 2.0f), est::shape_error,
                   "must have the same size");
}
