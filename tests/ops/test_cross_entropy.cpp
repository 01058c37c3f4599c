// est/backend/cpu/cross_entropy.hpp against reference::softmax_cross_entropy, a hand-computed
// value, and finite differences of the reference.

#include <catch2/catch.hpp>

#include <cmath>

#include <est/backend/cpu/cross_entropy.hpp>
#include <est/reference/cross_entropy.hpp>

#include "../support/test_support.hpp"

using est::Context;
using est::MatrixView;
using est::Tensor;
using est::testing::random_tensor;
using est::testing::relative_error;
using est::testing::tolerance;

TEMPLATE_TEST_CASE("fused softmax cross-entropy matches the reference, in place too",
                   "[cross_entropy]", float, double) {
  using T = TestType;
  const auto [n, v] = GENERATE(std::pair<int, int>{1, 1}, std::pair<int, int>{7, 3},
                               std::pair<int, int>{37, 257}, std::pair<int, int>{16, 50304});
  const Context<est::cpu> ctx(GENERATE(1, 2));
  auto logits = random_tensor<T>({n, v}, 1, 4.0);
  auto targets = est::testing::random_tokens({n}, v, 2);
  const T scale = T(1) / T(n);
  auto grad = est::testing::nan_tensor<T>({n, v});  // written, not accumulated
  auto losses = est::testing::nan_tensor<T>({n});
  Tensor<T> losses_ref({n}), grad_ref({n, v});
  const double mean = est::softmax_cross_entropy<T>(ctx, losses, grad.view().matrix(),
                                                    logits.view().matrix(), targets, scale);
  const double mean_ref = est::reference::softmax_cross_entropy<T>(
      losses_ref, grad_ref.view().matrix(), logits.view().matrix(), targets, scale);
  CHECK(relative_error(losses, losses_ref) <= tolerance<T>() * 10);
  CHECK(relative_error(grad, grad_ref) <= tolerance<T>() * 10);
  CHECK(mean == Approx(mean_ref).epsilon(tolerance<T>() * 10));

  // The gradient may overwrite the logits themselves.
  auto in_place = logits;
  est::softmax_cross_entropy<T>(ctx, losses, in_place.view().matrix(), in_place.view().matrix(),
                                targets, scale);
  CHECK(relative_error(in_place, grad_ref) <= tolerance<T>() * 10);

  // Without a gradient buffer only the losses are computed.
  est::softmax_cross_entropy<T>(ctx, losses, MatrixView<T>(), logits.view().matrix(), targets,
                                scale);
  CHECK(relative_error(losses, losses_ref) <= tolerance<T>() * 10);
}

TEST_CASE("cross-entropy of a hand-computed case", "[cross_entropy]") {
  // logits (1, 2, 3), target 2: loss = log(e + e² + e³) - 3.
  const Context<est::cpu> ctx(1);
  Tensor<double> logits({1, 3}), losses({1}), grad({1, 3});
  logits[0] = 1, logits[1] = 2, logits[2] = 3;
  Tensor<std::int32_t> target({1});
  target[0] = 2;
  const double expected = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0)) - 3.0;
  CHECK(est::softmax_cross_entropy<double>(ctx, losses, grad.view().matrix(),
                                           logits.view().matrix(), target, 1.0) ==
        Approx(expected).epsilon(1e-14));
  const double z = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  CHECK(grad[0] == Approx(std::exp(1.0) / z).epsilon(1e-14));
  CHECK(grad[2] == Approx(std::exp(3.0) / z - 1.0).epsilon(1e-14));
}

TEST_CASE("reference cross-entropy gradient equals finite differences",
          "[cross_entropy][reference]") {
  const int n = 3, v = 5;
  auto logits = random_tensor<double>({n, v}, 3);
  auto targets = est::testing::random_tokens({n}, v, 4);
  Tensor<double> losses({n}), grad({n, v});
  auto loss = [&] {
    return est::reference::softmax_cross_entropy<double>(losses, MatrixView<double>(),
                                                         logits.view().matrix(), targets, 1.0);
  };
  est::reference::softmax_cross_entropy<double>(losses, grad.view().matrix(),
                                                logits.view().matrix(), targets, 1.0 / n);
  CHECK(relative_error(grad, est::testing::numerical_gradient(logits.data(), logits.numel(), loss)) < 1e-9);
}

TEST_CASE("cross-entropy rejects out-of-range targets", "[cross_entropy][errors]") {
  const Context<est::cpu> ctx(1);
  Tensor<float> logits({2, 4}), losses({2});
  Tensor<std::int32_t> targets({2});
  targets[1] = 4;
  EST_CHECK_THROWS(est::softmax_cross_entropy<float>(ctx, losses, MatrixView<float>(),
                                                     logits.view().matrix(), targets, 1.0f),
                   est::value_error, "targets[1] = 4 is outside the vocabulary [0, 4)");
}
