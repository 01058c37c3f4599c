#pragma once
// GPT-2 parameter layout: every parameter lives in one flat arena (and every gradient in a second
// arena of the same layout), seen through named views. Tensor names and shapes are exactly those
// of Hugging Face's GPT2Model (its Conv1D layers store weights as (in, out)), so a checkpoint maps
// one to one: `wte.weight`, `h.3.attn.c_attn.weight`, `ln_f.bias`, ... — except that wte has
// config.embedding_rows() rows: with padded_vocab, the vocabulary's rows then zero padding rows,
// which the files leave out (family.hpp).
//
// Shapes: V embedding rows (the vocabulary, padded), P positions (context), C width, M MLP hidden.
// Arena order: wte, wpe, then each layer's block of twelve tensors (below), then ln_f.

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "est/models/gpt2/config.hpp"
#include "est/core/tensor.hpp"
#include "est/models/parameter_arena.hpp"

namespace est {

/// Views of one transformer block's tensors; N is the block's index, d = C / H the head size.
template <class T, class Device = cpu>
struct Gpt2LayerTensors {
  TensorView<T, Device> ln_1_weight;      ///< (C)     h.N.ln_1.weight
  TensorView<T, Device> ln_1_bias;        ///< (C)     h.N.ln_1.bias
  TensorView<T, Device> attn_weight;      ///< (C, 3C) h.N.attn.c_attn.weight: [Q | K | V] columns
  TensorView<T, Device> attn_bias;        ///< (3C)    h.N.attn.c_attn.bias
  TensorView<T, Device> attn_proj_weight; ///< (C, C)  h.N.attn.c_proj.weight: head i in rows i*d..
  TensorView<T, Device> attn_proj_bias;   ///< (C)     h.N.attn.c_proj.bias
  TensorView<T, Device> ln_2_weight;      ///< (C)     h.N.ln_2.weight
  TensorView<T, Device> ln_2_bias;        ///< (C)     h.N.ln_2.bias
  TensorView<T, Device> fc_weight;        ///< (C, M)  h.N.mlp.c_fc.weight: column j feeds neuron j
  TensorView<T, Device> fc_bias;          ///< (M)     h.N.mlp.c_fc.bias
  TensorView<T, Device> fc_proj_weight;   ///< (M, C)  h.N.mlp.c_proj.weight: row j reads neuron j
  TensorView<T, Device> fc_proj_bias;     ///< (C)     h.N.mlp.c_proj.bias
};

/// Views of every tensor of a GPT-2 model (parameters or their gradients).
template <class T, class Device = cpu>
struct Gpt2Tensors {
  TensorView<T, Device> wte;                         ///< (V, C) wte.weight, tied with the LM head
  TensorView<T, Device> wpe;                         ///< (P, C) wpe.weight
  std::vector<Gpt2LayerTensors<T, Device>> layers;  ///< L blocks
  TensorView<T, Device> ln_f_weight;                 ///< (C)    ln_f.weight
  TensorView<T, Device> ln_f_bias;                   ///< (C)    ln_f.bias
};

/// A layer's tensors in arena order (layout_gpt2 takes them in this order).
enum class Gpt2LayerTensor : std::size_t {
  ln_1_weight,       ///< h.N.ln_1.weight
  ln_1_bias,         ///< h.N.ln_1.bias
  attn_weight,       ///< h.N.attn.c_attn.weight
  attn_bias,         ///< h.N.attn.c_attn.bias
  attn_proj_weight,  ///< h.N.attn.c_proj.weight
  attn_proj_bias,    ///< h.N.attn.c_proj.bias
  ln_2_weight,       ///< h.N.ln_2.weight
  ln_2_bias,         ///< h.N.ln_2.bias
  fc_weight,         ///< h.N.mlp.c_fc.weight
  fc_bias,           ///< h.N.mlp.c_fc.bias
  fc_proj_weight,    ///< h.N.mlp.c_proj.weight
  fc_proj_bias,      ///< h.N.mlp.c_proj.bias
  count              ///< The number of tensors per layer (12), not a tensor.
};

/// The position in arena order (of specs, or of a slice plan's tensors) of a layer's tensor:
/// after wte and wpe, twelve per layer.
[[nodiscard]] constexpr std::size_t gpt2_tensor_index(int layer, Gpt2LayerTensor t) noexcept {
  return 2 + std::size_t(Gpt2LayerTensor::count) * std::size_t(layer) + std::size_t(t);
}

/// Lays the tensors of `config` out from `base` in arena order; appends their specs to `specs`
/// when it is not null. Returns the views.
template <class T, class Device = cpu>
Gpt2Tensors<T, Device> layout_gpt2(const Gpt2Config& config, T* base,
                                   std::vector<ParameterSpec>* specs) {
  // wte has the padded row count (config.embedding_rows()).
  const Index V = config.embedding_rows(), P = config.context, C = config.width,
              M = config.mlp_hidden;
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

}  // namespace est
