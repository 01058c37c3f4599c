// Must not compile: 6 query heads cannot be split evenly over 4 key/value heads.
#include <est/models/llama/model.hpp>

namespace {
constexpr est::LlamaConfig bad{.layers = 2, .heads = 6, .kv_heads = 4, .width = 48,
                               .mlp_hidden = 64, .vocab = 32, .context = 8};
}  // namespace

void instantiate() {
  est::Context<est::cpu> ctx(1);
  est::Llama<bad> model(ctx);
}
