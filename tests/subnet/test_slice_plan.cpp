// The slice plans of GPT-2 and Llama: their tensors against the parameter layouts, the active
// masks written from them against masks written by hand tensor by tensor
// (support/reference_masks.hpp), their GEMM FLOPs against the products counted by hand, and
// the plan's own checks.

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <vector>

#include <est/models/gpt2/family.hpp>
#include <est/models/gpt2/parameters.hpp>
#include <est/models/llama/family.hpp>
#include <est/models/llama/parameters.hpp>
#include <est/models/slicing.hpp>
#include <est/subnet/slice_plan.hpp>

#include "../support/reference_masks.hpp"
#include "../support/subnet_support.hpp"

using est::Index;
using est::SliceKind;
using est::SlicePlan;
using est::Subnetwork;
using est::Tensor;

namespace {

constexpr est::Gpt2Config gpt2{.layers = 3, .heads = 4, .width = 16, .mlp_hidden = 40,
                               .vocab = 32, .context = 8};
constexpr est::LlamaConfig llama{.layers = 3, .heads = 6, .kv_heads = 3, .width = 24,
                                 .mlp_hidden = 20, .vocab = 32, .context = 8};
constexpr est::LlamaConfig llama_tied{.layers = 2, .heads = 4, .kv_heads = 1, .width = 16,
                                      .mlp_hidden = 24, .vocab = 32, .context = 8,
                                      .tie_embeddings = true};

/// The plan's tensors lie exactly where the layout puts the specs, with the specs' sizes.
void check_against_specs(const SlicePlan& plan, const std::vector<est::ParameterSpec>& specs) {
  REQUIRE(plan.tensors().size() == specs.size());
  for (std::size_t i = 0; i < specs.size(); ++i) {
    INFO(specs[i].name);
    const auto& t = plan.tensors()[i];
    CHECK(t.offset == specs[i].offset);
    CHECK(t.rows * t.cols == specs[i].shape.numel());
    if (specs[i].shape.rank() == 2) {
      CHECK(t.rows == specs[i].shape[0]);
      CHECK(t.cols == specs[i].shape[1]);
    }
  }
}

template <class Config>
void check_masks(const Config& config, const std::vector<est::ParameterSpec>& specs) {
  const est::Context<est::cpu> one(1), two(2);
  auto subnets = est::testing::random_subnetworks(est::subnetwork_shape(config));
  subnets.push_back(Subnetwork::full(est::subnetwork_shape(config)));
  for (const Subnetwork& subnet : subnets) {
    INFO(subnet);
    const SlicePlan plan = est::slice_plan(config, subnet);
    check_against_specs(plan, specs);
    Tensor<std::uint8_t> expected({config.parameter_count()}), got({config.parameter_count()});
    std::fill_n(got.data(), got.numel(), std::uint8_t{7});  // every byte must be written
    est::test::reference_active_mask(config, subnet, expected);
    est::write_active_mask(two, plan, got);
    CHECK(std::memcmp(expected.data(), got.data(), std::size_t(got.numel())) == 0);
    std::fill_n(got.data(), got.numel(), std::uint8_t{7});
    est::mark_active_parameters(one, config, subnet, got);
    CHECK(std::memcmp(expected.data(), got.data(), std::size_t(got.numel())) == 0);
    Index marked = 0;
    for (Index i = 0; i < expected.numel(); ++i) marked += expected[i];
    CHECK(plan.active_elements() == marked);
  }
}

}  // namespace

TEST_CASE("GPT-2 slice plans give the hand-written masks byte for byte", "[slice_plan][gpt2]") {
  std::vector<est::ParameterSpec> specs;
  (void)est::layout_gpt2<float>(gpt2, nullptr, &specs);
  check_masks(gpt2, specs);
}

