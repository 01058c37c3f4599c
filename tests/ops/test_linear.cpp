// est/backend/cpu/linear.hpp against reference::linear_*, and the reference backward against
// finite differences.

#include <catch2/catch.hpp>

#include <est/backend/cpu/linear.hpp>
#include <est/reference/linear.hpp>

#include "../support/test_support.hpp"

using est::Context;
using est::Tensor;
using est::testing::random_tensor;
using est::testing::relative_error;
using est::testing::tolerance;

TEMPLATE_TEST_CASE("linear forward and backward match the reference", "[linear]", float, double) {
  using T = TestType;
  const auto [n, ni, no] = GENERATE(std::tuple<int, int, int>{1, 3, 5},
                                    std::tuple<int, int, int>{33, 17, 45},
                                    std::tuple<int, int, int>{70, 96, 130});
  const bool with_bias = GENERATE(true, false);
  const T scale = GENERATE(T(1), T(2.5));  // a sliced projection's rescaling
  const Context<est::cpu> ctx(GENERATE(1, 2));
  auto in = random_tensor<T>({n, ni}, 1);
  auto w = random_tensor<T>({ni, no}, 2, 0.2);
  auto b = with_bias ? random_tensor<T>({no}, 3) : Tensor<T>(est::Shape{0});
  auto out = est::testing::nan_tensor<T>({n, no});  // written, not accumulated
  Tensor<T> out_ref({n, no});
  est::linear_forward<T>(ctx, out.view().matrix(), in.view().matrix(), w.view().matrix(), b,
                         scale);
  est::reference::linear_forward<T>(out_ref.view().matrix(), in.view().matrix(), w.view().matrix(),
                                    b, scale);
  CHECK(relative_error(out, out_ref) <= tolerance<T>());

  auto d_out = random_tensor<T>({n, no}, 4);
  // Parameter gradients accumulate: start both from the same non-zero values.
  auto dw = random_tensor<T>({ni, no}, 5), dw_ref = dw;
  auto db = with_bias ? random_tensor<T>({no}, 6) : Tensor<T>(est::Shape{0});
  auto db_ref = db;
  auto d_in = est::testing::nan_tensor<T>({n, ni});
  Tensor<T> d_in_ref({n, ni});
  est::linear_backward<T>(ctx, d_in.view().matrix(), dw.view().matrix(), db.view(),
                          d_out.view().matrix(), in.view().matrix(), w.view().matrix(), scale);
  est::reference::linear_backward<T>(d_in_ref.view().matrix(), dw_ref.view().matrix(),
                                     db_ref.view(), d_out.view().matrix(), in.view().matrix(),
                                     w.view().matrix(), scale);
  CHECK(relative_error(d_in, d_in_ref) <= tolerance<T>());
  CHECK(relative_error(dw, dw_ref) <= tolerance<T>());
  CHECK(relative_error(db, db_ref) <= tolerance<T>());
}

TEST_CASE("linear_backward checks every argument before writing any", "[linear][errors]") {
  const Context<est::cpu> ctx(1);
  auto in = random_tensor<float>({4, 3}, 1), w = random_tensor<float>({3, 5}, 2);
  auto d_out = random_tensor<float>({4, 5}, 3);
  Tensor<float> d_in({4, 3}), dw({3, 5}), db({4});  // d_bias should have 5 elements
  EST_CHECK_THROWS(est::linear_backward<float>(ctx, d_in.view().matrix(), dw.view().matrix(), db,
                                               d_out.view().matrix(), in.view().matrix(),
                                               w.view().matrix()),
                   est::shape_error, "d_bias has 4 elements, expected 5 or 0");
  for (est::Index i = 0; i < dw.numel(); ++i) CHECK(dw[i] == 0.0f);
  Tensor<float> bad_out({4, 4});
  EST_CHECK_THROWS(est::linear_forward<float>(ctx, bad_out.view().matrix(), in.view().matrix(),
                                              w.view().matrix(), est::ConstView<float>()),
                   est::shape_error, "out is 4x4, expected 4x5");
}

TEST_CASE("reference linear backward equals finite differences", "[linear][reference]") {
  const int n = 4, ni = 5, no = 3;
  const double scale = GENERATE(1.0, 3.0);
  auto in = random_tensor<double>({n, ni}, 7);
  auto w = random_tensor<double>({ni, no}, 8);
  auto b = random_tensor<double>({no}, 9);
  auto probe = random_tensor<double>({n, no}, 10);
  Tensor<double> out({n, no});
  auto loss = [&] {
    est::reference::linear_forward<double>(out.view().matrix(), in.view().matrix(),
                                           w.view().matrix(), b, scale);
    return est::testing::dot(out, probe);
  };
  Tensor<double> d_in({n, ni}), dw({ni, no}), db({no});
  est::reference::linear_backward<double>(d_in.view().matrix(), dw.view().matrix(), db.view(),
                                          probe.view().matrix(), in.view().matrix(),
                                          w.view().matrix(), scale);
  CHECK(relative_error(d_in, est::testing::numerical_gradient(in.data(), in.numel(), loss)) < 1e-9);
  CHECK(relative_error(dw, est::testing::numerical_gradient(w.data(), w.numel(), loss)) < 1e-9);
  CHECK(relative_error(db, est::testing::numerical_gradient(b.data(), b.numel(), loss)) < 1e-9);
}
