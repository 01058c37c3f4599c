#pragma once
// GPT-2: token + position embedding, L pre-LayerNorm transformer blocks (causal multi-head
// attention, tanh-GELU MLP), a final LayerNorm and an LM head tied to the token embedding,
// trained with the mean next-token cross-entropy.
//
// Shapes: B batch, T sequence (<= context), C width, H heads, M MLP hidden, V vocabulary.
// Parameter names, shapes and initialisation: parameters.hpp and the constructor below.
//
// The passes (forward, backward, evaluate, logits) and their checks are CausalLm's
// (causal_lm.hpp); this file holds the GPT-2 trunk and its backward.
//
// Evolving subnetwork training: forward(tokens, targets, subnetwork) trains only a subnetwork
// (est/subnet/subnetwork.hpp). Skipped layers are not run, active layers compute only their
// active heads and neurons (block.hpp), and backward() adds gradients into exactly the
// active slices. Evaluation and inference always run the full model.

#include <cmath>
#include <cstdint>
#include <span>
#include <type_traits>
#include <vector>

#include "est/ops/attention.hpp"
#include "est/ops/embedding.hpp"
#include "est/ops/gelu.hpp"
#include "est/ops/gemm.hpp"
#include "est/ops/layernorm.hpp"
#include "est/ops/linear.hpp"
#include "est/ops/memory.hpp"
#include "est/ops/residual.hpp"
#include "est/models/gpt2/config.hpp"
#include "est/core/context.hpp"
#include "est/core/philox.hpp"
#include "est/core/tensor.hpp"
#include "est/models/causal_lm.hpp"
#include "est/models/gpt2/activations.hpp"
#include "est/models/gpt2/block.hpp"
#include "est/models/gpt2/family.hpp"
#include "est/models/gpt2/parameters.hpp"
#include "est/subnet/subnetwork.hpp"

namespace est {

/// A GPT-2 of configuration `Config` on `Device` (est::cpu, est::cuda), with float or double
/// parameters, gradients and activations. The passes are CausalLm's; the parameters and the
/// gradients live in two flat arenas laid out by layout_gpt2. static_asserts refuse an invalid
/// configuration. Not copyable; `ctx` must outlive the model.
template <Gpt2Config Config, class Device = cpu, class Scalar = float>
class Gpt2 : public CausalLm<Gpt2<Config, Device, Scalar>, Device, Scalar> {
  static_assert(Config.layers >= 1, "Gpt2Config: layers must be >= 1");
  static_assert(Config.heads >= 1, "Gpt2Config: heads must be >= 1");
  static_assert(Config.width >= 1, "Gpt2Config: width must be >= 1");
  static_assert(Config.width % Config.heads == 0,
                "Gpt2Config: width must be divisible by heads (head size = width / heads)");
  static_assert(Config.mlp_hidden >= 1, "Gpt2Config: mlp_hidden must be >= 1");
  static_assert(Config.vocab >= 1, "Gpt2Config: vocab must be >= 1");
  static_assert(Config.padded_vocab == 0 || Config.padded_vocab >= Config.vocab,
                "Gpt2Config: padded_vocab must be 0 (no padding) or at least vocab");
  static_assert(Config.context >= 1, "Gpt2Config: context must be >= 1");
  static_assert(std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>,
                "Gpt2: Scalar must be float or double");
  static_assert(device<Device>, "Gpt2: Device must be a device tag (est::cpu, est::cuda)");

 public:
  // [gpt2-model-hooks]
  static constexpr Gpt2Config config = Config;  ///< The model's configuration.
  using family = Gpt2Family;  ///< The model family: slice plans, FLOPs and Hugging Face files.
  using Base = CausalLm<Gpt2, Device, Scalar>;  ///< The base that runs the passes.
  // [gpt2-model-hooks]
  using typename Base::Tokens;  ///< (B, T) token ids, on the host for every device.

