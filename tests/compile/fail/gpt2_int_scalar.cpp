// Must not compile: the model's parameters and activations must be floating point.
#include <est/models/gpt2/model.hpp>

namespace {
constexpr est::Gpt2Config cfg{
    .layers = 2, .heads = 4, .width = 16, .mlp_hidden = 64, .vocab = 32, .context = 8};
}  // namespace

void instantiate() {
  est::Context<est::cpu> ctx(1);
  est::Gpt2<cfg, est::cpu, int> model(ctx);
}
