// est's GPT-2 against a peer: the same tiny model computed by PyTorch in float64
// (tests/data/make_gpt2_reference.py writes the file; it spells out Hugging Face GPT-2's
// computation in plain torch ops).
// Loading the peer's tensors by their Hugging Face names also checks est's parameter layout:
// names, shapes, the (in, out) weight orientation, the [Q | K | V] split and the tied LM head.

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include <est/models/gpt2/model.hpp>

#include "../support/peer_reference.hpp"
#include "../support/test_support.hpp"

namespace {

constexpr est::Gpt2Config peer_config{.layers = 2, .heads = 2, .width = 16, .mlp_hidden = 64,
                                      .vocab = 50, .context = 16};

}  // namespace

TEST_CASE("GPT-2 matches PyTorch's loss and every gradient on the same weights", "[gpt2][peer]") {
  auto ref =
      est::testing::read_reference(std::string(EST_TEST_DATA_DIR) + "/gpt2_tiny_reference.bin");
  const std::vector<double> expected_config{2, 2, 16, 64, 50, 16};
  REQUIRE(ref.at("config").values == expected_config);

  const est::Context<est::cpu> ctx(2);
  est::Gpt2<peer_config, est::cpu, double> model(ctx, 0);
  est::testing::load_peer_parameters(model, ref);
  const auto& tok = ref.at("tokens");
  const auto& tgt = ref.at("targets");
  est::Tensor<std::int32_t> tokens({tok.shape[0], tok.shape[1]}), targets({tok.shape[0], tok.shape[1]});
  for (est::Index i = 0; i < tokens.numel(); ++i) {
    tokens[i] = std::int32_t(tok.values[i]);
    targets[i] = std::int32_t(tgt.values[i]);
  }

  model.zero_grad();
  const double loss = model.forward(tokens.view(), targets.view());
  CHECK(loss == Approx(ref.at("loss").values[0]).epsilon(1e-12));
  model.backward();
  const auto grads = model.gradient_arena();
  for (const auto& spec : model.parameter_specs()) {
    INFO(spec.name);
    const est::TensorView<const double> g(grads.data() + spec.offset, spec.shape);
    CHECK(est::testing::relative_error(g, ref.at("grad:" + spec.name).values) < 1e-10);
  }
}
