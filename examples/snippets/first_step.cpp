// The manual's first example (docs/manual/library.md): one training step of a byte-level GPT-2,
// by hand. CTest runs it; a fresh model's loss is about ln(256) = 5.55.

#include <cstdio>

// [first-step]
#include <est/est.hpp>

int main() {
  est::Context<est::cpu> ctx(2);                                // threads; passed to every op
  est::Gpt2<est::presets::gpt2_bytes> model(ctx, /*seed=*/1);   // 4 layers, width 128, bytes
  est::AdamW<float> opt(model.parameter_specs());

  est::Tensor<std::int32_t> tokens({4, 64}), targets({4, 64});  // (B, T) token ids
  const char* text = "the quick brown fox jumps over the lazy dog ";
  for (std::int64_t i = 0; i < tokens.numel(); ++i) {
    tokens.data()[i] = text[i % 44];
    targets.data()[i] = text[(i + 1) % 44];                     // the next byte
  }
  model.zero_grad();
  const float loss = model.forward(tokens.view(), targets.view());  // mean cross-entropy
  model.backward();                                                // gradients (+=)
  opt.step(ctx, model.parameter_arena(), model.gradient_arena(), /*lr=*/6e-4);
  std::printf("loss %.4f\n", loss);
}
// [first-step]
