// Starting from transformers checkpoints: files written by transformers' save_pretrained
// (tests/data/make_hf_checkpoints.py: a GPT-2 with the real vocabulary of 50257 in bfloat16, a
// grouped-query Llama with rope_theta 500000 in float32 shards) load into est models whose
// logits and loss match what transformers computed; config.json is checked setting by setting;
// GPT-2's vocabulary is padded inside est and cut again on save; a load then a save gives the
// same tensors; damaged indexes and unsupported configurations are refused by name.

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <est/io/json_file.hpp>
#include <est/models/gpt2/family.hpp>
#include <est/models/gpt2/model.hpp>
#include <est/models/hf_checkpoint.hpp>
#include <est/models/llama/family.hpp>
#include <est/models/llama/model.hpp>

#include "../support/test_support.hpp"

namespace fs = std::filesystem;

namespace {

const fs::path hf_dir = fs::path(EST_TEST_DATA_DIR) / "hf";

// The configurations of the two checkpoints, as est spells them.
constexpr est::Gpt2Config gpt2_real_vocab{.layers = 1, .heads = 2, .width = 4, .mlp_hidden = 16,
                                          .vocab = 50257, .context = 8, .padded_vocab = 50304};
constexpr est::LlamaConfig llama_gqa{.layers = 2, .heads = 4, .kv_heads = 2, .width = 32,
                                     .mlp_hidden = 48, .vocab = 64, .context = 16,
                                     .rope_theta = 500000.0, .norm_eps = 1e-6};
// The same Llama with the defaults a preset would have: another function.
constexpr est::LlamaConfig llama_default_rope{.layers = 2, .heads = 4, .kv_heads = 2,
                                              .width = 32, .mlp_hidden = 48, .vocab = 64,
                                              .context = 16};

const nlohmann::json& expected(const std::string& name) {
  static const nlohmann::json all = est::read_json_file(hf_dir / "expected.json", "expectations");
  return all.at(name);
}

/// Runs `model` over the expected token sequence and compares, position by position, the
/// log-sum-exp of the vocabulary's logits and the listed columns with transformers', and the
/// mean next-token loss.
template <class Model>
void check_against_transformers(Model& model, const nlohmann::json& e, double tolerance) {
  const auto ids = e.at("tokens").get<std::vector<std::int32_t>>();
  const est::Index T = std::ssize(ids);
  est::Tensor<std::int32_t> tokens({1, T});
  std::copy(ids.begin(), ids.end(), tokens.data());
  model.forward(est::ConstView<std::int32_t>(tokens.view()));
  const auto logits = model.logits();  // (1, T, V padded)
  const est::Index V = Model::config.vocab, row = logits.dim(2);
  double worst = 0;
  for (est::Index t = 0; t < T; ++t) {
    const float* z = logits.data() + t * row;
    double max = z[0];
    for (est::Index v = 0; v < V; ++v) max = std::max(max, double(z[v]));
    double sum = 0;
    for (est::Index v = 0; v < V; ++v) sum += std::exp(double(z[v]) - max);
    worst = std::max(worst, std::abs(max + std::log(sum) - e.at("logsumexp")[t].get<double>()));
    const auto columns = e.at("columns").get<std::vector<est::Index>>();
    for (std::size_t k = 0; k < columns.size(); ++k) {
      worst = std::max(worst, std::abs(double(z[columns[k]]) - e.at("logits")[t][k].get<double>()));
    }
    for (est::Index v = V; v < row; ++v) REQUIRE(z[v] == 0.0f);  // padding columns
  }
  CHECK(worst <= tolerance);
  // transformers' loss: logits at position t predict token t + 1.
  est::Tensor<std::int32_t> in({1, T - 1}), next({1, T - 1});
  std::copy(ids.begin(), ids.end() - 1, in.data());
  std::copy(ids.begin() + 1, ids.end(), next.data());
  const double loss = model.evaluate(in.view(), next.view());
  CHECK(loss == Approx(e.at("loss").get<double>()).epsilon(1e-5));
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

}  // namespace

TEST_CASE("a transformers GPT-2 with the real vocabulary of 50257 loads into a padded est GPT-2 "
          "and computes transformers' logits", "[hf][gpt2]") {
  const est::Context<est::cpu> ctx(2);
  est::Gpt2<gpt2_real_vocab> model(ctx, 7);
  const fs::path dir = hf_dir / "gpt2_vocab50257";
  const auto info = est::load_hf_checkpoint(dir, model);
  CHECK(info.config_checked);
  CHECK(info.files == 1);
  CHECK(est::hf_checkpoint_config<est::Gpt2Config>(dir) ==
        est::Gpt2Config{.layers = 1, .heads = 2, .width = 4, .mlp_hidden = 16, .vocab = 50257,
                        .context = 8});

  // Every value is the file's bfloat16 value; the padding rows are 0.
  const auto file = est::SafetensorsFile::open(dir / "model.safetensors");
  const auto arena = model.parameter_arena();
  for (const auto& spec : model.parameter_specs()) {
    INFO(spec.name);
    const auto& stored = file.info("transformer." + spec.name);
    std::size_t count = 1;
    for (const auto extent : stored.shape) count *= std::size_t(extent);
    std::vector<float> values(count);
    file.convert_to("transformer." + spec.name, std::span<float>(values));
    for (std::size_t i = 0; i < values.size(); ++i) REQUIRE(arena[spec.offset + est::Index(i)] == values[i]);
    if (spec.name == "wte.weight") {
      CHECK(stored.shape == std::vector<std::int64_t>{50257, 4});
      for (est::Index i = 50257 * 4; i < 50304 * 4; ++i) REQUIRE(arena[i] == 0.0f);
    }
  }
  check_against_transformers(model, expected("gpt2_vocab50257"), 1e-5);

  // A training step gives the padding rows no gradient.
  est::Tensor<std::int32_t> tokens({1, 4}), targets({1, 4});
  for (int i = 0; i < 4; ++i) {
    tokens[i] = 50256 - i;
    targets[i] = i * 1000;
  }
  model.zero_grad();
  (void)model.forward(tokens.view(), targets.view());
  model.backward();
  const auto grads = model.gradient_arena();
  double real_rows = 0;
  for (est::Index i = 0; i < 50257 * 4; ++i) real_rows += std::abs(grads[i]);
  CHECK(real_rows > 0);
  for (est::Index i = 50257 * 4; i < 50304 * 4; ++i) REQUIRE(grads[i] == 0.0f);

  // Whatever the padding rows hold, the loss and every gradient are the same: they are no
  // token, take no part in the softmax, and backward never reads them.
  {
    std::vector<float> grads_before(grads.data(), grads.data() + grads.numel());
    const std::vector<float> weights_before(arena.data(), arena.data() + arena.numel());
    model.zero_grad();
    const double clean = model.forward(tokens.view(), targets.view());
    model.backward();
    for (est::Index i = 50257 * 4; i < 50304 * 4; ++i) arena[i] = float(i % 7) - 3.0f;
    model.zero_grad();
    const double dirty = model.forward(tokens.view(), targets.view());
    model.backward();
    CHECK(dirty == clean);
    for (est::Index i = 0; i < grads.numel(); ++i) REQUIRE(grads[i] == grads_before[std::size_t(i)]);
    std::copy(weights_before.begin(), weights_before.end(), arena.data());
  }

  // Saved back: the vocabulary's rows only, a config.json transformers reads, and the same
  // weights when loaded again.
  const est::testing::TempDir out;
  est::save_hf_checkpoint(out.path(), model);
  const auto saved = est::SafetensorsFile::open(out.path() / "model.safetensors");
  CHECK(saved.info("wte.weight").shape == std::vector<std::int64_t>{50257, 4});
  const auto config = est::read_json_file(out.path() / "config.json", "config.json");
  CHECK(config.at("vocab_size") == 50257);
  CHECK(config.at("model_type") == "gpt2");
  est::Gpt2<gpt2_real_vocab> again(ctx, 99);
  CHECK(est::load_hf_checkpoint(out.path(), again).config_checked);
  for (est::Index i = 0; i < arena.numel(); ++i) REQUIRE(again.parameter_arena()[i] == arena[i]);
}

TEST_CASE("a sharded transformers Llama with rope_theta 500000 loads and computes transformers' "
          "logits; load then save reproduces every tensor bit for bit", "[hf][llama]") {
  const est::Context<est::cpu> ctx(2);
  est::Llama<llama_gqa> model(ctx, 3);
  const fs::path dir = hf_dir / "llama_gqa_sharded";
  const auto info = est::load_hf_checkpoint(dir, model);
  CHECK(info.files == 2);
  CHECK(info.weights.filename() == "model.safetensors.index.json");
  CHECK(info.config_checked);
  check_against_transformers(model, expected("llama_gqa_sharded"), 1e-5);

  const est::testing::TempDir out;
  est::save_hf_checkpoint(out.path(), model);
  const auto shards = est::SafetensorsShards::open(dir);
  const auto saved = est::SafetensorsFile::open(out.path() / "model.safetensors");
  CHECK(saved.names().size() == shards.names().size());
  for (const std::string& name : shards.names()) {
    INFO(name);
    const auto a = shards.file_of(name).bytes(name);
    const auto b = saved.bytes(name);
    REQUIRE(a.size() == b.size());
    CHECK(std::equal(a.begin(), a.end(), b.begin()));
    CHECK(saved.info(name).shape == shards.info(name).shape);
  }
  // The same weights load into the saved directory's model, through its own config.json.
  CHECK(est::hf_checkpoint_config<est::LlamaConfig>(out.path()) == llama_gqa);
}

TEST_CASE("config.json is checked against the model, naming every difference",
          "[hf][errors]") {
  const est::Context<est::cpu> ctx(1);
  const fs::path llama_dir = hf_dir / "llama_gqa_sharded";
  est::Llama<llama_default_rope> other(ctx, 1);
  const auto before = std::vector<float>(other.parameter_arena().data(),
                                         other.parameter_arena().data() + other.parameter_arena().numel());
  EST_CHECK_THROWS(est::load_hf_checkpoint(llama_dir, other), est::io_error,
                   "the checkpoint is not of the model's configuration:");
  EST_CHECK_THROWS(est::load_hf_checkpoint(llama_dir, other), est::io_error,
                   "rope_theta: checkpoint 500000.0, model 10000.0");
  EST_CHECK_THROWS(est::load_hf_checkpoint(llama_dir, other), est::io_error,
                   "rms_norm_eps: checkpoint 1e-06, model 1e-05");
  // Nothing was written into the model.
  for (std::size_t i = 0; i < before.size(); ++i) REQUIRE(other.parameter_arena()[est::Index(i)] == before[i]);

  est::Gpt2<gpt2_real_vocab> gpt2(ctx, 1);
  EST_CHECK_THROWS(est::load_hf_checkpoint(llama_dir, gpt2), est::io_error,
                   "\"model_type\" is \"llama\", not \"gpt2\"");

  // Without a config.json only the tensors can be checked: the file alone loads.
  const est::testing::TempDir bare;
  fs::copy_file(hf_dir / "gpt2_vocab50257" / "model.safetensors", bare.path() / "weights.safetensors");
  const auto info = est::load_hf_checkpoint(bare.path() / "weights.safetensors", gpt2);
  CHECK_FALSE(info.config_checked);
  EST_CHECK_THROWS((void)est::hf_checkpoint_config<est::Gpt2Config>(bare.path()), est::io_error,
                   "there is no config.json");
}

TEST_CASE("configurations est does not implement are refused with every setting named",
          "[hf][errors]") {
  const nlohmann::json gpt2 = est::read_json_file(hf_dir / "gpt2_vocab50257" / "config.json", "c");
  nlohmann::json bad = gpt2;
  bad["activation_function"] = "relu";
  bad["layer_norm_epsilon"] = 1e-6;
  bad["scale_attn_by_inverse_layer_idx"] = true;
  bad["n_head"] = 3;
  try {
    (void)est::gpt2_config_from_hf(bad, "config.json \"x\"");
    FAIL("accepted");
  } catch (const est::io_error& e) {
    const std::string what = e.what();
    CHECK_THAT(what, Catch::Contains("config.json \"x\": est cannot build this model:"));
    CHECK_THAT(what, Catch::Contains("\"activation_function\" is \"relu\""));
    CHECK_THAT(what, Catch::Contains("\"layer_norm_epsilon\" is 1e-06"));
    CHECK_THAT(what, Catch::Contains("\"scale_attn_by_inverse_layer_idx\" is true"));
    CHECK_THAT(what, Catch::Contains("\"n_embd\" 4 is not a multiple of \"n_head\" 3"));
  }
  nlohmann::json missing = gpt2;
  missing.erase("n_layer");
  missing["vocab_size"] = -4;
  EST_CHECK_THROWS((void)est::gpt2_config_from_hf(missing, "w"), est::io_error, "\"n_layer\" is missing");
  EST_CHECK_THROWS((void)est::gpt2_config_from_hf(missing, "w"), est::io_error,
                   "\"vocab_size\" is -4, expected a positive integer");
  EST_CHECK_THROWS((void)est::gpt2_config_from_hf(nlohmann::json::array(), "w"), est::io_error,
                   "expected a JSON object");
  // n_inner null is 4·n_embd, as in transformers.
  nlohmann::json inner = gpt2;
  inner["n_inner"] = nullptr;
  CHECK(est::gpt2_config_from_hf(inner, "w").mlp_hidden == 16);

  const nlohmann::json llama =
      est::read_json_file(hf_dir / "llama_gqa_sharded" / "config.json", "c");
  CHECK(est::llama_config_from_hf(llama, "w") == llama_gqa);
  nlohmann::json scaled = llama;
  scaled["rope_parameters"] = {{"rope_type", "llama3"}, {"rope_theta", 500000.0}, {"factor", 8.0}};
  scaled["attention_bias"] = true;
  scaled["head_dim"] = 16;
  try {
    (void)est::llama_config_from_hf(scaled, "w");
    FAIL("accepted");
  } catch (const est::io_error& e) {
    const std::string what = e.what();
    CHECK_THAT(what, Catch::Contains("asks for RoPE type \"llama3\""));
    CHECK_THAT(what, Catch::Contains("\"attention_bias\" is true"));
    CHECK_THAT(what, Catch::Contains("\"head_dim\" is 16"));
  }
  // Older files: a top-level rope_theta, no rope_parameters; defaults as in transformers.
  nlohmann::json old = llama;
  old.erase("rope_parameters");
  old["rope_theta"] = 250000.0;
  old.erase("num_key_value_heads");
  old.erase("rms_norm_eps");
  const auto c = est::llama_config_from_hf(old, "w");
  CHECK(c.rope_theta == 250000.0);
  CHECK(c.kv_heads == 4);
  CHECK(c.norm_eps == 1e-6);
  // Written and read back, every configuration is itself.
  CHECK(est::llama_config_from_hf(est::llama_hf_config(llama_gqa), "w") == llama_gqa);
  CHECK(est::gpt2_config_from_hf(est::gpt2_hf_config(est::presets::gpt2_tiny), "w") ==
        est::presets::gpt2_tiny);
}

TEST_CASE("sharded checkpoints: a damaged index is refused by name", "[hf][errors]") {
  const fs::path src = hf_dir / "llama_gqa_sharded";
  const est::testing::TempDir dir;
  for (const auto& entry : fs::directory_iterator(src)) {
    fs::copy_file(entry.path(), dir.path() / entry.path().filename());
  }
  const auto index_path = dir.path() / "model.safetensors.index.json";
  const nlohmann::json index = est::read_json_file(index_path, "index");
  CHECK(est::SafetensorsShards::open(dir.path()).file_count() == 2);
  auto with = [&](const std::function<void(nlohmann::json&)>& edit) {
    nlohmann::json j = index;
    edit(j);
    write_text(index_path, j.dump());
  };
  const std::string first = "model-00001-of-00002.safetensors";
  const std::string second = "model-00002-of-00002.safetensors";

  with([&](nlohmann::json& j) { j["weight_map"]["model.norm.weight"] = "../elsewhere.safetensors"; });
  EST_CHECK_THROWS((void)est::SafetensorsShards::open(dir.path()), est::io_error,
                   "is not a file name in the index's directory");
  with([&](nlohmann::json& j) { j["weight_map"]["model.norm.weight"] = "missing.safetensors"; });
  EST_CHECK_THROWS((void)est::SafetensorsShards::open(dir.path()), est::io_error,
                   "missing.safetensors");
  with([&](nlohmann::json& j) {
    const std::string shard = j["weight_map"]["lm_head.weight"];
    j["weight_map"]["lm_head.weight"] = shard == first ? second : first;
  });
  EST_CHECK_THROWS((void)est::SafetensorsShards::open(dir.path()), est::io_error,
                   "tensor \"lm_head.weight\" is not in its shard");
  with([&](nlohmann::json& j) { j["weight_map"].erase("lm_head.weight"); });
  EST_CHECK_THROWS((void)est::SafetensorsShards::open(dir.path()), est::io_error,
                   "holds tensor \"lm_head.weight\", which the weight_map does not list");
  with([&](nlohmann::json& j) { j["weight_map"] = nlohmann::json::array(); });
  EST_CHECK_THROWS((void)est::SafetensorsShards::open(dir.path()), est::io_error,
                   "expected an object with a \"weight_map\" object");
  write_text(index_path, std::string(100, '[') + std::string(100, ']'));
  EST_CHECK_THROWS((void)est::SafetensorsShards::open(dir.path()), est::io_error,
                   "nests deeper than 64 levels");
  write_text(index_path, "{\"weight_map\": ");
  EST_CHECK_THROWS((void)est::SafetensorsShards::open(dir.path()), est::io_error, "is not valid JSON");

  const est::testing::TempDir empty;
  EST_CHECK_THROWS((void)est::SafetensorsShards::open(empty.path()), est::io_error,
                   "holds neither model.safetensors nor model.safetensors.index.json");
  write_text(empty.path() / "pytorch_model.bin", "x");
  EST_CHECK_THROWS((void)est::SafetensorsShards::open(empty.path()), est::io_error,
                   "only pytorch_model.bin, a pickle");
}
