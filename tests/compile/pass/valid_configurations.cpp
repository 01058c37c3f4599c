// Must compile: the valid counterparts of every construct in fail/, so that a fail/ case is known
// to fail because of its one bad setting and not because the test machinery is broken.
#include <cstddef>

#include <est/core/context.hpp>
#include <est/core/tensor.hpp>
#include <est/models/gpt2/model.hpp>
#include <est/models/llama/model.hpp>
#include <est/subnet/schedule.hpp>

namespace {
constexpr est::Gpt2Config cfg{
    .layers = 2, .heads = 4, .width = 16, .mlp_hidden = 64, .vocab = 32, .context = 8};
// The valid neighbours of the Llama fail/ cases: 6 heads in 3 groups, and an even head size.
constexpr est::LlamaConfig grouped{.layers = 2, .heads = 6, .kv_heads = 3, .width = 48,
                                   .mlp_hidden = 64, .vocab = 32, .context = 8};
constexpr est::LlamaConfig even_heads{.layers = 2, .heads = 8, .kv_heads = 2, .width = 48,
                                      .mlp_hidden = 64, .vocab = 32, .context = 8};
}  // namespace

std::size_t instantiate() {
  est::Context<est::cpu> ctx(1);
  est::Gpt2<cfg> model_f(ctx);
  est::Gpt2<cfg, est::cpu, double> model_d(ctx);
  est::Tensor<float, est::cpu> t;
  est::SubnetworkSchedule<est::sampling::Uniform, est::growth::Constant> schedule(
      est::subnetwork_shape(cfg), est::sampling::Uniform(), est::growth::Constant());
  est::Llama<grouped> llama_grouped(ctx);
  est::Llama<even_heads, est::cpu, double> llama_even(ctx);
  return sizeof(est::Gpt2<cfg, est::cpu>) + sizeof(t) + sizeof(schedule) + sizeof(llama_grouped) +
         sizeof(llama_even);
}
