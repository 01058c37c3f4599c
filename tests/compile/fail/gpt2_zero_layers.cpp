// Must not compile: a model needs at least one transformer block.
#include <est/models/gpt2/model.hpp>

namespace {
constexpr est::Gpt2Config bad{
    .layers = 0, .heads = 4, .width = 16, .mlp_hidden = 64, .vocab = 32, .context = 8};
}  // namespace

void instantiate() {
  est::Context<est::cpu> ctx(1);
  est::Gpt2<bad> model(ctx);
}
