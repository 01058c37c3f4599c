// Must compile: the valid counterparts of every construct in fail/, so that a fail/ case is known
// to fail because of its one bad setting and not because the test machinery is broken.
#include <cstddef>

#include <est/core/context.hpp>
#include <est/core/tensor.hpp>
#include <est/models/gpt2.hpp>
#include <est/subnet/schedule.hpp>

namespace {
constexpr est::Gpt2Config cfg{
    .layers = 2, .heads = 4, .width = 16, .mlp_hidden = 64, .vocab = 32, .context = 8};
}  // namespace

std::size_t instantiate() {
  est::Context<est::cpu> ctx(1);
  est::Gpt2<cfg> model_f(ctx);
  est::Gpt2<cfg, est::cpu, double> model_d(ctx);
  est::Tensor<float, est::cpu> t;
  est::SubnetworkSchedule<est::sampling::Uniform, est::growth::Constant> schedule(
      est::subnetwork_shape(cfg), est::sampling::Uniform(), est::growth::Constant());
  return sizeof(est::Gpt2<cfg, est::cpu>) + sizeof(t) + sizeof(schedule);
}
