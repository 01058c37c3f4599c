// Must not compile: asking for the model on est::cuda without the CUDA backend.
#include <cstddef>

#include <est/models/gpt2/model.hpp>

namespace {
constexpr est::Gpt2Config cfg{
    .layers = 2, .heads = 4, .width = 16, .mlp_hidden = 64, .vocab = 32, .context = 8};
}  // namespace

// No Context<est::cuda> can be made here (that is its own test), so the class is instantiated
// through sizeof, which needs the complete type and so runs the class's static_asserts.
std::size_t instantiate() { return sizeof(est::Gpt2<cfg, est::cuda>); }
