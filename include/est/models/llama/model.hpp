#pragma once
// Llama: token embedding, L pre-RMSNorm blocks (causal grouped-query attention with rotary
// positions, SwiGLU MLP, no biases), a final RMSNorm and an LM head (its own matrix, or the token
// embedding when the configuration ties them), trained with the mean next-token cross-entropy.
// The architecture of Llama 2 and TinyLlama, with Hugging Face's tensor names and layouts
// (parameters.hpp) and its RoPE convention (rotate-half, backend/cpu/rope.hpp).
//
// Shapes: B batch, T sequence (<= context), C width, H query heads, G key/value heads, d head
// size, M MLP hidden, V vocabulary.
//
// The passes (forward, backward, evaluate, logits) and their checks are CausalLm's
// (causal_lm.hpp); this file holds the Llama trunk and its backward.
//
// Evolving subnetwork training, as for GPT-2: forward(tokens, targets, subnetwork) runs only the
// active layers, and in each the active query heads (with the key/value groups they read) and
// the active neurons (block.hpp); backward() adds gradients into exactly those slices.

#include <cmath>
#include <cstdint>
#include <span>
#include <type_traits>
#include <vector>

#include "est/ops/embedding.hpp"
#include "est/ops/gemm.hpp"
#include "est/ops/memory.hpp"
#include "est/ops/residual.hpp"
#include "est/ops/rmsnorm.hpp"
#include "est/core/context.hpp"
#include "est/models/llama/config.hpp"
#include "est/core/philox.hpp"
#include "est/ops/rope_table.hpp"
#include "est/core/tensor.hpp"
#include "est/models/causal_lm.hpp"
#include "est/models/llama/activations.hpp"
#include "est/models/llama/block.hpp"
#include "est/models/llama/family.hpp"
#include "est/models/llama/parameters.hpp"
#include "est/subnet/subnetwork.hpp"

namespace est {

/// A Llama of configuration `Config` on `Device` (est::cpu, est::cuda), with float or double
/// parameters, gradients and activations. The passes are CausalLm's; the parameters and the
/// gradients live in two flat arenas laid out by layout_llama. static_asserts refuse an invalid
/// configuration. Not copyable; `ctx` must outlive the model.
template <LlamaConfig Config, class Device = cpu, class Scalar = float>
class Llama : public CausalLm<Llama<Config, Device, Scalar>, Device, Scalar> {
  static_assert(Config.layers >= 1, "LlamaConfig: layers must be >= 1");
  static_assert(Config.heads >= 1, "LlamaConfig: heads must be >= 1");
  static_assert(Config.kv_heads >= 1, "LlamaConfig: kv_heads must be >= 1");
  static_assert(Config.heads % Config.kv_heads == 0,
                "LlamaConfig: kv_heads must divide heads (each key/value head serves "
                "heads / kv_heads query heads)");
  static_assert(Config.width >= 1 && Config.width % Config.heads == 0,
                "LlamaConfig: width must be divisible by heads (head size = width / heads)");
  static_assert(Config.head_dim() % 2 == 0,
                "LlamaConfig: the head size width / heads must be even (RoPE rotates pairs)");
  static_assert(Config.mlp_hidden >= 1, "LlamaConfig: mlp_hidden must be >= 1");
  static_assert(Config.vocab >= 1, "LlamaConfig: vocab must be >= 1");
  static_assert(Config.context >= 1, "LlamaConfig: context must be >= 1");
  static_assert(Config.rope_theta > 1, "LlamaConfig: rope_theta must be > 1");
  static_assert(Config.norm_eps >= 0, "LlamaConfig: norm_eps must be >= 0");
  static_assert(std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>,
                "Llama: Scalar must be float or double");
  static_assert(device<Device>, "Llama: Device must be a device tag (est::cpu, est::cuda)");

 public:
  static constexpr LlamaConfig config = Config;  ///< The model's configuration.
  using family = LlamaFamily;  ///< The model family: slice plans, FLOPs and Hugging Face files.
  using Base = CausalLm<Llama, Device, Scalar>;  ///< The base that runs the passes.
  using typename Base::Tokens;  ///< (B, T) token ids, on the host for every device.