TEST_CASE("Llama slice plans give the hand-written masks byte for byte", "[slice_plan][llama]") {
  for (const auto& config : {llama, llama_tied}) {
    std::vector<est::ParameterSpec> specs;
    (void)est::layout_llama<float>(config, nullptr, &specs);
    check_masks(config, specs);
  }
}

TEST_CASE("a plan slices by shared index lists and scales the output projections",
          "[slice_plan][gpt2]") {
  // Layer 1 skipped; layer 0: heads {1, 3} of 4 (d = 4), neurons {0, 5, 39} of 40;
  // layer 2: every head, neurons {2}.
  Subnetwork s(est::subnetwork_shape(gpt2));
  s.activate_layer(0, {3, 1}, {39, 0, 5});
  std::vector<int> all_heads{0, 1, 2, 3};
  s.activate_layer(2, all_heads, {2});
  const SlicePlan plan = est::slice_plan(gpt2, s);
  const auto t = plan.tensors();
  const auto layer = [&](int l, int k) { return t[std::size_t(2 + 12 * l + k)]; };
  // Layer 0: c_attn weight and bias share the QKV column list.
  CHECK(layer(0, 2).kind == SliceKind::columns);
  CHECK(layer(0, 3).list == layer(0, 2).list);
  const std::vector<Index> qkv{4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23,
                               28, 29, 30, 31, 36, 37, 38, 39, 44, 45, 46, 47};
  CHECK(std::vector<Index>(plan.indices(layer(0, 2)).begin(), plan.indices(layer(0, 2)).end()) ==
        qkv);
  CHECK(layer(0, 4).kind == SliceKind::rows);  // W_O rows of heads 1 and 3
  CHECK(layer(0, 4).scale == 2.0);
  CHECK(layer(0, 10).kind == SliceKind::rows);  // W_proj rows of the 3 neurons
  CHECK(layer(0, 10).scale == Approx(40.0 / 3.0));
  CHECK(layer(0, 8).list == layer(0, 10).list);  // c_fc columns: the same neurons
  // Layer 1 trains nothing; layer 2's attention is whole.
  for (int k = 0; k < 12; ++k) CHECK(layer(1, k).kind == SliceKind::none);
  CHECK(layer(2, 2).kind == SliceKind::all);
  CHECK(layer(2, 4).scale == 1.0);
  CHECK(layer(2, 10).scale == 40.0);
  // GEMM FLOPs for N tokens: LM head V·C, layer 0: QKV C·3·2d + W_O 2d·C + MLP 2·C·3, layer 2:
  // QKV C·3C + W_O C·C + MLP 2·C·1; each times 2·N.
  const std::int64_t N = 6, C = 16;
  const std::int64_t elements = 32 * C + (C * 24 + 8 * C + 2 * C * 3) + (C * 48 + C * C + 2 * C);
  CHECK(plan.gemm_forward_flops(N) == 2 * N * elements);
}

TEST_CASE("Llama plans slice k and v by the groups the active heads read", "[slice_plan][llama]") {
  // heads 6, kv_heads 3: groups of 2 heads, d = 4. Heads {0, 1} read group 0 only.
  Subnetwork s(est::subnetwork_shape(llama));
  s.activate_layer(1, {1, 0}, {3});
  const SlicePlan plan = est::slice_plan(llama, s);
  const auto t = plan.tensors();
  const auto layer = [&](int l, int k) { return t[std::size_t(1 + 9 * l + k)]; };
  CHECK(layer(1, 1).kind == SliceKind::rows);  // q rows of heads 0, 1
  CHECK(plan.indices(layer(1, 1)).size() == 8);
  CHECK(layer(1, 2).kind == SliceKind::rows);  // k rows of group 0
  CHECK(layer(1, 3).list == layer(1, 2).list);
  CHECK(plan.indices(layer(1, 2)).size() == 4);
  CHECK(layer(1, 4).kind == SliceKind::columns);  // o columns
  CHECK(layer(1, 4).scale == 3.0);
  CHECK(layer(1, 8).scale == 20.0);
  CHECK(layer(0, 1).kind == SliceKind::none);
  CHECK(t.back().gemm_weight);  // the untied LM head
  CHECK_FALSE(t.front().gemm_weight);
}

