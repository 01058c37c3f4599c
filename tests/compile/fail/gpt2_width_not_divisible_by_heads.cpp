// Must not compile: 16 channels cannot be split into 3 equal attention heads.
#include <est/models/gpt2/model.hpp>

namespace {
constexpr est::Gpt2Config bad{
    .layers = 2, .heads = 3, .width = 16, .mlp_hidden = 64, .vocab = 32, .context = 8};
}  // namespace

void instantiate() {
  est::Context<est::cpu> ctx(1);
  est::Gpt2<bad> model(ctx);
}
