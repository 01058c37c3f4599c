#pragma once
// GPT-2 parameter layout: every parameter lives in one flat arena (and every gradient in a second
// arena of the same layout), seen through named views. Tensor names and shapes are exactly those
// of Hugging Face's GPT2Model (its Conv1D layers store weights as (in, out)), so a checkpoint maps
// one to one: `wte.weight`, `h.3.attn.c_attn.weight`, `ln_f.bias`, ...
//
// Shapes: V vocabulary, P positions (context), C width, M MLP hidden size.
// Arena order: wte, wpe, then each layer's block of twelve tensors (below), then ln_f.

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "est/core/config.hpp"
#include "est/core/context.hpp"
#include "est/core/tensor.hpp"
#include "est/models/parameter_arena.hpp"
#include "est/subnet/subnetwork.hpp"

namespace est {

/// Views of one transformer block's tensors.
template <class T, class Device = cpu>
struct Gpt2LayerTensors {
  TensorView<T, Device> ln_1_weight;      // (C)       h.N.ln_1.weight
  TensorView<T, Device> ln_1_bias;        // (C)       h.N.ln_1.bias
  TensorView<T, Device> attn_weight;      // (C, 3C)   h.N.attn.c_attn.weight: [Q | K | V] columns
  TensorView<T, Device> attn_bias;        // (3C)      h.N.attn.c_attn.bias
  TensorView<T, Device> attn_proj_weight; // (C, C)    h.N.attn.c_proj.weight: rows h*d.. are head h's
  TensorView<T, Device> attn_proj_bias;   // (C)       h.N.attn.c_proj.bias
  TensorView<T, Device> ln_2_weight;      // (C)       h.N.ln_2.weight
  TensorView<T, Device> ln_2_bias;        // (C)       h.N.ln_2.bias
  TensorView<T, Device> fc_weight;        // (C, M)    h.N.mlp.c_fc.weight: column j feeds neuron j
  TensorView<T, Device> fc_bias;          // (M)       h.N.mlp.c_fc.bias
  TensorView<T, Device> fc_proj_weight;   // (M, C)    h.N.mlp.c_proj.weight: row j reads neuron j
  TensorView<T, Device> fc_proj_bias;     // (C)       h.N.mlp.c_proj.bias
};

/// Views of every tensor of a GPT-2 model (parameters or their gradients).
template <class T, class Device = cpu>
struct Gpt2Tensors {
  TensorView<T, Device> wte;                         // (V, C) wte.weight, tied with the LM head
  TensorView<T, Device> wpe;                         // (P, C) wpe.weight
  std::vector<Gpt2LayerTensors<T, Device>> layers;  // L blocks
  TensorView<T, Device> ln_f_weight;                 // (C)    ln_f.weight
  TensorView<T, Device> ln_f_bias;                   // (C)    ln_f.bias
};

/// Lays the tensors of `config` out from `base` in arena order; appends their specs to `specs`
/// when it is not null. Returns the views.
template <class T, class Device = cpu>
Gpt2Tensors<T, Device> layout_gpt2(const Gpt2Config& config, T* base,
                                   std::vector<ParameterSpec>* specs) {
  const Index V = config.vocab, P = config.context, C = config.width, M = config.mlp_hidden;
  ArenaLayout<T, Device> arena(base, specs);
  Gpt2Tensors<T, Device> t;
  t.wte = arena.take("wte.weight", {V, C});
  t.wpe = arena.take("wpe.weight", {P, C});
  for (int l = 0; l < config.layers; ++l) {
    const std::string h = "h." + std::to_string(l) + ".";
    Gpt2LayerTensors<T, Device> layer;
    layer.ln_1_weight = arena.take(h + "ln_1.weight", {C});
    layer.ln_1_bias = arena.take(h + "ln_1.bias", {C});
    layer.attn_weight = arena.take(h + "attn.c_attn.weight", {C, 3 * C});
    layer.attn_bias = arena.take(h + "attn.c_attn.bias", {3 * C});
    layer.attn_proj_weight = arena.take(h + "attn.c_proj.weight", {C, C});
    layer.attn_proj_bias = arena.take(h + "attn.c_proj.bias", {C});
    layer.ln_2_weight = arena.take(h + "ln_2.weight", {C});
    layer.ln_2_bias = arena.take(h + "ln_2.bias", {C});
    layer.fc_weight = arena.take(h + "mlp.c_fc.weight", {C, M});
    layer.fc_bias = arena.take(h + "mlp.c_fc.bias", {M});
    layer.fc_proj_weight = arena.take(h + "mlp.c_proj.weight", {M, C});
    layer.fc_proj_bias = arena.take(h + "mlp.c_proj.bias", {C});
    t.layers.push_back(layer);
  }
  t.ln_f_weight = arena.take("ln_f.weight", {C});
  t.ln_f_bias = arena.take("ln_f.bias", {C});
  arena.expect_total(config.parameter_count(), "layout_gpt2");
  return t;
}

/// Marks with 1 every element of an arena laid out for `config` that `subnet` trains, and with
/// 0 every other: the embeddings and the final LayerNorm always; in an active layer its
/// LayerNorms, its output projections' biases, the Q/K/V columns (and bias entries) and W_O rows
/// of its active heads, and the W_fc columns (and bias entries) and W_proj rows of its active
/// neurons. An optimizer uses the mask to leave the rest alone (see train/adamw.hpp).
inline void mark_active_parameters(const Gpt2Config& config, const Subnetwork& subnet,
                                   TensorView<std::uint8_t> mask) {
  detail::check_active_mask(config, subnet, mask.numel());
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

/// The same with an execution context, the form device-generic code calls (the CUDA backend has
/// one that writes a device mask with kernels).
inline void mark_active_parameters(const Context<cpu>&, const Gpt2Config& config,
                                   const Subnetwork& subnet, TensorView<std::uint8_t> mask) {
  mark_active_parameters(config, subnet, mask);
}

}  // namespace est
