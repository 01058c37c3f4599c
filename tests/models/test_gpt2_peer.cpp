// est's GPT-2 against a peer: the same tiny model computed by PyTorch in float64
// (tests/data/make_gpt2_reference.py writes the file; it spells out Hugging Face GPT-2's
// computation in plain torch ops).
// Loading the peer's tensors by their Hugging Face names also checks est's parameter layout:
// names, shapes, the (in, out) weight orientation, the [Q | K | V] split and the tied LM head.

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <est/models/gpt2.hpp>

#include "../support/test_support.hpp"

namespace {

struct PeerTensor {
  std::vector<std::uint32_t> shape;
  std::vector<double> values;
};

std::uint32_t read_u32(std::ifstream& in) {
  unsigned char b[4];
  in.read(reinterpret_cast<char*>(b), 4);
  return std::uint32_t(b[0]) | std::uint32_t(b[1]) << 8 | std::uint32_t(b[2]) << 16 |
         std::uint32_t(b[3]) << 24;
}

std::map<std::string, PeerTensor> read_reference(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  char magic[8];
  in.read(magic, 8);
  REQUIRE(std::string(magic, 8) == "ESTREF01");
  std::map<std::string, PeerTensor> tensors;
  const std::uint32_t count = read_u32(in);
  for (std::uint32_t i = 0; i < count; ++i) {
    std::string name(read_u32(in), '\0');
    in.read(name.data(), std::streamsize(name.size()));
    PeerTensor t;
    t.shape.resize(read_u32(in));
    std::size_t n = 1;
    for (auto& e : t.shape) n *= (e = read_u32(in));
    t.values.resize(n);
    in.read(reinterpret_cast<char*>(t.values.data()), std::streamsize(n * sizeof(double)));
    REQUIRE(in.good());
    tensors.emplace(std::move(name), std::move(t));
  }
  return tensors;
}

constexpr est::Gpt2Config peer_config{.layers = 2, .heads = 2, .width = 16, .mlp_hidden = 64,
                                      .vocab = 50, .context = 16};

}  // namespace

TEST_CASE("GPT-2 matches PyTorch's loss and every gradient on the same weights", "[gpt2][peer]") {
  auto ref = read_reference(std::string(EST_TEST_DATA_DIR) + "/gpt2_tiny_reference.bin");
  const std::vector<double> expected_config{2, 2, 16, 64, 50, 16};
  REQUIRE(ref.at("config").values == expected_config);

  const est::Context<est::cpu> ctx(2);
  est::Gpt2<peer_config, est::cpu, double> model(ctx, 0);
  auto arena = model.parameter_arena();
  for (const auto& spec : model.parameter_specs()) {
    INFO(spec.name);
    const PeerTensor& t = ref.at(spec.name);
    REQUIRE(t.shape.size() == std::size_t(spec.shape.rank()));
    for (int d = 0; d < spec.shape.rank(); ++d) REQUIRE(t.shape[d] == spec.shape[d]);
    std::copy(t.values.begin(), t.values.end(), arena.data() + spec.offset);
  }
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
