// est/backend/cpu/embedding.hpp against reference::embedding_*, plus token-id validation.

#include <catch2/catch.hpp>

#include <est/backend/cpu/embedding.hpp>
#include <est/reference/embedding.hpp>

#include "../support/test_support.hpp"

using est::Context;
using est::Tensor;
using est::testing::random_tensor;
using est::testing::relative_error;

TEMPLATE_TEST_CASE("embedding forward and backward match the reference", "[embedding]", float,
                   double) {
  using T = TestType;
  const auto [B, T_, C, V] = GENERATE(std::tuple<int, int, int, int>{1, 1, 1, 1},
                                      std::tuple<int, int, int, int>{3, 7, 13, 5},
                                      std::tuple<int, int, int, int>{4, 33, 96, 257});
  const Context<est::cpu> ctx(GENERATE(1, 2));
  const int P = T_ + 3;  // more positions than used
  auto tokens = est::testing::random_tokens({B, T_}, V, 1);
  auto wte = random_tensor<T>({V, C}, 2), wpe = random_tensor<T>({P, C}, 3);
  Tensor<T> out({B, T_, C}), out_ref({B, T_, C});
  est::embedding_forward<T>(ctx, out, tokens, wte, wpe);
  est::reference::embedding_forward<T>(out_ref, tokens, wte, wpe);
  CHECK(relative_error(out, out_ref) == 0);

  auto d_out = random_tensor<T>({B, T_, C}, 4);
  auto dwte = random_tensor<T>({V, C}, 5), dwte_ref = dwte;
  auto dwpe = random_tensor<T>({P, C}, 6), dwpe_ref = dwpe;
  est::embedding_backward<T>(ctx, dwte, dwpe, d_out, tokens);
  est::reference::embedding_backward<T>(dwte_ref, dwpe_ref, d_out, tokens);
  // Same additions in the same (position) order per element: bit-identical.
  CHECK(relative_error(dwte, dwte_ref) == 0);
  CHECK(relative_error(dwpe, dwpe_ref) == 0);
}

TEST_CASE("reference embedding backward equals finite differences", "[embedding][reference]") {
  auto tokens = est::testing::random_tokens({2, 3}, 4, 7);
  tokens[1] = tokens[0];  // a repeated token must accumulate
  auto wte = random_tensor<double>({4, 5}, 8), wpe = random_tensor<double>({6, 5}, 9);
  auto probe = random_tensor<double>({2, 3, 5}, 10);
  Tensor<double> out({2, 3, 5});
  auto loss = [&] {
    est::reference::embedding_forward<double>(out, tokens, wte, wpe);
    return est::testing::dot(out, probe);
  };
  Tensor<double> dwte({4, 5}), dwpe({6, 5});
  est::reference::embedding_backward<double>(dwte, dwpe, probe, tokens);
  CHECK(relative_error(dwte, est::testing::numerical_gradient(wte.data(), wte.numel(), loss)) < 1e-9);
  CHECK(relative_error(dwpe, est::testing::numerical_gradient(wpe.data(), wpe.numel(), loss)) < 1e-9);
}

TEST_CASE("embedding rejects out-of-range tokens and bad shapes", "[embedding][errors]") {
  const Context<est::cpu> ctx(1);
  Tensor<float> wte({10, 4}), wpe({8, 4}), out({1, 3, 4});
  Tensor<std::int32_t> tokens({1, 3});
  tokens[2] = 10;
  EST_CHECK_THROWS(est::embedding_forward<float>(ctx, out, tokens, wte, wpe), est::value_error,
                   "tokens[0, 2] = 10 is outside the vocabulary [0, 10)");
  tokens[2] = -1;
  EST_CHECK_THROWS(est::embedding_forward<float>(ctx, out, tokens, wte, wpe), est::value_error,
                   "= -1 is outside");
  tokens[2] = 0;
  Tensor<std::int32_t> long_tokens({1, 9});
  Tensor<float> long_out({1, 9, 4});
  EST_CHECK_THROWS(est::embedding_forward<float>(ctx, long_out, long_tokens, wte, wpe),
                   est::shape_error, "with P >= T = 9");
  Tensor<float> bad_out({1, 3, 5});
  EST_CHECK_THROWS(est::embedding_forward<float>(ctx, bad_out, tokens, wte, wpe),
                   est::shape_error, "expected (1, 3, 4)");
}
