// est/backend/cpu/attention.hpp against reference::attention_*, and the reference backward
// against finite differences.

#include <catch2/catch.hpp>

#include <est/backend/cpu/attention.hpp>
#include <est/reference/attention.hpp>

#include "../support/test_support.hpp"

using est::Context;
using est::Tensor;
using est::testing::random_tensor;
using est::testing::relative_error;
using est::testing::tolerance;

TEMPLATE_TEST_CASE("causal attention forward and backward match the reference", "[attention]",
                   float, double) {
  using T = TestType;
  const auto [B, T_, H, d] = GENERATE(std::tuple<int, int, int, int>{1, 1, 1, 1},
                                      std::tuple<int, int, int, int>{2, 5, 3, 7},
                                      std::tuple<int, int, int, int>{3, 33, 4, 16},
                                      std::tuple<int, int, int, int>{1, 64, 2, 64});
  const int C = H * d;
  const Context<est::cpu> ctx(GENERATE(1, 2));
  auto qkv = random_tensor<T>({B, T_, 3 * C}, 1);
  // Outputs start as NaN: every element must be written, the masked half of probs included.
  auto out = est::testing::nan_tensor<T>({B, T_, C});
  auto probs = est::testing::nan_tensor<T>({B, H, T_, T_});
  Tensor<T> out_ref({B, T_, C}), probs_ref({B, H, T_, T_});
  est::attention_forward<T>(ctx, out, probs, qkv, H);
  est::reference::attention_forward<T>(out_ref, probs_ref, qkv, H);
  CHECK(relative_error(out, out_ref) <= tolerance<T>() * 10);
  CHECK(relative_error(probs, probs_ref) <= tolerance<T>() * 10);

  auto d_out = random_tensor<T>({B, T_, C}, 2);
  auto d_qkv = est::testing::nan_tensor<T>({B, T_, 3 * C});  // written, not accumulated
  Tensor<T> d_qkv_ref({B, T_, 3 * C});
  est::attention_backward<T>(ctx, d_qkv, d_out, qkv, probs_ref, H);
  est::reference::attention_backward<T>(d_qkv_ref, d_out, qkv, probs_ref, H);
  CHECK(relative_error(d_qkv, d_qkv_ref) <= tolerance<T>() * 10);
}

TEST_CASE("reference attention backward equals finite differences", "[attention][reference]") {
  const int B = 2, T_ = 4, H = 2, d = 3, C = H * d;
  auto qkv = random_tensor<double>({B, T_, 3 * C}, 3);
  auto probe = random_tensor<double>({B, T_, C}, 4);
  Tensor<double> out({B, T_, C}), probs({B, H, T_, T_});
  auto loss = [&] {
    est::reference::attention_forward<double>(out, probs, qkv, H);
    return est::testing::dot(out, probe);
  };
  loss();
  Tensor<double> d_qkv({B, T_, 3 * C});
  est::reference::attention_backward<double>(d_qkv, probe, qkv, probs, H);
  CHECK(relative_error(d_qkv, est::testing::numerical_gradient(qkv.data(), qkv.numel(), loss)) < 1e-9);
}

TEST_CASE("attention is causal: later tokens do not change earlier outputs", "[attention]") {
  const Context<est::cpu> ctx(2);
  const int T_ = 9, H = 3, C = 12;
  auto qkv = random_tensor<float>({1, T_, 3 * C}, 5);
  Tensor<float> out1({1, T_, C}), out2({1, T_, C}), probs({1, H, T_, T_});
  est::attention_forward<float>(ctx, out1, probs, qkv, H);
  for (int i = 5 * 3 * C; i < qkv.numel(); ++i) qkv[i] += 1.0f;  // perturb positions 5..8
  est::attention_forward<float>(ctx, out2, probs, qkv, H);
  for (int i = 0; i < 5 * C; ++i) CHECK(out1[i] == out2[i]);
}

TEST_CASE("attention rejects mis-shaped outputs", "[attention][errors]") {
  const Context<est::cpu> ctx(1);
  Tensor<float> qkv({2, 4, 12}), out({2, 4, 4}), bad_out({2, 4, 5}), probs({2, 2, 4, 4}),
      bad_probs({2, 2, 4, 3});
  EST_CHECK_THROWS(est::attention_forward<float>(ctx, bad_out, probs, qkv, 2), est::shape_error,
                   "attention output has shape (2, 4, 5), expected (2, 4, 4)");
  EST_CHECK_THROWS(est::attention_forward<float>(ctx, out, bad_probs, qkv, 2), est::shape_error,
                   "probs has shape (2, 2, 4, 3), expected (2, 2, 4, 4)");
}

TEST_CASE("attention rejects a head count that does not divide the width",
          "[attention][errors]") {
  const Context<est::cpu> ctx(1);
  Tensor<float> qkv({1, 2, 30}), out({1, 2, 10}), probs({1, 3, 2, 2});
  EST_CHECK_THROWS(est::attention_forward<float>(ctx, out, probs, qkv, 3), est::value_error,
                   "heads = 3 must be >= 1 and divide the width C = 10");
}