  /// Initialisation from `seed`: matrices normal(0, 0.02), the residual output projections
  /// (o_proj, down_proj) normal(0, 0.02 / sqrt(2 L)), RMSNorm weights 1. Tensor i of the arena
  /// draws from Philox stream rng_stream(weights, i). `ctx` must outlive the model.
  explicit Llama(const Context<Device>& ctx, std::uint64_t seed = 0)
      : Base(ctx, subnetwork_shape(Config), "Llama"),
        params_({Config.parameter_count()}),
        grads_({Config.parameter_count()}),
        p_(layout_llama<Scalar, Device>(Config, params_.data(), &specs_)),
        g_(layout_llama<Scalar, Device>(Config, grads_.data(), nullptr)),
        p_const_(layout_llama<const Scalar, Device>(Config, params_.data(), nullptr)),
        g_const_(layout_llama<const Scalar, Device>(Config, grads_.data(), nullptr)) {
    Tensor<Scalar> staged;
    Scalar* init = params_.data();
    if constexpr (!std::is_same_v<Device, cpu>) {
      staged = Tensor<Scalar>({Config.parameter_count()});
      init = staged.data();
    }
    const Scalar residual_std = Scalar(0.02 / std::sqrt(2.0 * Config.layers));
    for (std::size_t i = 0; i < specs_.size(); ++i) {
      const ParameterSpec& spec = specs_[i];
      std::span<Scalar> values(init + spec.offset, static_cast<std::size_t>(spec.shape.numel()));
      if (spec.shape.rank() == 1) {
        std::fill(values.begin(), values.end(), Scalar(1));  // RMSNorm weights
      } else {
        const bool residual = spec.name.ends_with("o_proj.weight") ||
                              spec.name.ends_with("down_proj.weight");
        fill_normal<Scalar>(values, seed, rng_stream(RngPurpose::weights, i), Scalar(0),
                            residual ? residual_std : Scalar(0.02));
      }
    }
    RopeTable<Scalar> rope =
        rope_table<Scalar>(Config.context, Config.head_dim(), Config.rope_theta);
    if constexpr (std::is_same_v<Device, cpu>) {
      cos_ = std::move(rope.cos);
      sin_ = std::move(rope.sin);
    } else {
      copy(ctx, params_.view(), staged.view());
      cos_ = Tensor<Scalar, Device>(rope.cos.shape());
      sin_ = Tensor<Scalar, Device>(rope.sin.shape());
      copy(ctx, cos_.view(), rope.cos.view());
      copy(ctx, sin_.view(), rope.sin.view());
    }
  }

  /// A temporary context would be gone before the first pass.
  Llama(const Context<Device>&&, std::uint64_t = 0) = delete;

  /// Sets every gradient to zero.
  void zero_grad() { fill_zero(this->context(), grads_.view()); }

  /// Named views of the parameters (see parameters.hpp), writable through the views.
  [[nodiscard]] const LlamaTensors<Scalar, Device>& parameters() noexcept { return p_; }
  /// Named views of the gradients, in the parameters' layout.
  [[nodiscard]] const LlamaTensors<Scalar, Device>& gradients() noexcept { return g_; }
  /// Read-only named views of the parameters.
  [[nodiscard]] const LlamaTensors<const Scalar, Device>& parameters() const noexcept {
    return p_const_;
  }
  /// Read-only named views of the gradients.
  [[nodiscard]] const LlamaTensors<const Scalar, Device>& gradients() const noexcept {
    return g_const_;
  }
  /// The flat parameter arena (parameter_count() elements, on the model's device), for
  /// optimizers and checkpoints.
  [[nodiscard]] TensorView<Scalar, Device> parameter_arena() noexcept { return params_.view(); }
  /// The flat gradient arena, in the parameter arena's layout.
  [[nodiscard]] TensorView<Scalar, Device> gradient_arena() noexcept { return grads_.view(); }
  /// Read-only parameter arena.
  [[nodiscard]] TensorView<const Scalar, Device> parameter_arena() const noexcept {
    return params_.view();
  }
  /// Read-only gradient arena.
  [[nodiscard]] TensorView<const Scalar, Device> gradient_arena() const noexcept {
    return grads_.view();
  }
  /// Name, shape, offset and weight-decay flag of every tensor, in arena order.
  [[nodiscard]] const std::vector<ParameterSpec>& parameter_specs() const noexcept {
    return specs_;
  }

 private:
  friend Base;

  [[nodiscard]] LlamaAttentionShape<Scalar, Device> attention_shape(Index B, Index T_) const {
    return {Config.heads, Config.kv_heads, Config.head_dim(), B, T_, cos_.view(), sin_.view()};
  }

  /// An empty position table: Llama's positions are rotary, not embedded.
  template <class U>
  static TensorView<U, Device> no_positions(TensorView<U, Device> embed) {
    return TensorView<U, Device>(embed.data(), {0, Config.width});
  }

  /// Embedding, blocks, final RMSNorm and LM head of the pass of `s`, for the tokens that
  /// CausalLm has checked and uploaded: fills the activations up to the logits.
  void trunk(const Subnetwork& s) {
    const auto& c = this->context();
    const Index B = acts_.batch, T_ = acts_.seq, n = B * T_;
    auto& a = acts_;
    auto rows = [n](auto& t) { return t.view().matrix(n); };
    const Scalar eps = Scalar(Config.norm_eps);
    const auto shape = attention_shape(B, T_);

    embedding_forward<Scalar>(c, a.encoded, this->device_tokens(), p_.embed,
                              no_positions(p_.embed));
    const Tensor<Scalar, Device>* input = &a.encoded;
    for (int l = 0; l < Config.layers; ++l) {
      if (!s.is_active(l)) continue;  // a skipped layer is the identity
      const auto& w = p_.layers[static_cast<std::size_t>(l)];
      auto& la = a.layers[static_cast<std::size_t>(l)];
      rmsnorm_forward<Scalar>(c, rows(la.norm_1), la.rstd_1, rows(*input), w.input_norm, eps);
      llama_attention_forward<Scalar>(c, rows(a.branch), rows(la.norm_1), la, w, s.heads(l),
                                      attention(l), shape, a.projection, ws_);
      const auto branch_scale = Scalar(s.layer_scale(l));  // 1 unless rescaled by 1/p_l
      residual_forward<Scalar>(c, la.residual_2, *input, a.branch, branch_scale);
      rmsnorm_forward<Scalar>(c, rows(la.norm_2), la.rstd_2, rows(la.residual_2), w.post_norm,
                              eps);
      llama_mlp_forward<Scalar>(c, rows(a.branch), rows(la.norm_2), la, w, mlp(l),
                                Config.mlp_hidden, B, T_, ws_);
      residual_forward<Scalar>(c, la.residual_3, la.residual_2, a.branch, branch_scale);
      input = &la.residual_3;
    }
    rmsnorm_forward<Scalar>(c, rows(a.norm_f), a.rstd_f, rows(*input), p_.norm, eps);
    gemm<Scalar>(c, rows(a.logits), rows(a.norm_f), Transpose::no, p_.lm_head.matrix(),
                 Transpose::yes);
  }

