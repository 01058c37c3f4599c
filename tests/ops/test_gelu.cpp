// est/backend/cpu/gelu.hpp against reference::gelu_*, and the reference against finite
// differences and hand-computed values.

#include <catch2/catch.hpp>

#include <est/backend/cpu/gelu.hpp>
#include <est/reference/gelu.hpp>

#include "../support/test_support.hpp"

using est::Context;
using est::Tensor;
using est::testing::random_tensor;
using est::testing::relative_error;
using est::testing::tolerance;

TEMPLATE_TEST_CASE("gelu forward and backward match the reference", "[gelu]", float, double) {
  using T = TestType;
  const int n = GENERATE(1, 15, 4097, 50001);  // odd sizes and more than one block
  const Context<est::cpu> ctx(GENERATE(1, 2));
  auto x = random_tensor<T>({n}, 1, 3.0);
  auto y = est::testing::nan_tensor<T>({n});
  Tensor<T> y_ref({n});
  est::gelu_forward<T>(ctx, y, x);
  est::reference::gelu_forward<T>(y_ref, x);
  CHECK(relative_error(y, y_ref) <= tolerance<T>());
  auto dy = random_tensor<T>({n}, 2);
  auto dx = est::testing::nan_tensor<T>({n});  // written, not accumulated
  Tensor<T> dx_ref({n});
  est::gelu_backward<T>(ctx, dx, x, dy);
  est::reference::gelu_backward<T>(dx_ref, x, dy);
  CHECK(relative_error(dx, dx_ref) <= tolerance<T>());
}

TEST_CASE("reference gelu: known values and finite differences", "[gelu][reference]") {
  // 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))) evaluated by hand at x = 1 and x = -2.
  CHECK(est::reference::gelu(1.0) == Approx(0.8411919906082768).epsilon(1e-14));
  CHECK(est::reference::gelu(-2.0) == Approx(-0.04540230591222).epsilon(1e-11));
  CHECK(est::reference::gelu(0.0) == 0.0);
  auto x = random_tensor<double>({9}, 3, 2.0);
  auto probe = random_tensor<double>({9}, 4);
  Tensor<double> y({9}), dx({9});
  auto loss = [&] {
    est::reference::gelu_forward<double>(y, x);
    return est::testing::dot(y, probe);
  };
  est::reference::gelu_backward<double>(dx, x, probe);
  CHECK(relative_error(dx, est::testing::numerical_gradient(x.data(), 9, loss)) < 1e-9);
}
