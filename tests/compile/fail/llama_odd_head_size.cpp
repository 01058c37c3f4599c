// Must not compile: heads of size 40 / 8 = 5 have no pairs for rotary embeddings to rotate.
#include <est/models/llama/model.hpp>

namespace {
constexpr est::LlamaConfig bad{.layers = 2, .heads = 8, .kv_heads = 2, .width = 40,
                               .mlp_hidden = 64, .vocab = 32, .context = 8};
}  // namespace

void instantiate() {
  est::Context<est::cpu> ctx(1);
  est::Llama<bad> model(ctx);
}
