// est/backend/cpu/gemm.hpp against reference::gemm, on strided sub-blocks of larger matrices.

#include <catch2/catch.hpp>

#include <est/backend/cpu/gemm.hpp>
#include <est/reference/gemm.hpp>

#include "../support/test_support.hpp"

using namespace est;
using est::testing::random_tensor;

TEMPLATE_TEST_CASE("gemm matches the triple loop in every layout, on sub-blocks", "[gemm]", float,
                   double) {
  using T = TestType;
  const auto [m, n, k] = GENERATE(std::tuple<Index, Index, Index>{1, 1, 1},
                                  std::tuple<Index, Index, Index>{7, 5, 3},
                                  std::tuple<Index, Index, Index>{37, 53, 29},
                                  std::tuple<Index, Index, Index>{131, 97, 120},
                                  // Large enough (> 1M multiply-adds) to be split over threads,
                                  // along the rows (m >= n) or along the columns (n > m).
                                  std::tuple<Index, Index, Index>{300, 200, 100},
                                  std::tuple<Index, Index, Index>{97, 400, 61},
                                  std::tuple<Index, Index, Index>{1000, 33, 77});
  const auto ta = GENERATE(Transpose::no, Transpose::yes);
  const auto tb = GENERATE(Transpose::no, Transpose::yes);
  const int threads = GENERATE(1, 2, 3, 7);
  const T beta = GENERATE(T(0), T(0.5));
  const Context<cpu> ctx(threads);

  // Every operand is a block inside a wider buffer with a row stride larger than its width.
  const Index a_rows = ta == Transpose::no ? m : k, a_cols = ta == Transpose::no ? k : m;
  const Index b_rows = tb == Transpose::no ? k : n, b_cols = tb == Transpose::no ? n : k;
  auto a_buf = random_tensor<T>({a_rows + 2, a_cols + 5}, 1);
  auto b_buf = random_tensor<T>({b_rows + 1, b_cols + 3}, 2);
  auto c_buf = random_tensor<T>({m + 3, n + 4}, 3);
  auto c_ref = c_buf;
  auto block = [](auto& t, Index r, Index c) {
    return MatrixView<T>(t.data(), t.shape()[0], t.shape()[1]).block(1, 2, r, c);
  };
  const T alpha = T(1.5);
  gemm<T>(ctx, block(c_buf, m, n), block(a_buf, a_rows, a_cols), ta, block(b_buf, b_rows, b_cols),
          tb, alpha, beta);
  reference::gemm<T>(block(c_ref, m, n), block(a_buf, a_rows, a_cols), ta,
                     block(b_buf, b_rows, b_cols), tb, alpha, beta);
  // The whole buffer is compared: elements outside the block must be untouched.
  CHECK(est::testing::relative_error(c_buf, c_ref) <= est::testing::tolerance<T>() * 10);
}

TEST_CASE("gemm with beta = 0 ignores NaN already in C", "[gemm]") {
  const Context<cpu> ctx(2);
  auto a = random_tensor<float>({64, 48}, 4);
  auto b = random_tensor<float>({48, 80}, 5);
  Tensor<float> c({64, 80}), c_ref({64, 80});
  for (Index i = 0; i < c.numel(); ++i) c[i] = NAN;
  gemm<float>(ctx, c.view().matrix(), a.view().matrix(), Transpose::no, b.view().matrix(),
              Transpose::no);
  reference::gemm<float>(c_ref.view().matrix(), a.view().matrix(), Transpose::no,
                         b.view().matrix(), Transpose::no);
  CHECK(est::testing::relative_error(c, c_ref) <= 1e-5);
}

TEST_CASE("gemm splits large products over threads and stays deterministic", "[gemm]") {
  // 300 x 200 x 100 = 6M multiply-adds: split into one panel per thread.
  REQUIRE(est::cpu_detail::gemm_parts(Context<cpu>(2), 300, 200, 100) == 2);
  REQUIRE(est::cpu_detail::gemm_parts(Context<cpu>(7), 300, 200, 100) == 6);
  REQUIRE(est::cpu_detail::gemm_parts(Context<cpu>(2), 10, 10, 10) == 1);
  auto a = random_tensor<float>({300, 100}, 6);
  auto b = random_tensor<float>({100, 200}, 7);
  auto run = [&](int threads) {
    Tensor<float> c({300, 200});
    gemm<float>(Context<cpu>(threads), c.view().matrix(), a.view().matrix(), Transpose::no,
                b.view().matrix(), Transpose::no);
    return c;
  };
  const auto first = run(2), second = run(2);
  CHECK(est::testing::relative_error(first, second) == 0);
}

TEST_CASE("gemm refuses an output that overlaps an input", "[gemm][errors]") {
  const Context<cpu> ctx(1);
  auto a = random_tensor<float>({8, 8}, 8);
  EST_CHECK_THROWS(gemm<float>(ctx, a.view().matrix(), a.view().matrix(), Transpose::no,
                               a.view().matrix(), Transpose::no),
                   est::value_error, "gemm: C overlaps A");
}

TEST_CASE("gemm rejects mismatched shapes with a message naming them", "[gemm][errors]") {
  const Context<cpu> ctx(1);
  Tensor<float> a({4, 3}), b({5, 2}), c({4, 2});
  EST_CHECK_THROWS(gemm<float>(ctx, c.view().matrix(), a.view().matrix(), Transpose::no,
                                   b.view().matrix(), Transpose::no), shape_error, "inner dimensions differ");
  Tensor<float> b2({3, 2}), c2({4, 3});
  EST_CHECK_THROWS(gemm<float>(ctx, c2.view().matrix(), a.view().matrix(), Transpose::no,
                                   b2.view().matrix(), Transpose::no), shape_error, "expected 4x2");
}