  /// GPT-2 initialisation from `seed`: weights normal(0, 0.02), the two residual output
  /// projections of each block normal(0, 0.02 / sqrt(2 L)), biases 0, LayerNorm weights 1, the
  /// padding rows of wte (past vocab) 0 — they stay 0: no token, target or gradient reaches them.
  /// Tensor i of the arena draws from Philox stream rng_stream(weights, i), so the weights depend
  /// only on the seed. The model uses `ctx` for every pass: it must outlive the model.
  explicit Gpt2(const Context<Device>& ctx, std::uint64_t seed = 0)
      : Base(ctx, subnetwork_shape(Config), "Gpt2"),
        params_({Config.parameter_count()}),
        grads_({Config.parameter_count()}),
        p_(layout_gpt2<Scalar, Device>(Config, params_.data(), &specs_)),
        g_(layout_gpt2<Scalar, Device>(Config, grads_.data(), nullptr)),
        p_const_(layout_gpt2<const Scalar, Device>(Config, params_.data(), nullptr)),
        g_const_(layout_gpt2<const Scalar, Device>(Config, grads_.data(), nullptr)) {
    // The weights are drawn on the host (the same values on every device), in place for the
    // CPU and uploaded for a GPU.
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
      if (i == 0) values = values.first(std::size_t(Config.vocab) * std::size_t(Config.width));
      const bool is_ln_weight = spec.name.ends_with("ln_1.weight") ||
                                spec.name.ends_with("ln_2.weight") || spec.name == "ln_f.weight";
      const bool is_residual_proj =
          spec.name.ends_with("attn.c_proj.weight") || spec.name.ends_with("mlp.c_proj.weight");
      if (is_ln_weight) {
        std::fill(values.begin(), values.end(), Scalar(1));
      } else if (spec.shape.rank() >= 2) {
        fill_normal<Scalar>(values, seed, rng_stream(RngPurpose::weights, i), Scalar(0),
                            is_residual_proj ? residual_std : Scalar(0.02));
      }  // biases stay 0
    }
    if constexpr (!std::is_same_v<Device, cpu>) copy(ctx, params_.view(), staged.view());
  }

  /// A temporary context would be gone before the first pass.
  Gpt2(const Context<Device>&&, std::uint64_t = 0) = delete;

  /// Sets every gradient to zero.
  void zero_grad() { fill_zero(this->context(), grads_.view()); }

