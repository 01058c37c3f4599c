#pragma once
// GPT-2 configurations as transformers' config.json describes them (GPT2Config), both ways.
//
// est's GPT-2 is transformers' GPT2LMHeadModel with: the tanh GELU ("gelu_new", or its twin
// "gelu_pytorch_tanh"), LayerNorm epsilon 1e-5, attention scores scaled by 1/sqrt(d) and not by
// the layer index, the LM head tied to the token embedding, no cross-attention. A config.json
// that asks for anything else is refused with every such setting named; dropout rates and
// generation settings do not change the model's function and are ignored. n_inner null means
// 4·n_embd, as in transformers. padded_vocab is est's layout and never appears in config.json.

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "est/io/hf_config.hpp"
#include "est/models/gpt2/config.hpp"

namespace est {

/// transformers' config.json of a GPT2LMHeadModel with configuration `c` (vocab_size is the
/// real vocabulary, without padding).
[[nodiscard]] inline nlohmann::json gpt2_hf_config(const Gpt2Config& c,
                                                   std::string_view torch_dtype = "float32") {
  return {{"architectures", {"GPT2LMHeadModel"}},
          {"model_type", "gpt2"},
          {"n_layer", c.layers},
          {"n_head", c.heads},
          {"n_embd", c.width},
          {"n_inner", c.mlp_hidden},
          {"vocab_size", c.vocab},
          {"n_positions", c.context},
          {"activation_function", "gelu_new"},
          {"layer_norm_epsilon", 1e-5},
          {"scale_attn_weights", true},
          {"scale_attn_by_inverse_layer_idx", false},
          {"add_cross_attention", false},
          {"tie_word_embeddings", true},
          {"torch_dtype", std::string(torch_dtype)}};
}

/// The GPT-2 configuration that transformers' `config` (a parsed config.json) describes;
/// throws io_error naming `where` and every setting est does not implement.
[[nodiscard]] inline Gpt2Config gpt2_config_from_hf(const nlohmann::json& config,
                                                    const std::string& where) {
  detail::HfConfigReader r(config, where);
  const std::string type = r.string_or("model_type", "");
  if (type != "gpt2") {
    r.problem("\"model_type\" is \"" + type + "\", not \"gpt2\"");
    r.finish();
  }
  Gpt2Config c;
  c.layers = r.positive_int({"n_layer"});
  c.heads = r.positive_int({"n_head"});
  c.width = r.positive_int({"n_embd"});
  // n_inner null: 4·n_embd (which must fit an int, like every size).
  const long long four_width = 4LL * c.width;
  r.expect(four_width <= 0x7fffffff || r.has("n_inner"),
           "\"n_embd\" " + std::to_string(c.width) + " is too large (4·n_embd must fit 31 bits)");
  c.mlp_hidden = r.positive_int_or("n_inner", four_width <= 0x7fffffff ? int(four_width) : 1);
  c.vocab = r.positive_int({"vocab_size"});
  c.context = r.positive_int({"n_positions", "n_ctx"});
  r.expect(c.heads == 0 || c.width % c.heads == 0,
           "\"n_embd\" " + std::to_string(c.width) + " is not a multiple of \"n_head\" " +
               std::to_string(c.heads));
  const std::string act = r.string_or("activation_function", "gelu_new");
  r.expect(act == "gelu_new" || act == "gelu_pytorch_tanh",
           "\"activation_function\" is \"" + act + "\"; est's GPT-2 uses the tanh GELU "
           "(\"gelu_new\")");
  const double eps = r.positive_number_or("layer_norm_epsilon", 1e-5);
  r.expect(eps == 1e-5, "\"layer_norm_epsilon\" is " + detail::json_excerpt(nlohmann::json(eps)) +
                            "; est's LayerNorm uses 1e-5");
  r.expect(r.boolean_or("scale_attn_weights", true),
           "\"scale_attn_weights\" is false; est scales attention scores by 1/sqrt(head size)");
  r.expect(!r.boolean_or("scale_attn_by_inverse_layer_idx", false),
           "\"scale_attn_by_inverse_layer_idx\" is true; est does not scale by the layer index");
  r.expect(!r.boolean_or("add_cross_attention", false),
           "\"add_cross_attention\" is true; est's GPT-2 is a decoder without cross-attention");
  r.expect(r.boolean_or("tie_word_embeddings", true),
           "\"tie_word_embeddings\" is false; est's GPT-2 ties the LM head to the embedding");
  r.finish();
  return c;
}

}  // namespace est
