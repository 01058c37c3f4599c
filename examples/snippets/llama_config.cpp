// A Llama of one's own configuration (docs/manual/library.md). CTest runs it.

#include <cstdio>

#include <est/est.hpp>

int main() {
  est::Context<est::cpu> ctx(2);
  // [llama-config]
  constexpr est::LlamaConfig mine{.layers = 4, .heads = 8, .kv_heads = 2, .width = 256,
                                  .mlp_hidden = 704, .vocab = 32000, .context = 512};
  est::Llama<mine> model(ctx, /*seed=*/1);   // 8 query heads in 2 key/value groups
  // est::Llama<est::presets::tinyllama_1b>  is TinyLlama-1.1B's shape (about 18 GB to train)
  // [llama-config]
  std::printf("%lld parameters\n", static_cast<long long>(mine.parameter_count()));
}