  /// Named views of the parameters (see parameters.hpp), writable through the views.
  [[nodiscard]] const Gpt2Tensors<Scalar, Device>& parameters() noexcept { return p_; }
  /// Named views of the gradients, in the parameters' layout.
  [[nodiscard]] const Gpt2Tensors<Scalar, Device>& gradients() noexcept { return g_; }
  /// Read-only named views of the parameters.
  [[nodiscard]] const Gpt2Tensors<const Scalar, Device>& parameters() const noexcept {
    return p_const_;
  }
  /// Read-only named views of the gradients.
  [[nodiscard]] const Gpt2Tensors<const Scalar, Device>& gradients() const noexcept {
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

  /// Embedding, blocks, final LayerNorm and LM head of the pass of `s`, for the tokens that
  /// CausalLm has checked and uploaded: fills the activations up to the logits.
  void trunk(const Subnetwork& s) {
    const auto& c = this->context();
    const Index B = acts_.batch, T_ = acts_.seq, n = B * T_;
    auto& a = acts_;
    auto rows = [n](auto& t) { return t.view().matrix(n); };

    embedding_forward<Scalar>(c, a.encoded, this->device_tokens(), p_.wte, p_.wpe);
    const Tensor<Scalar, Device>* input = &a.encoded;  // the residual stream entering the next layer
    for (int l = 0; l < Config.layers; ++l) {
      if (!s.is_active(l)) continue;  // a skipped layer is the identity
      const auto& w = p_.layers[static_cast<std::size_t>(l)];
      auto& la = a.layers[static_cast<std::size_t>(l)];
      layernorm_forward<Scalar>(c, rows(la.ln_1), la.ln_1_mean, la.ln_1_rstd, rows(*input),
                                w.ln_1_weight, w.ln_1_bias);
      gpt2_attention_forward<Scalar>(c, rows(a.branch), rows(la.ln_1), la, w, attention(l),
                                     std::ssize(s.heads(l)), Config.heads, B, T_, ws_);
      const auto branch_scale = Scalar(s.layer_scale(l));  // 1 unless rescaled by 1/p_l
      residual_forward<Scalar>(c, la.residual_2, *input, a.branch, branch_scale);
      layernorm_forward<Scalar>(c, rows(la.ln_2), la.ln_2_mean, la.ln_2_rstd, rows(la.residual_2),
                                w.ln_2_weight, w.ln_2_bias);
      gpt2_mlp_forward<Scalar>(c, rows(a.branch), rows(la.ln_2), la, w, mlp(l), B, T_, ws_);
      residual_forward<Scalar>(c, la.residual_3, la.residual_2, a.branch, branch_scale);
      input = &la.residual_3;
    }
    layernorm_forward<Scalar>(c, rows(a.ln_f), a.ln_f_mean, a.ln_f_rstd, rows(*input),
                              p_.ln_f_weight, p_.ln_f_bias);
    gemm<Scalar>(c, rows(a.logits), rows(a.ln_f), Transpose::no, p_.wte.matrix(), Transpose::yes);
  }

  /// Accumulates ∂loss/∂parameter of the pass of `s` into the gradients (+=); from
  /// CausalLm::backward().
  void backward_pass(const Subnetwork& s) {
    const auto& c = this->context();
    const Index B = acts_.batch, T_ = acts_.seq, n = B * T_;
    auto& a = acts_;
    auto rows = [n](auto& t) { return t.view().matrix(n); };
    const std::vector<int> active = s.active_layers();
    // The input of the k-th active layer: the previous active layer's output, or the embeddings.
    auto block_input = [&](std::size_t k) -> const Tensor<Scalar, Device>& {
      return k == 0 ? a.encoded : a.layers[static_cast<std::size_t>(active[k - 1])].residual_3;
    };

    // LM head (tied): logits = ln_f · wteᵀ. Only the vocabulary's columns carry a gradient
    // (a padded embedding's rows are no token and take no part in the loss), so backward reads
    // and writes only the vocabulary's rows of wte, whatever the padding rows hold.
    const Index V = Config.vocab;
    auto d_logits = rows(a.logits).block(0, 0, n, V);
    gemm<Scalar>(c, rows(a.d_ln), d_logits, Transpose::no, p_.wte.matrix().rows_block(0, V),
                 Transpose::no);
    gemm<Scalar>(c, g_.wte.matrix().rows_block(0, V), d_logits, Transpose::yes, rows(a.ln_f),
                 Transpose::no, Scalar(1), Scalar(1));
    fill_zero(c, a.d_residual.view());
    layernorm_backward<Scalar>(c, rows(a.d_residual), g_.ln_f_weight, g_.ln_f_bias, rows(a.d_ln),
                               rows(block_input(active.size())), p_.ln_f_weight, a.ln_f_mean,
                               a.ln_f_rstd);

    // Skipped layers are the identity: d_residual passes them unchanged.
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
      // d_residual holds ∂loss/∂(block output). MLP branch:
      gpt2_mlp_backward<Scalar>(c, rows(a.d_ln), d_branch(), rows(la.ln_2), la, w, gw, mlp(l), B,
                                T_, a, ws_);
      layernorm_backward<Scalar>(c, rows(a.d_residual), gw.ln_2_weight, gw.ln_2_bias, rows(a.d_ln),
                                 rows(la.residual_2), w.ln_2_weight, la.ln_2_mean, la.ln_2_rstd);
      // d_residual now holds ∂loss/∂residual_2. Attention branch:
      gpt2_attention_backward<Scalar>(c, rows(a.d_ln), d_branch(), rows(la.ln_1), la, w, gw,
                                      attention(l), std::ssize(s.heads(l)), Config.heads, B, T_,
                                      a, ws_);
      layernorm_backward<Scalar>(c, rows(a.d_residual), gw.ln_1_weight, gw.ln_1_bias, rows(a.d_ln),
                                 rows(block_input(k)), w.ln_1_weight, la.ln_1_mean, la.ln_1_rstd);
      // d_residual now holds ∂loss/∂(block input).
    }
    embedding_backward<Scalar>(c, g_.wte, g_.wpe, a.d_residual, this->device_tokens());
  }

  /// What the current pass computes of layer l's attention (QKV columns, W_O rows) and MLP
  /// (W_fc columns, W_proj rows), from its slice plan.
  HalfSlice attention(int l) const { return gpt2_attention_slice(this->pass_plan(), l); }
  HalfSlice mlp(int l) const { return gpt2_mlp_slice(this->pass_plan(), l); }

  std::vector<ParameterSpec> specs_;
  Tensor<Scalar, Device> params_;  // (parameter_count) arena
  Tensor<Scalar, Device> grads_;   // (parameter_count) arena, same layout
  Gpt2Tensors<Scalar, Device> p_;  // named views into params_
  Gpt2Tensors<Scalar, Device> g_;  // named views into grads_
  Gpt2Tensors<const Scalar, Device> p_const_;  // the same views, read-only, for const access
  Gpt2Tensors<const Scalar, Device> g_const_;
  Gpt2Activations<Scalar, Device> acts_;
  SliceWorkspace<Scalar, Device> ws_;
};

}  // namespace est
