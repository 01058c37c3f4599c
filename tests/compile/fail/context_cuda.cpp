// Must not compile: a CUDA execution context without including the CUDA backend.
#include <est/core/context.hpp>

void instantiate() { [[maybe_unused]] est::Context<est::cuda> ctx; }
