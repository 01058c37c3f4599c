// Must not compile: the model keeps a reference to its context, so a temporary context would
// dangle after the constructor returns.
#include <est/models/gpt2/model.hpp>

void instantiate() {
  est::Gpt2<est::presets::gpt2_tiny> model(est::Context<est::cpu>(1));
}
