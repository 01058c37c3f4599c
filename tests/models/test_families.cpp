// The checks every model family must pass (models/family.hpp), run over each family's tiny model
// as a Catch2 type list: a new family joins by adding its model to the list. The slice plan of
// the full model covers the parameter specs exactly and trains everything; the plan of a
// subnetwork trains exactly the elements whose gradients its backward pass touches; the FLOPs
// of the full model are three times the forward products counted from the specs; the
// configuration's identity tells configurations apart; the checkpoint files written by the
// family load back bit for bit.

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <span>
#include <tuple>
#include <vector>

#include <est/models/gpt2/model.hpp>
#include <est/models/llama/model.hpp>
#include <est/subnet/sampling.hpp>

#include "../support/subnet_support.hpp"
#include "../support/test_support.hpp"

using est::Index;
using est::SliceKind;
using est::Subnetwork;
using est::Tensor;

namespace {

using Models = std::tuple<est::Gpt2<est::presets::gpt2_tiny, est::cpu, double>,
                          est::Llama<est::presets::llama_tiny, est::cpu, double>>;

}  // namespace

TEMPLATE_LIST_TEST_CASE("a family's full slice plan covers its specs and trains everything",
                        "[family]", Models) {
  using Family = typename TestType::family;
  constexpr auto config = TestType::config;
  static_assert(est::ModelFamily<Family>);
  static_assert(std::is_same_v<est::family_t<std::remove_cvref_t<decltype(config)>>, Family>);
  const est::Context<est::cpu> ctx(1);
  TestType model(ctx, 1);
  const auto& specs = model.parameter_specs();
  const auto shape = est::subnetwork_shape(config);
  const est::SlicePlan plan = est::slice_plan(config, Subnetwork::full(shape));
  REQUIRE(plan.tensors().size() == specs.size());
  for (std::size_t i = 0; i < specs.size(); ++i) {
    INFO(specs[i].name);
    CHECK(plan.tensors()[i].offset == specs[i].offset);
    CHECK(plan.tensors()[i].rows * plan.tensors()[i].cols == specs[i].shape.numel());
    CHECK(plan.tensors()[i].kind == SliceKind::all);
  }
  CHECK(plan.parameter_count() == config.parameter_count());
  CHECK(plan.active_elements() == config.parameter_count());
  CHECK(plan.list_count() == 0);
}

TEMPLATE_LIST_TEST_CASE("a family's slice plan trains exactly what the sliced backward touches",
                        "[family]", Models) {
  constexpr auto config = TestType::config;
  const est::Context<est::cpu> ctx(1);
  TestType model(ctx, 3);
  auto tokens = est::testing::random_tokens({2, 5}, config.vocab, 4);
  auto targets = est::testing::random_tokens({2, 5}, config.vocab, 5);
  for (const Subnetwork& subnet :
       est::testing::random_subnetworks(est::subnetwork_shape(config))) {
    INFO(subnet);
    model.zero_grad();
    model.forward(tokens.view(), targets.view(), subnet);
    model.backward();
    Tensor<std::uint8_t> mask({config.parameter_count()});
    est::mark_active_parameters(config, subnet, mask);
    const auto grads = model.gradient_arena();
    Index touched_outside = 0, active = 0;
    for (Index i = 0; i < grads.numel(); ++i) {
      if (mask[i] == 0 && grads[i] != 0) ++touched_outside;
      active += mask[i];
    }
    CHECK(touched_outside == 0);  // nothing outside the plan gets a gradient
    // and the plan is not trivially everything: a subnetwork that skips a layer or leaves out
    // a head or neuron trains less (one that only rescales its units trains everything).
    bool complete = subnet.active_layer_count() == config.layers;
    for (const int l : subnet.active_layers()) {
      complete = complete && std::ssize(subnet.heads(l)) == config.heads &&
                 std::ssize(subnet.neurons(l)) == config.mlp_hidden;
    }
    CHECK((active < config.parameter_count()) == !complete);
    CHECK(active == est::slice_plan(config, subnet).active_elements());
  }
}

TEMPLATE_LIST_TEST_CASE("a family's full-model FLOPs are three times its forward products",
                        "[family]", Models) {
  constexpr auto config = TestType::config;
  const std::int64_t B = 3, T = 7, N = B * T, d = config.head_dim();
  // Forward, by hand from the configuration: every projection of every layer and the LM head
  // at 2·N per weight, and QKᵀ and P·V at 2·B·H·T·T·d each.
  std::int64_t weights = std::int64_t(config.vocab) * config.width;  // the LM head
  const std::int64_t C = config.width, M = config.mlp_hidden, H = config.heads;
  if constexpr (std::is_same_v<std::remove_cvref_t<decltype(config)>, est::LlamaConfig>) {
    const std::int64_t kv = std::int64_t(config.kv_heads) * d;
    weights += config.layers * (H * d * C + 2 * kv * C + C * H * d + 3 * M * C);
  } else {
    weights += config.layers * (C * 3 * C + C * C + 2 * C * M);
  }
  const std::int64_t forward = 2 * N * weights + config.layers * 2 * 2 * B * H * T * T * d;
  const est::StepFlops flops = est::step_flops(config, B, T);
  CHECK(flops.forward == forward);
  CHECK(flops.backward == 2 * forward);
}

TEMPLATE_LIST_TEST_CASE("a family's checkpoint files load back bit for bit and its identity "
                        "tells configurations apart", "[family]", Models) {
  using Family = typename TestType::family;
  constexpr auto config = TestType::config;
  const est::Context<est::cpu> ctx(1);
  TestType source(ctx, 11), target(ctx, 12);
  const est::testing::TempDir dir("family-files");
  const auto arena = source.parameter_arena();
  Family::save_weights(dir.path(), config, source.parameter_specs(),
                       std::span<const double>(arena.data(), std::size_t(arena.numel())), {});
  auto into = target.parameter_arena();
  Family::load_weights(dir.path(), config, target.parameter_specs(),
                       std::span<double>(into.data(), std::size_t(into.numel())));
  CHECK(std::memcmp(arena.data(), into.data(), sizeof(double) * std::size_t(arena.numel())) == 0);

  auto other = config;
  other.layers += 1;
  CHECK(Family::config_json(config) == Family::config_json(config));
  CHECK_FALSE(Family::config_json(other) == Family::config_json(config));
  CHECK(std::string_view(Family::name).size() > 0);
}
