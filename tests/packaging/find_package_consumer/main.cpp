// Smoke test of est from a separate project (find_package): one forward pass of a freshly
// initialised tiny GPT-2. A random model predicts a near-uniform distribution, so its mean
// cross-entropy must be close to log(vocab); anything else means the library is broken.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>

#include <est/est.hpp>

int main() {
  try {
    constexpr auto vocab = est::presets::gpt2_tiny.vocab;
    est::Context<est::cpu> ctx(1);
    est::Gpt2<est::presets::gpt2_tiny> model(ctx, /*seed=*/1);

    // A fixed pattern that touches many ids; each target is the next token, as in training.
    est::Tensor<std::int32_t> tokens(est::Shape{2, 8}), targets(est::Shape{2, 8});
    for (est::Index i = 0; i < tokens.numel(); ++i) {
      tokens[i] = static_cast<std::int32_t>((7 * i + 3) % vocab);
      targets[i] = static_cast<std::int32_t>((7 * i + 10) % vocab);
    }

    const float loss = model.forward(tokens.view(), targets.view());
    const double expected = std::log(static_cast<double>(vocab));
    if (!std::isfinite(loss)) {
      std::printf("est consumer (find_package): loss %g is not finite\n",
                  static_cast<double>(loss));
      return 1;
    }
    if (std::abs(loss - expected) > 0.5) {
      std::printf("est consumer (find_package): loss %g is not within 0.5 of log(%lld) = %g\n",
                  static_cast<double>(loss), static_cast<long long>(vocab), expected);
      return 1;
    }
    std::printf("est consumer (find_package): loss %g\n", static_cast<double>(loss));
    return 0;
  } catch (const std::exception& e) {
    std::printf("est consumer (find_package): exception: %s\n", e.what());
    return 1;
  }
}
