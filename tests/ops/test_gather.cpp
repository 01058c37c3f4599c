// est/backend/cpu/gather.hpp against element-by-element loops written here, on strided views,
// and its rejection of bad index lists.

#include <catch2/catch.hpp>

#include <vector>

#include <est/backend/cpu/gather.hpp>

#include "../support/test_support.hpp"

using est::Context;
using est::Index;
using est::MatrixView;
using est::Tensor;
using est::testing::random_tensor;

TEST_CASE("gather and scatter-add of columns and rows equal element loops", "[gather]") {
  const Context<est::cpu> ctx(GENERATE(1, 2));
  // Runs of several lengths, a lone index, the first and the last column.
  const std::vector<Index> cols{0, 1, 2, 5, 9, 10, 11, 12, 19};
  const Index R = 7, n = 20, stride = 23;  // the full matrix is a strided view
  auto storage = random_tensor<double>({R, stride}, 1);
  MatrixView<double> full(storage.data(), R, n, stride);
  const Index k = std::ssize(cols);

  Tensor<double> packed({R, k});
  est::gather_columns<double>(ctx, packed.view().matrix(), full, cols);
  for (Index r = 0; r < R; ++r) {
    for (Index j = 0; j < k; ++j) CHECK(packed[r * k + j] == full(r, cols[j]));
  }

  auto add = random_tensor<double>({R, k}, 2);
  auto before = storage;
  est::scatter_add_columns<double>(ctx, full, add.view().matrix(), cols);
  for (Index r = 0; r < R; ++r) {
    for (Index c = 0; c < stride; ++c) {
      double expected = before[r * stride + c];
      for (Index j = 0; j < k; ++j) {
        if (c < n && cols[j] == c) expected += add[r * k + j];
      }
      CHECK(storage[r * stride + c] == expected);  // untouched outside the columns and padding
    }
  }

  // Rows of a (n, C) matrix.
  const std::vector<Index> rows{1, 2, 3, 8, 15};
  const Index C = 6;
  auto tall = random_tensor<double>({n, C}, 3);
  Tensor<double> packed_rows({std::ssize(rows), C});
  est::gather_rows<double>(ctx, packed_rows.view().matrix(), tall.view().matrix(), rows);
  for (Index j = 0; j < std::ssize(rows); ++j) {
    for (Index c = 0; c < C; ++c) CHECK(packed_rows[j * C + c] == tall[rows[j] * C + c]);
  }
  auto add_rows = random_tensor<double>({std::ssize(rows), C}, 4);
  auto tall_before = tall;
  est::scatter_add_rows<double>(ctx, tall.view().matrix(), add_rows.view().matrix(), rows);
  for (Index r = 0; r < n; ++r) {
    Index j = -1;
    for (Index i = 0; i < std::ssize(rows); ++i) {
      if (rows[i] == r) j = i;
    }
    for (Index c = 0; c < C; ++c) {
      const double expected = tall_before[r * C + c] + (j >= 0 ? add_rows[j * C + c] : 0.0);
      CHECK(tall[r * C + c] == expected);
    }
  }
}

TEST_CASE("gather and scatter reject bad index lists before writing", "[gather][errors]") {
  const Context<est::cpu> ctx(1);
  auto full = random_tensor<float>({3, 8}, 1);
  Tensor<float> packed({3, 3});
  const std::vector<Index> out_of_range{1, 2, 8}, repeated{1, 4, 4}, unsorted{4, 1, 2};
  EST_CHECK_THROWS(est::gather_columns<float>(ctx, packed.view().matrix(), full.view().matrix(),
                                              out_of_range),
                   est::value_error, "index 8 (position 2) is outside [0, 8)");
  const auto before = full;
  EST_CHECK_THROWS(est::scatter_add_columns<float>(ctx, full.view().matrix(),
                                                   packed.view().matrix(), repeated),
                   est::value_error, "strictly increasing");
  for (Index i = 0; i < full.numel(); ++i) CHECK(full[i] == before[i]);
  auto tall = random_tensor<float>({8, 3}, 2);
  const auto tall_before = tall;
  EST_CHECK_THROWS(est::scatter_add_rows<float>(ctx, tall.view().matrix(), packed.view().matrix(),
                                                unsorted),
                   est::value_error, "index 1 (position 1) does not follow 4");
  for (Index i = 0; i < tall.numel(); ++i) CHECK(tall[i] == tall_before[i]);
  Tensor<float> wrong({2, 3});
  EST_CHECK_THROWS(est::gather_columns<float>(ctx, wrong.view().matrix(), full.view().matrix(),
                                              std::vector<Index>{0, 1, 2}),
                   est::shape_error, "packed is 2x3, expected 3x3");
}

TEMPLATE_TEST_CASE("scale_rows and scale_columns multiply each packed row or column by its scale",
                   "[gather]", float, double) {
  const Context<est::cpu> ctx(GENERATE(1, 2));
  const auto before = random_tensor<TestType>({37, 5}, 7);
  const std::vector<double> row_scales{0.5, 1.0, 2.0, 3.0, 0.25};
  std::vector<double> column_scales;
  for (int c = 0; c < 5; ++c) column_scales.push_back(1.0 + c);
  auto wide = random_tensor<TestType>({5, 37}, 8);  // rows scaled
  const auto wide_before = wide;
  est::scale_rows<TestType>(ctx, wide.view().matrix(), row_scales);
  for (Index r = 0; r < 5; ++r) {
    for (Index c = 0; c < 37; ++c) {
      CHECK(wide[r * 37 + c] == wide_before[r * 37 + c] * TestType(row_scales[std::size_t(r)]));
    }
  }
  auto tall = before;  // columns scaled
  est::scale_columns<TestType>(ctx, tall.view().matrix(), column_scales);
  for (Index r = 0; r < 37; ++r) {
    for (Index c = 0; c < 5; ++c) {
      CHECK(tall[r * 5 + c] == before[r * 5 + c] * TestType(column_scales[std::size_t(c)]));
    }
  }
  EST_CHECK_THROWS(est::scale_rows<TestType>(ctx, tall.view().matrix(), row_scales),
                   est::shape_error, "5 scales for 37 rows");
  EST_CHECK_THROWS(est::scale_columns<TestType>(ctx, wide.view().matrix(), column_scales),
                   est::shape_error, "5 scales for 37 columns");
}
