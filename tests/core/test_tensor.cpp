// est/core/shape.hpp, tensor.hpp and checks.hpp: extents, views, blocks and the argument checks.

#include <catch2/catch.hpp>

#include <cmath>

#include <est/core/checks.hpp>
#include <est/core/tensor.hpp>

#include "../support/test_support.hpp"

using est::Index;
using est::MatrixView;
using est::Shape;
using est::Tensor;
using est::TensorView;

TEST_CASE("shapes count their elements and reject bad extents", "[tensor]") {
  CHECK(Shape{}.numel() == 1);  // a scalar
  CHECK(Shape{0}.numel() == 0);
  CHECK(Shape{2, 3, 4}.numel() == 24);
  CHECK(Shape{2, 3} == Shape{2, 3});
  CHECK_FALSE(Shape{2, 3} == Shape{3, 2});
  EST_CHECK_THROWS((Shape{1, 2, 3, 4, 5}), est::shape_error, "rank 5 exceeds the maximum rank 4");
  EST_CHECK_THROWS((Shape{2, -1}), est::shape_error, "extents must be >= 0, got -1");
  EST_CHECK_THROWS((Shape{Index(1) << 32, Index(1) << 32}), est::shape_error, "overflows");
}

TEST_CASE("default tensors and views are empty", "[tensor]") {
  Tensor<float> t;
  TensorView<float> v;
  CHECK(t.numel() == 0);
  CHECK(v.numel() == 0);
  CHECK(t.shape() == Shape{0});
}

TEST_CASE("views reshape, see matrices and blocks of the same memory", "[tensor]") {
  Tensor<float> t({2, 3, 4});
  for (Index i = 0; i < t.numel(); ++i) t[i] = float(i);
  auto m = t.view().matrix();  // (6, 4)
  CHECK(m.rows() == 6);
  CHECK(m.cols() == 4);
  CHECK(m(5, 3) == 23.0f);
  auto block = m.block(1, 1, 2, 2);  // rows 1-2, columns 1-2
  CHECK(block(0, 0) == 5.0f);
  CHECK(block(1, 1) == 10.0f);
  CHECK(block.stride() == 4);
  CHECK(t.view().reshape({4, 6})[7] == 7.0f);
  EST_CHECK_THROWS(t.view().reshape({5, 5}), est::shape_error, "cannot view (2, 3, 4)");
  EST_CHECK_THROWS(m.block(5, 0, 2, 1), est::shape_error, "does not fit a 6x4 matrix");
  EST_CHECK_THROWS(t.view().matrix(5), est::shape_error, "do not split into 5 rows");
  EST_CHECK_THROWS((MatrixView<float>(t.data(), 2, 5, 4)), est::shape_error, "stride >= cols");
}

TEST_CASE("argument checks name the argument and the problem", "[tensor][errors]") {
  Tensor<float> t({2, 3});
  EST_CHECK_THROWS(est::expect_shape(t.view(), {3, 2}, "op", "x"), est::shape_error,
                   "op: x has shape (2, 3), expected (3, 2)");
  t[4] = NAN;  // element (1, 1)
  EST_CHECK_THROWS(est::expect_finite(t.view(), "op", "x"), est::value_error,
                   "op: x[1, 1] = nan is not finite");
  Tensor<std::int32_t> ids({2, 2});
  ids[3] = 9;
  EST_CHECK_THROWS(est::check_token_ids(ids, 9, "op", "ids"), est::value_error,
                   "op: ids[1, 1] = 9 is outside the vocabulary [0, 9)");
  Tensor<float> big({10});
  CHECK(est::overlaps(big.data(), 5, big.data() + 4, 3));
  CHECK_FALSE(est::overlaps(big.data(), 5, big.data() + 5, 3));
  CHECK_FALSE(est::overlaps(big.data(), 0, big.data(), 3));
}
