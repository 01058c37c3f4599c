// est's Llama against a peer: the same tiny grouped-query model computed by PyTorch in float64
// (tests/data/make_llama_reference.py spells out Hugging Face LlamaForCausalLM's computation in
// plain torch ops). Loading the peer's tensors by their Hugging Face names checks est's layout
// ((out, in) weights, q/k/v/o and gate/up/down names, query heads reading key/value head
// i / (H / H_kv), rotate-half RoPE); the loss and every gradient must agree. Then the same
// weights go through est's safetensors writer and reader, and bad files are refused with the
// first mismatching tensor named.

#include <catch2/catch.hpp>

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include <est/models/llama/hf_format.hpp>
#include <est/models/gpt2/model.hpp>
#include <est/models/llama/model.hpp>

#include "../support/peer_reference.hpp"
#include "../support/test_support.hpp"

namespace {

constexpr est::LlamaConfig peer_config{.layers = 2, .heads = 4, .kv_heads = 2, .width = 16,
                                       .mlp_hidden = 24, .vocab = 50, .context = 16,
                                       .rope_theta = 10000.0, .norm_eps = 1e-5};
using PeerModel = est::Llama<peer_config, est::cpu, double>;

}  // namespace

TEST_CASE("Llama matches PyTorch's loss and every gradient on the same weights",
          "[llama][peer]") {
  const auto ref =
      est::testing::read_reference(std::string(EST_TEST_DATA_DIR) + "/llama_tiny_reference.bin");
  const std::vector<double> expected_config{2, 4, 2, 16, 24, 50, 16, 10000.0, 1e-5};
  REQUIRE(ref.at("config").values == expected_config);
  const est::Context<est::cpu> ctx(2);
  PeerModel model(ctx, 0);
  est::testing::load_peer_parameters(model, ref);
  // Every tensor of the file is a parameter of the model, and the reverse.
  std::size_t parameters = 0;
  for (const auto& [name, t] : ref) parameters += name.starts_with("model.") || name == "lm_head.weight";
  CHECK(parameters == model.parameter_specs().size());

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

TEST_CASE("Llama safetensors: Hugging Face names and shapes, round trip, clear refusals",
          "[llama][safetensors]") {
  const est::testing::TempDir dir;
  const auto ref =
      est::testing::read_reference(std::string(EST_TEST_DATA_DIR) + "/llama_tiny_reference.bin");
  const est::Context<est::cpu> ctx(1);
  PeerModel model(ctx, 0);
  est::testing::load_peer_parameters(model, ref);
  const auto file = dir.path() / "model.safetensors";
  const auto arena = model.parameter_arena();
  est::save_llama_safetensors(file, model.parameter_specs(),
                              std::span<const double>(arena.data(), std::size_t(arena.numel())));
  {
    const auto st = est::SafetensorsFile::open(file);
    CHECK(st.metadata().at("format") == "pt");
    CHECK(st.info("model.layers.1.self_attn.k_proj.weight").shape ==
          std::vector<std::int64_t>{8, 16});  // (kv_heads · d, C)
    CHECK(st.info("model.layers.0.self_attn.o_proj.weight").shape ==
          std::vector<std::int64_t>{16, 16});
    CHECK(st.info("model.layers.0.mlp.down_proj.weight").shape ==
          std::vector<std::int64_t>{16, 24});
    CHECK(st.info("lm_head.weight").shape == std::vector<std::int64_t>{50, 16});
    CHECK(st.names().size() == model.parameter_specs().size());
  }
  // Round trip, in float as well (F64 converted on load).
  est::Llama<peer_config> loaded(ctx, 9);
  auto loaded_arena = loaded.parameter_arena();
  est::load_llama_safetensors(file, loaded.parameter_specs(),
                              std::span<float>(loaded_arena.data(), std::size_t(loaded_arena.numel())));
  for (est::Index i = 0; i < arena.numel(); ++i) REQUIRE(loaded_arena[i] == float(arena[i]));

  // A model of another shape: the first mismatching tensor is named, nothing is written.
  constexpr est::LlamaConfig wider_mlp{.layers = 2, .heads = 4, .kv_heads = 2, .width = 16,
                                       .mlp_hidden = 32, .vocab = 50, .context = 16};
  est::Llama<wider_mlp> other(ctx, 1);
  auto other_arena = other.parameter_arena();
  const std::vector<float> before(other_arena.data(), other_arena.data() + other_arena.numel());
  EST_CHECK_THROWS(est::load_llama_safetensors(file, other.parameter_specs(),
                                               std::span<float>(other_arena.data(),
                                                                std::size_t(other_arena.numel()))),
                   est::io_error,
                   "tensor \"model.layers.0.mlp.gate_proj.weight\" has shape [24, 16], expected "
                   "[32, 16]");
  CHECK(std::equal(before.begin(), before.end(), other_arena.data()));
  // Fewer key/value heads.
  constexpr est::LlamaConfig mqa{.layers = 2, .heads = 4, .kv_heads = 1, .width = 16,
                                 .mlp_hidden = 24, .vocab = 50, .context = 16};
  est::Llama<mqa> one_group(ctx, 1);
  auto og = one_group.parameter_arena();
  EST_CHECK_THROWS(est::load_llama_safetensors(file, one_group.parameter_specs(),
                                               std::span<float>(og.data(), std::size_t(og.numel()))),
                   est::io_error, "\"model.layers.0.self_attn.k_proj.weight\" has shape [8, 16], expected [4, 16]");
  // A tied model reads an untied file's embedding and ignores its lm_head; the reverse is refused.
  constexpr est::LlamaConfig tied{.layers = 2, .heads = 4, .kv_heads = 2, .width = 16,
                                  .mlp_hidden = 24, .vocab = 50, .context = 16,
                                  .tie_embeddings = true};
  est::Llama<tied> tied_model(ctx, 1);
  auto ta = tied_model.parameter_arena();
  est::load_llama_safetensors(file, tied_model.parameter_specs(),
                              std::span<float>(ta.data(), std::size_t(ta.numel())));
  const auto tied_file = dir.path() / "tied.safetensors";
  est::save_llama_safetensors(tied_file, tied_model.parameter_specs(),
                              std::span<const float>(ta.data(), std::size_t(ta.numel())));
  EST_CHECK_THROWS(est::load_llama_safetensors(tied_file, loaded.parameter_specs(),
                                               std::span<float>(loaded_arena.data(),
                                                                std::size_t(loaded_arena.numel()))),
                   est::io_error, "\"lm_head.weight\" is missing; the file's LM head is tied");
  // More layers in the file than in the model.
  constexpr est::LlamaConfig one_layer{.layers = 1, .heads = 4, .kv_heads = 2, .width = 16,
                                       .mlp_hidden = 24, .vocab = 50, .context = 16};
  est::Llama<one_layer> shallow(ctx, 1);
  auto sa = shallow.parameter_arena();
  EST_CHECK_THROWS(est::load_llama_safetensors(file, shallow.parameter_specs(),
                                               std::span<float>(sa.data(), std::size_t(sa.numel()))),
                   est::io_error, "belongs to layer 1 but the model has 1 layers");
  // A GPT-2 checkpoint is another architecture.
  constexpr est::Gpt2Config gpt2{.layers = 1, .heads = 2, .width = 16, .mlp_hidden = 64,
                                 .vocab = 50, .context = 16};
  est::Gpt2<gpt2> gpt(ctx, 1);
  const auto gpt_file = dir.path() / "gpt2.safetensors";
  const auto ga = gpt.parameter_arena();
  est::save_gpt2_safetensors(gpt_file, gpt.parameter_specs(),
                             std::span<const float>(ga.data(), std::size_t(ga.numel())));
  EST_CHECK_THROWS(est::load_llama_safetensors(gpt_file, loaded.parameter_specs(),
                                               std::span<float>(loaded_arena.data(),
                                                                std::size_t(loaded_arena.numel()))),
                   est::io_error, "not a Llama checkpoint");
  // The transformers configuration.
  const auto hf = est::llama_hf_config(peer_config);
  CHECK(hf.at("num_key_value_heads") == 2);
  CHECK(hf.at("intermediate_size") == 24);
  CHECK(hf.at("tie_word_embeddings") == false);
}