  /// Accumulates ∂loss/∂parameter of the pass of `s` into the gradients (+=); from
  /// CausalLm::backward().
  void backward_pass(const Subnetwork& s) {
    const auto& c = this->context();
    const Index B = acts_.batch, T_ = acts_.seq, n = B * T_;
    auto& a = acts_;
    auto rows = [n](auto& t) { return t.view().matrix(n); };
    const std::vector<int> active = s.active_layers();
    auto block_input = [&](std::size_t k) -> const Tensor<Scalar, Device>& {
      return k == 0 ? a.encoded : a.layers[static_cast<std::size_t>(active[k - 1])].residual_3;
    };
    const auto shape = attention_shape(B, T_);

    // LM head: logits = norm_f · lm_headᵀ.
    auto d_logits = rows(a.logits);
    gemm<Scalar>(c, rows(a.d_norm), d_logits, Transpose::no, p_.lm_head.matrix(), Transpose::no);
    gemm<Scalar>(c, g_.lm_head.matrix(), d_logits, Transpose::yes, rows(a.norm_f), Transpose::no,
                 Scalar(1), Scalar(1));
    fill_zero(c, a.d_residual.view());
    rmsnorm_backward<Scalar>(c, rows(a.d_residual), g_.norm, rows(a.d_norm),
                             rows(block_input(active.size())), p_.norm, a.rstd_f);
    for (std::size_t k = active.size(); k-- > 0;) {
      const int l = active[k];
      const auto& w = p_.layers[static_cast<std::size_t>(l)];
      const auto& gw = g_.layers[static_cast<std::size_t>(l)];
      const auto& la = a.layers[static_cast<std::size_t>(l)];
      // A rescaled layer's branches see s·d_residual (a.branch, free in the backward, holds it).
      const auto branch_scale = Scalar(s.layer_scale(l));
      auto d_branch = [&]() {
        if (branch_scale == Scalar(1)) return rows(a.d_residual);
        scaled_copy<Scalar>(c, a.branch, a.d_residual, branch_scale);
        return rows(a.branch);
      };
      llama_mlp_backward<Scalar>(c, rows(a.d_norm), d_branch(), rows(la.norm_2), la, w, gw,
                                 mlp(l), Config.mlp_hidden, B, T_, a, ws_);
      rmsnorm_backward<Scalar>(c, rows(a.d_residual), gw.post_norm, rows(a.d_norm),
                               rows(la.residual_2), w.post_norm, la.rstd_2);
      llama_attention_backward<Scalar>(c, rows(a.d_norm), d_branch(), rows(la.norm_1), la, w, gw,
                                       s.heads(l), attention(l), shape, a, ws_);
      rmsnorm_backward<Scalar>(c, rows(a.d_residual), gw.input_norm, rows(a.d_norm),
                               rows(block_input(k)), w.input_norm, la.rstd_1);
    }
    embedding_backward<Scalar>(c, g_.embed, no_positions(g_.embed), a.d_residual,
                               this->device_tokens());
  }

  std::vector<ParameterSpec> specs_;
  Tensor<Scalar, Device> params_;  // (parameter_count) arena
  Tensor<Scalar, Device> grads_;   // (parameter_count) arena, same layout
  LlamaTensors<Scalar, Device> p_;
  LlamaTensors<Scalar, Device> g_;
  LlamaTensors<const Scalar, Device> p_const_;
  LlamaTensors<const Scalar, Device> g_const_;
  Tensor<Scalar, Device> cos_, sin_;  // (context, d/2) RoPE tables
  LlamaActivations<Scalar, Device> acts_;
  LlamaSliceWorkspace<Scalar, Device> ws_;

  /// What the current pass computes of layer l's attention (q rows, k and v rows of the groups,
  /// o columns) and MLP (gate and up rows, down columns), from its slice plan.
  LlamaAttentionSlice attention(int l) const { return llama_attention_slice(this->pass_plan(), l); }
  HalfSlice mlp(int l) const { return llama_mlp_slice(this->pass_plan(), l); }
};

}  // namespace est
