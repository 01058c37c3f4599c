#pragma once
// Llama configurations as transformers' config.json describes them (LlamaConfig), both ways.
//
// est's Llama is transformers' LlamaForCausalLM with SiLU (SwiGLU MLP), no biases, plain RoPE
// (no scaling) and head size hidden_size / num_attention_heads. A config.json that asks for
// anything else is refused with every such setting named. RoPE's base is read from
// "rope_parameters" (transformers 5) or the older top-level "rope_theta"; defaults are
// transformers': rms_norm_eps 1e-6, rope_theta 10000, num_key_value_heads = heads, untied.

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "est/io/hf_config.hpp"
#include "est/models/llama/config.hpp"

namespace est {

/// The transformers config.json of a LlamaForCausalLM with this configuration.
[[nodiscard]] inline nlohmann::json llama_hf_config(const LlamaConfig& c,
                                                    std::string_view torch_dtype = "float32") {
  return {{"architectures", {"LlamaForCausalLM"}},
          {"model_type", "llama"},
          {"hidden_size", c.width},
          {"intermediate_size", c.mlp_hidden},
          {"num_hidden_layers", c.layers},
          {"num_attention_heads", c.heads},
          {"num_key_value_heads", c.kv_heads},
          {"head_dim", c.head_dim()},
          {"vocab_size", c.vocab},
          {"max_position_embeddings", c.context},
          {"rms_norm_eps", c.norm_eps},
          {"rope_theta", c.rope_theta},
          {"hidden_act", "silu"},
          {"attention_bias", false},
          {"mlp_bias", false},
          {"tie_word_embeddings", c.tie_embeddings},
          {"torch_dtype", std::string(torch_dtype)}};
}

/// The Llama configuration that transformers' `config` (a parsed config.json) describes; throws
/// io_error naming `where` and every setting est does not implement.
[[nodiscard]] inline LlamaConfig llama_config_from_hf(const nlohmann::json& config,
                                                      const std::string& where) {
  detail::HfConfigReader r(config, where);
  const std::string type = r.string_or("model_type", "");
  if (type != "llama") {
    r.problem("\"model_type\" is \"" + type + "\", not \"llama\"");
    r.finish();
  }
  LlamaConfig c;
  c.layers = r.positive_int({"num_hidden_layers"});
  c.heads = r.positive_int({"num_attention_heads"});
  c.kv_heads = r.positive_int_or("num_key_value_heads", c.heads);
  c.width = r.positive_int({"hidden_size"});
  c.mlp_hidden = r.positive_int({"intermediate_size"});
  c.vocab = r.positive_int({"vocab_size"});
  c.context = r.positive_int({"max_position_embeddings"});
  c.norm_eps = r.positive_number_or("rms_norm_eps", 1e-6);
  c.tie_embeddings = r.boolean_or("tie_word_embeddings", false);
  r.expect(c.heads == 0 || c.width % c.heads == 0,
           "\"hidden_size\" " + std::to_string(c.width) + " is not a multiple of "
           "\"num_attention_heads\" " + std::to_string(c.heads));
  r.expect(c.kv_heads == 0 || c.heads % c.kv_heads == 0,
           "\"num_attention_heads\" " + std::to_string(c.heads) + " is not a multiple of "
           "\"num_key_value_heads\" " + std::to_string(c.kv_heads));
  if (r.has("head_dim") && c.heads > 0) {
    const int head_dim = r.positive_int_or("head_dim", c.width / c.heads);
    r.expect(head_dim == c.width / c.heads,
             "\"head_dim\" is " + std::to_string(head_dim) + "; est's Llama has head size "
             "hidden_size / num_attention_heads = " + std::to_string(c.width / c.heads));
  }
  // RoPE: transformers 5 writes {"rope_parameters": {"rope_type", "rope_theta"}}; older files a
  // top-level rope_theta and an optional rope_scaling.
  c.rope_theta = r.positive_number_or("rope_theta", 10000.0);
  for (const char* key : {"rope_parameters", "rope_scaling"}) {
    if (!r.has(key)) continue;
    const auto& rope = r.json().at(key);
    if (!rope.is_object()) {
      r.problem(std::string("\"") + key + "\" is " + detail::json_excerpt(rope) + ", expected an object");
      continue;
    }
    const auto type_of = [&](const char* k) {
      return rope.contains(k) && rope.at(k).is_string() ? rope.at(k).get<std::string>()
                                                        : std::string("default");
    };
    const std::string rope_type = rope.contains("rope_type") ? type_of("rope_type") : type_of("type");
    r.expect(rope_type == "default", std::string("\"") + key + "\" asks for RoPE type \"" +
                                         rope_type + "\"; est implements plain RoPE (\"default\")");
    if (rope.contains("rope_theta")) c.rope_theta = r.positive_number_or("rope_theta", 10000.0, &rope);
  }
  const std::string act = r.string_or("hidden_act", "silu");
  r.expect(act == "silu", "\"hidden_act\" is \"" + act + "\"; est's Llama uses SiLU (SwiGLU)");
  r.expect(!r.boolean_or("attention_bias", false),
           "\"attention_bias\" is true; est's Llama has no attention biases");
  r.expect(!r.boolean_or("mlp_bias", false), "\"mlp_bias\" is true; est's Llama has no MLP biases");
  r.finish();
  return c;
}

}  // namespace est
