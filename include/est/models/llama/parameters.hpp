#pragma once
// Llama parameter layout: one flat arena of parameters (and one of gradients), seen through named
// views. Names and shapes are Hugging Face's LlamaForCausalLM, whose nn.Linear weights are stored
// (out, in): `model.embed_tokens.weight` (V, C), `model.layers.N.self_attn.q_proj.weight`
// (H·d, C), ..., `model.norm.weight` (C), `lm_head.weight` (V, C) (absent when tied).
//
// Arena order per layer: input_layernorm, q_proj, k_proj, v_proj, o_proj,
// post_attention_layernorm, gate_proj, up_proj, down_proj. Because q, k and v are adjacent (and
// gate and up), their rows form one ((H + 2·H_kv)·d, C) matrix (and one (2M, C) matrix): the full
// model runs one GEMM for Q, K, V and one for gate and up.
//
// Shapes: V vocabulary, C width, H query heads, G = H_kv key/value heads, d head size, M MLP.

#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "est/models/llama/config.hpp"
#include "est/core/tensor.hpp"
#include "est/models/parameter_arena.hpp"

namespace est {

/// Views of one Llama block's tensors; the names below follow the prefix `model.layers.N` (N the
/// block's index). q, k and v are adjacent in the arena, and so are gate and up.
template <class T, class Device = cpu>
struct LlamaLayerTensors {
  TensorView<T, Device> input_norm;  ///< (C)      input_layernorm.weight
  TensorView<T, Device> q;           ///< (H·d, C) self_attn.q_proj.weight: rows i·d.. are head i's
  TensorView<T, Device> k;           ///< (G·d, C) self_attn.k_proj.weight: rows j·d.. are group j's
  TensorView<T, Device> v;           ///< (G·d, C) self_attn.v_proj.weight
  TensorView<T, Device> o;           ///< (C, H·d) self_attn.o_proj.weight: head i in columns i·d..
  TensorView<T, Device> post_norm;   ///< (C)      post_attention_layernorm.weight
  TensorView<T, Device> gate;        ///< (M, C)   mlp.gate_proj.weight: row n feeds neuron n
  TensorView<T, Device> up;          ///< (M, C)   mlp.up_proj.weight
  TensorView<T, Device> down;        ///< (C, M)   mlp.down_proj.weight: column n reads neuron n

  /// q, k and v as one ((H + 2G)·d, C) matrix.
  [[nodiscard]] MatrixView<T, Device> qkv() const {
    return {q.data(), q.dim(0) + k.dim(0) + v.dim(0), q.dim(1)};
  }
  /// gate and up as one (2M, C) matrix.
  [[nodiscard]] MatrixView<T, Device> gate_up() const {
    return {gate.data(), gate.dim(0) + up.dim(0), gate.dim(1)};
  }
};

/// Views of every tensor of a Llama model (parameters or their gradients).
template <class T, class Device = cpu>
struct LlamaTensors {
  TensorView<T, Device> embed;  ///< (V, C) model.embed_tokens.weight
  std::vector<LlamaLayerTensors<T, Device>> layers;  ///< L blocks
  TensorView<T, Device> norm;     ///< (C)    model.norm.weight
  TensorView<T, Device> lm_head;  ///< (V, C) lm_head.weight; the embedding itself when tied
};

/// A layer's tensors in arena order (layout_llama takes them in this order).
enum class LlamaLayerTensor : std::size_t {
  input_norm,  ///< input_layernorm.weight
  q,           ///< self_attn.q_proj.weight
  k,           ///< self_attn.k_proj.weight
  v,           ///< self_attn.v_proj.weight
  o,           ///< self_attn.o_proj.weight
  post_norm,   ///< post_attention_layernorm.weight
  gate,        ///< mlp.gate_proj.weight
  up,          ///< mlp.up_proj.weight
  down,        ///< mlp.down_proj.weight
  count        ///< The number of tensors per layer (9), not a tensor.
};

/// The position in arena order (of specs, or of a slice plan's tensors) of a layer's tensor:
/// after the embedding, nine per layer.
[[nodiscard]] constexpr std::size_t llama_tensor_index(int layer, LlamaLayerTensor t) noexcept {
  return 1 + std::size_t(LlamaLayerTensor::count) * std::size_t(layer) + std::size_t(t);
}

/// Lays the tensors of `config` out from `base` in arena order; appends their specs to `specs`
/// when it is not null. Returns the views.
template <class T, class Device = cpu>
LlamaTensors<T, Device> layout_llama(const LlamaConfig& config, T* base,
                                     std::vector<ParameterSpec>* specs) {
  const Index V = config.vocab, C = config.width, M = config.mlp_hidden,
              q = Index(config.heads) * config.head_dim(),
              kv = Index(config.kv_heads) * config.head_dim();
  ArenaLayout<T, Device> arena(base, specs);
  LlamaTensors<T, Device> t;
  t.embed = arena.take("model.embed_tokens.weight", {V, C});
  for (int l = 0; l < config.layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    LlamaLayerTensors<T, Device> layer;
    layer.input_norm = arena.take(p + "input_layernorm.weight", {C});
    layer.q = arena.take(p + "self_attn.q_proj.weight", {q, C});
    layer.k = arena.take(p + "self_attn.k_proj.weight", {kv, C});
    layer.v = arena.take(p + "self_attn.v_proj.weight", {kv, C});
    layer.o = arena.take(p + "self_attn.o_proj.weight", {C, q});
    layer.post_norm = arena.take(p + "post_attention_layernorm.weight", {C});
    layer.gate = arena.take(p + "mlp.gate_proj.weight", {M, C});
    layer.up = arena.take(p + "mlp.up_proj.weight", {M, C});
    layer.down = arena.take(p + "mlp.down_proj.weight", {C, M});
    t.layers.push_back(layer);
  }
  t.norm = arena.take("model.norm.weight", {C});
  t.lm_head = config.tie_embeddings ? t.embed : arena.take("lm_head.weight", {V, C});
  arena.expect_total(config.parameter_count(), "layout_llama");
  return t;
}

/// The key/value groups that a layer's active query heads read, ascending (group of head i:
/// i / (H / H_kv)); `group_of_head` receives, per active head, the index of its group in that
/// list. A group none of whose query heads is active is not in the list: its K and V are not
/// computed and its weights get no gradient.
inline void llama_kv_groups(std::span<const int> heads, int group_size, std::vector<Index>& groups,
                            std::vector<Index>& group_of_head) {
  groups.clear();
  group_of_head.clear();
  for (int head : heads) {
    const Index group = head / group_size;
    if (groups.empty() || groups.back() != group) groups.push_back(group);
    group_of_head.push_back(Index(groups.size()) - 1);
  }
}

}  // namespace est
