#pragma once
// The active masks of GPT-2 and Llama written out by hand, tensor by tensor, from a subnetwork:
// the independent oracle the slice plans' mask writers (CPU and CUDA) are checked against byte
// for byte.

#include <algorithm>
#include <cstdint>
#include <vector>

#include "est/models/gpt2/parameters.hpp"
#include "est/models/llama/parameters.hpp"
#include "est/subnet/subnetwork.hpp"

namespace est::test {

/// Marks with 1 every element of an arena laid out for `config` that `subnet` trains, and with
/// 0 every other: the embeddings and the final LayerNorm always; in an active layer its
/// LayerNorms, its output projections' biases, the Q/K/V columns (and bias entries) and W_O rows
/// of its active heads, and the W_fc columns (and bias entries) and W_proj rows of its active
/// neurons. An optimizer uses the mask to leave the rest alone (see train/adamw.hpp).
inline void reference_active_mask(const Gpt2Config& config, const Subnetwork& subnet,
                                  TensorView<std::uint8_t> mask) {
  const auto t = layout_gpt2<std::uint8_t>(config, mask.data(), nullptr);
  auto set = [](TensorView<std::uint8_t> v, std::uint8_t value) {
    std::fill_n(v.data(), v.numel(), value);
  };
  set(t.wte, 1);
  set(t.wpe, 1);
  set(t.ln_f_weight, 1);
  set(t.ln_f_bias, 1);
  const Index C = config.width, d = config.head_dim(), M = config.mlp_hidden;
  for (int l = 0; l < config.layers; ++l) {
    const auto& layer = t.layers[static_cast<std::size_t>(l)];
    const std::uint8_t on = subnet.is_active(l) ? 1 : 0;
    for (auto v : {layer.ln_1_weight, layer.ln_1_bias, layer.ln_2_weight, layer.ln_2_bias,
                   layer.attn_proj_bias, layer.fc_proj_bias}) {
      set(v, on);
    }
    for (auto v : {layer.attn_weight, layer.attn_bias, layer.attn_proj_weight, layer.fc_weight,
                   layer.fc_bias, layer.fc_proj_weight}) {
      set(v, 0);
    }
    if (!on) continue;
    // Row by row, so the (C, 3C) and (C, M) matrices are written in memory order.
    for (Index r = -1; r < C; ++r) {  // r = -1: the bias row
      std::uint8_t* qkv = r < 0 ? layer.attn_bias.data() : layer.attn_weight.data() + r * 3 * C;
      std::uint8_t* fc = r < 0 ? layer.fc_bias.data() : layer.fc_weight.data() + r * M;
      for (Index part = 0; part < 3; ++part) {
        for (int h : subnet.heads(l)) std::fill_n(qkv + part * C + h * d, d, std::uint8_t{1});
      }
      for (int n : subnet.neurons(l)) fc[n] = 1;
    }
    for (int h : subnet.heads(l)) {
      std::fill_n(layer.attn_proj_weight.data() + h * d * C, d * C, std::uint8_t{1});
    }
    for (int n : subnet.neurons(l)) {
      std::fill_n(layer.fc_proj_weight.data() + Index(n) * C, C, std::uint8_t{1});
    }
  }
}

/// Marks with 1 every element of a Llama arena that `subnet` trains, 0 every other: the
/// embedding, the final norm and the LM head always; in an active layer its two norms, the q rows
/// and o columns of its active heads, the k and v rows of the groups those heads read, and the
/// gate and up rows and down columns of its active neurons.
inline void reference_active_mask(const LlamaConfig& config, const Subnetwork& subnet,
                                  TensorView<std::uint8_t> mask) {
  std::fill_n(mask.data(), mask.numel(), std::uint8_t{0});
  const auto t = layout_llama<std::uint8_t>(config, mask.data(), nullptr);
  auto set = [](TensorView<std::uint8_t> v) { std::fill_n(v.data(), v.numel(), std::uint8_t{1}); };
  set(t.embed);
  set(t.norm);
  set(t.lm_head);
  const Index C = config.width, d = config.head_dim(), M = config.mlp_hidden,
              q = Index(config.heads) * d;
  std::vector<Index> groups, group_of_head;
  for (int l = 0; l < config.layers; ++l) {
    if (!subnet.is_active(l)) continue;
    const auto& layer = t.layers[static_cast<std::size_t>(l)];
    set(layer.input_norm);
    set(layer.post_norm);
    llama_kv_groups(subnet.heads(l), config.group_size(), groups, group_of_head);
    for (int h : subnet.heads(l)) std::fill_n(layer.q.data() + h * d * C, d * C, std::uint8_t{1});
    for (Index g : groups) {
      std::fill_n(layer.k.data() + g * d * C, d * C, std::uint8_t{1});
      std::fill_n(layer.v.data() + g * d * C, d * C, std::uint8_t{1});
    }
    for (int n : subnet.neurons(l)) {
      std::fill_n(layer.gate.data() + Index(n) * C, C, std::uint8_t{1});
      std::fill_n(layer.up.data() + Index(n) * C, C, std::uint8_t{1});
    }
    for (Index r = 0; r < C; ++r) {  // row by row: o (C, H·d) and down (C, M) in memory order
      for (int h : subnet.heads(l)) std::fill_n(layer.o.data() + r * q + h * d, d, std::uint8_t{1});
      for (int n : subnet.neurons(l)) layer.down.data()[r * M + n] = 1;
    }
  }
}

}  // namespace est::test