TEST_CASE("a slice plan refuses inconsistent contents", "[slice_plan][errors]") {
  SlicePlan plan;
  const int list = plan.add_list({0, 2}, 4);
  plan.add({.rows = 2, .cols = 4, .kind = SliceKind::columns, .list = list});
  CHECK_NOTHROW(plan.validate("test", 8));
  CHECK_THROWS_AS(plan.validate("test", 9), est::value_error);

  SlicePlan unsorted;
  const int bad = unsorted.add_list({2, 1}, 4);
  unsorted.add({.rows = 2, .cols = 4, .kind = SliceKind::columns, .list = bad});
  CHECK_THROWS_WITH(unsorted.validate("test", 8), Catch::Matchers::Contains("strictly increasing"));

  SlicePlan out_of_range;
  const int far = out_of_range.add_list({4}, 4);
  out_of_range.add({.rows = 2, .cols = 4, .kind = SliceKind::columns, .list = far});
  CHECK_THROWS_WITH(out_of_range.validate("test", 8), Catch::Matchers::Contains("outside [0, 4)"));

  SlicePlan wrong_extent;
  const int rows = wrong_extent.add_list({0}, 4);
  wrong_extent.add({.rows = 2, .cols = 4, .kind = SliceKind::rows, .list = rows});
  CHECK_THROWS_WITH(wrong_extent.validate("test", 8), Catch::Matchers::Contains("ranges over 4"));

  SlicePlan missing;
  missing.add({.rows = 2, .cols = 4, .kind = SliceKind::rows, .list = 3});
  CHECK_THROWS_AS(missing.validate("test", 8), est::value_error);

  Tensor<std::uint8_t> mask({9});
  CHECK_THROWS_AS(est::write_active_mask(est::Context<est::cpu>(1), plan, mask), est::shape_error);
  Tensor<std::uint8_t> small({est::presets::gpt2_tiny.parameter_count() - 1});
  CHECK_THROWS_AS(est::mark_active_parameters(est::presets::gpt2_tiny,
                                              Subnetwork::full(est::subnetwork_shape(
                                                  est::presets::gpt2_tiny)),
                                              small),
                  est::shape_error);
}

TEST_CASE("a half-block refuses a plan that slices only one of its projections",
          "[slice_plan][errors]") {
  SlicePlan plan;
  const int list = plan.add_list({1, 3}, 4);
  plan.add({.rows = 2, .cols = 4, .kind = SliceKind::columns, .list = list});  // first
  plan.add({.rows = 4, .cols = 2});                                           // second: whole
  CHECK_THROWS_WITH(est::half_slice(plan, 0, 1), Catch::Matchers::Contains("not sliced together"));
  SlicePlan both;
  const int shared = both.add_list({1, 3}, 4, {2.0, 0.5});
  both.add({.rows = 2, .cols = 4, .kind = SliceKind::columns, .list = shared});
  both.add({.rows = 4, .cols = 2, .kind = SliceKind::rows, .list = shared, .scale = 3.0});
  const est::HalfSlice half = est::half_slice(both, 0, 1);
  CHECK_FALSE(half.whole);
  CHECK(std::vector<Index>(half.second.begin(), half.second.end()) == std::vector<Index>{1, 3});
  CHECK(std::vector<double>(half.second_scales.begin(), half.second_scales.end()) ==
        std::vector<double>{2.0, 0.5});
  CHECK(half.scale == 3.0);
  SlicePlan whole;
  whole.add({.rows = 2, .cols = 4});
  whole.add({.rows = 4, .cols = 2});
  CHECK(est::half_slice(whole, 0, 1).whole);
}
