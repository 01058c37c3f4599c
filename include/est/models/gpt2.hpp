#pragma once
// GPT-2: token + position embedding, L pre-LayerNorm transformer blocks (causal multi-head
// attention, tanh-GELU MLP), a final LayerNorm and an LM head tied to the token embedding,
// trained with the mean next-token cross-entropy.
//
// Shapes: B batch, T sequence (<= context), C width, H heads, M MLP hidden, V vocabulary.
// Parameter names, shapes and initialisation: gpt2_parameters.hpp and the constructor below.
//
// Evolving subnetwork training: forward(tokens, targets, subnetwork) trains only a subnetwork
// (est/subnet/subnetwork.hpp). Skipped layers are not run, active layers compute only their
// active heads and neurons (gpt2_block.hpp), and backward() adds gradients into exactly the
// active slices. Evaluation and inference always run the full model.

#include <cmath>
#include <cstdint>
#include <span>
#include <type_traits>
#include <vector>

#include "est/backend/cpu/attention.hpp"
#include "est/backend/cpu/cross_entropy.hpp"
#include "est/backend/cpu/embedding.hpp"
#include "est/backend/cpu/gelu.hpp"
#include "est/backend/cpu/gemm.hpp"
#include "est/backend/cpu/layernorm.hpp"
#include "est/backend/cpu/linear.hpp"
#include "est/backend/cpu/memory.hpp"
#include "est/backend/cpu/residual.hpp"
#include "est/core/checks.hpp"
#include "est/core/config.hpp"
#include "est/core/context.hpp"
#include "est/core/philox.hpp"
#include "est/core/tensor.hpp"
#include "est/models/gpt2_activations.hpp"
#include "est/models/gpt2_block.hpp"
#include "est/models/gpt2_parameters.hpp"
#include "est/subnet/subnetwork.hpp"

namespace est {

template <Gpt2Config Config, class Device = cpu, class Scalar = float>
class Gpt2 {
  static_assert(Config.layers >= 1, "Gpt2Config: layers must be >= 1");
  static_assert(Config.heads >= 1, "Gpt2Config: heads must be >= 1");
  static_assert(Config.width >= 1, "Gpt2Config: width must be >= 1");
  static_assert(Config.width % Config.heads == 0,
                "Gpt2Config: width must be divisible by heads (head size = width / heads)");
  static_assert(Config.mlp_hidden >= 1, "Gpt2Config: mlp_hidden must be >= 1");
  static_assert(Config.vocab >= 1, "Gpt2Config: vocab must be >= 1");
  static_assert(Config.context >= 1, "Gpt2Config: context must be >= 1");
  static_assert(std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>,
                "Gpt2: Scalar must be float or double");
  static_assert(device<Device>, "Gpt2: Device must be est::cpu or est::cuda");

 public:
  static constexpr Gpt2Config config = Config;
  using scalar_type = Scalar;
  using device_type = Device;
  using Tokens = ConstView<std::int32_t>;  // (B, T) token ids, on the host for every device

  /// GPT-2 initialisation from `seed`: weights normal(0, 0.02), the two residual output
  /// projections of each block normal(0, 0.02 / sqrt(2 L)), biases 0, LayerNorm weights 1.
  /// Tensor i of the arena draws from Philox stream rng_stream(weights, i), so the weights depend
  /// only on the seed. The model uses `ctx` for every pass: it must outlive the model.
  explicit Gpt2(const Context<Device>& ctx, std::uint64_t seed = 0)
      : ctx_(&ctx),
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

  Gpt2(const Gpt2&) = delete;  // the views point into this object's arenas
  Gpt2& operator=(const Gpt2&) = delete;

  /// Training forward pass: returns the mean cross-entropy of predicting `targets` (B, T) from
  /// `tokens` (B, T). The fused loss writes loss_scale · ∂(mean loss)/∂logits into the logits
  /// buffer, ready for backward(); logits() is not available until the next inference pass.
  Scalar forward(Tokens tokens, Tokens targets, Scalar loss_scale = Scalar(1)) {
    return train_forward(tokens, targets, nullptr, loss_scale);
  }

  /// Training forward pass of `subnet` only (its shape must be (layers, heads, mlp_hidden)):
  /// skipped layers pass the residual stream through, active layers use their active heads and
  /// neurons with the rescaling of gpt2_block.hpp. The next backward() produces gradients for
  /// exactly the active slices. The subnetwork is checked before anything changes.
  Scalar forward(Tokens tokens, Tokens targets, const Subnetwork& subnet,
                 Scalar loss_scale = Scalar(1)) {
    return train_forward(tokens, targets, &subnet, loss_scale);
  }

  /// Evaluation: the mean cross-entropy, with the logits kept (nothing for backward).
  Scalar evaluate(Tokens tokens, Tokens targets) {
    check_targets(tokens, targets, "Gpt2::evaluate");
    forward(tokens);
    const Index n = acts_.batch * acts_.seq;
    const double loss = softmax_cross_entropy<Scalar>(*ctx_, acts_.losses,
                                                      MatrixView<Scalar, Device>(),
                                                      acts_.logits.view().matrix(n),
                                                      stage_targets(targets), Scalar(1));
    check_loss(loss);
    return static_cast<Scalar>(loss);
  }

  /// Inference forward pass: afterwards logits() holds (B, T, V).
  void forward(Tokens tokens) {
    run_trunk(tokens, nullptr);
    state_ = State::logits_ready;
  }

  /// (B, T, V) logits of the last inference or evaluation pass. The view is valid until the next
  /// pass (a pass with another (B, T) reallocates the buffers).
  [[nodiscard]] TensorView<const Scalar, Device> logits() const {
    require(state_ == State::logits_ready, "Gpt2::logits: no logits available; ",
            state_ == State::none
                ? "no pass has completed"
                : "the last pass was a training forward (its logits buffer holds the loss "
                  "gradient); run forward(tokens) or evaluate(tokens, targets)");
    return acts_.logits.view();
  }

  /// Accumulates ∂loss/∂parameter into gradients() (+=) for the last training forward pass.
  void backward() {
    require(state_ == State::gradients_ready,
            "Gpt2::backward: call forward(tokens, targets) first (once per backward)");
    state_ = State::gradients_used;
    const auto& c = *ctx_;
    const Index B = acts_.batch, T_ = acts_.seq, n = B * T_;
    auto& a = acts_;
    auto rows = [n](auto& t) { return t.view().matrix(n); };

    const Subnetwork& s = pass_subnetwork();
    const std::vector<int> active = s.active_layers();
    // The input of the k-th active layer: the previous active layer's output, or the embeddings.
    auto block_input = [&](std::size_t k) -> const Tensor<Scalar, Device>& {
      return k == 0 ? a.encoded : a.layers[static_cast<std::size_t>(active[k - 1])].residual_3;
    };

    // LM head (tied): logits = ln_f · wteᵀ.
    auto d_logits = rows(a.logits);
    gemm<Scalar>(c, rows(a.d_ln), d_logits, Transpose::no, p_.wte.matrix(), Transpose::no);
    gemm<Scalar>(c, g_.wte.matrix(), d_logits, Transpose::yes, rows(a.ln_f), Transpose::no,
                 Scalar(1), Scalar(1));
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
      // d_residual holds ∂loss/∂(block output). MLP branch:
      gpt2_mlp_backward<Scalar>(c, rows(a.d_ln), rows(a.d_residual), rows(la.ln_2), la, w, gw,
                                s.neurons(l), Config.mlp_hidden, B, T_, a, ws_);
      layernorm_backward<Scalar>(c, rows(a.d_residual), gw.ln_2_weight, gw.ln_2_bias, rows(a.d_ln),
                                 rows(la.residual_2), w.ln_2_weight, la.ln_2_mean, la.ln_2_rstd);
      // d_residual now holds ∂loss/∂residual_2. Attention branch:
      gpt2_attention_backward<Scalar>(c, rows(a.d_ln), rows(a.d_residual), rows(la.ln_1), la, w,
                                      gw, s.heads(l), Config.heads, B, T_, a, ws_);
      layernorm_backward<Scalar>(c, rows(a.d_residual), gw.ln_1_weight, gw.ln_1_bias, rows(a.d_ln),
                                 rows(block_input(k)), w.ln_1_weight, la.ln_1_mean, la.ln_1_rstd);
      // d_residual now holds ∂loss/∂(block input).
    }
    embedding_backward<Scalar>(c, g_.wte, g_.wpe, a.d_residual, tokens_.view());
  }

  /// Sets every gradient to zero.
  void zero_grad() { fill_zero(*ctx_, grads_.view()); }

  /// Named views of the parameters / gradients (see gpt2_parameters.hpp).
  [[nodiscard]] const Gpt2Tensors<Scalar, Device>& parameters() noexcept { return p_; }
  [[nodiscard]] const Gpt2Tensors<Scalar, Device>& gradients() noexcept { return g_; }
  [[nodiscard]] const Gpt2Tensors<const Scalar, Device>& parameters() const noexcept {
    return p_const_;
  }
  [[nodiscard]] const Gpt2Tensors<const Scalar, Device>& gradients() const noexcept {
    return g_const_;
  }
  /// The flat arenas (on the model's device), for optimizers and checkpoints.
  [[nodiscard]] TensorView<Scalar, Device> parameter_arena() noexcept { return params_.view(); }
  [[nodiscard]] TensorView<Scalar, Device> gradient_arena() noexcept { return grads_.view(); }
  [[nodiscard]] TensorView<const Scalar, Device> parameter_arena() const noexcept {
    return params_.view();
  }
  [[nodiscard]] TensorView<const Scalar, Device> gradient_arena() const noexcept {
    return grads_.view();
  }
  /// Name, shape, offset and weight-decay flag of every tensor, in arena order.
  [[nodiscard]] const std::vector<ParameterSpec>& parameter_specs() const noexcept {
    return specs_;
  }
  /// Per-token losses (B, T) of the last pass that had targets.
  [[nodiscard]] TensorView<const Scalar, Device> losses() const noexcept {
    return acts_.losses.view();
  }

 private:
  Scalar train_forward(Tokens tokens, Tokens targets, const Subnetwork* subnet, Scalar loss_scale) {
    check_targets(tokens, targets, "Gpt2::forward");
    require<value_error>(std::isfinite(loss_scale), "Gpt2::forward: loss_scale must be finite, got ",
                         loss_scale);
    if (subnet) check_subnetwork(*subnet);
    run_trunk(tokens, subnet);
    const Index n = acts_.batch * acts_.seq;
    auto logits = acts_.logits.view().matrix(n);
    const double loss = softmax_cross_entropy<Scalar>(*ctx_, acts_.losses, logits, logits,
                                                      stage_targets(targets),
                                                      loss_scale / Scalar(n));
    check_loss(loss);
    state_ = State::gradients_ready;
    return static_cast<Scalar>(loss);
  }

  enum class State { none, logits_ready, gradients_ready, gradients_used };

  /// Checks targets (B, T) against tokens before any work, so a bad call leaves the model as it
  /// was.
  void check_targets(Tokens tokens, Tokens targets, const char* op) const {
    expect_shape(targets, tokens.shape(), op, "targets");
    check_token_ids(targets, Config.vocab, op, "targets");
  }

  /// Embedding, blocks, final LayerNorm and LM head: fills the activations up to the logits.
  /// `subnet` null: the full model.
  void run_trunk(Tokens tokens, const Subnetwork* subnet) {
    require<shape_error>(tokens.rank() == 2, "Gpt2::forward: tokens has shape ", tokens.shape(),
                         ", expected (B, T)");
    const Index B = tokens.dim(0), T_ = tokens.dim(1), n = B * T_;
    require<shape_error>(B >= 1 && T_ >= 1 && T_ <= Config.context,
                         "Gpt2::forward: tokens has shape ", tokens.shape(),
                         ", expected (B, T) with B >= 1 and 1 <= T <= context = ",
                         Config.context);
    check_token_ids(tokens, Config.vocab, "Gpt2::forward", "tokens");
    // From here on the previous pass's activations are overwritten.
    state_ = State::none;
    acts_.allocate(Config, B, T_);
    // Kept (on the device) for the embedding and its backward.
    if (tokens_.shape() != tokens.shape()) tokens_ = Tensor<std::int32_t, Device>(tokens.shape());
    copy(*ctx_, tokens_.view(), tokens);
    sliced_ = subnet != nullptr && !subnet->is_full();
    if (sliced_) subnet_ = *subnet;
    const auto& c = *ctx_;
    auto& a = acts_;
    auto rows = [n](auto& t) { return t.view().matrix(n); };

    embedding_forward<Scalar>(c, a.encoded, tokens_.view(), p_.wte, p_.wpe);
    const Subnetwork& s = pass_subnetwork();
    const Tensor<Scalar, Device>* input = &a.encoded;  // the residual stream entering the next layer
    for (int l = 0; l < Config.layers; ++l) {
      if (!s.is_active(l)) continue;  // a skipped layer is the identity
      const auto& w = p_.layers[static_cast<std::size_t>(l)];
      auto& la = a.layers[static_cast<std::size_t>(l)];
      layernorm_forward<Scalar>(c, rows(la.ln_1), la.ln_1_mean, la.ln_1_rstd, rows(*input),
                                w.ln_1_weight, w.ln_1_bias);
      gpt2_attention_forward<Scalar>(c, rows(a.branch), rows(la.ln_1), la, w, s.heads(l),
                                     Config.heads, B, T_, ws_);
      residual_forward<Scalar>(c, la.residual_2, *input, a.branch);
      layernorm_forward<Scalar>(c, rows(la.ln_2), la.ln_2_mean, la.ln_2_rstd, rows(la.residual_2),
                                w.ln_2_weight, w.ln_2_bias);
      gpt2_mlp_forward<Scalar>(c, rows(a.branch), rows(la.ln_2), la, w, s.neurons(l),
                               Config.mlp_hidden, B, T_, ws_);
      residual_forward<Scalar>(c, la.residual_3, la.residual_2, a.branch);
      input = &la.residual_3;
    }
    layernorm_forward<Scalar>(c, rows(a.ln_f), a.ln_f_mean, a.ln_f_rstd, rows(*input),
                              p_.ln_f_weight, p_.ln_f_bias);
    gemm<Scalar>(c, rows(a.logits), rows(a.ln_f), Transpose::no, p_.wte.matrix(), Transpose::yes);
    if (c.check_numerics) {
      if constexpr (std::is_same_v<Device, cpu>) {
        expect_finite(a.logits.view(), "Gpt2::forward", "logits");
      } else {
        auto host = to_host(c, a.logits.view());
        expect_finite(TensorView<const Scalar>(host.data(), a.logits.shape()), "Gpt2::forward",
                      "logits");
      }
    }
  }

  void check_subnetwork(const Subnetwork& subnet) const {
    require<value_error>(subnet.shape() == full_.shape(), "Gpt2::forward: the subnetwork has shape (",
                         subnet.shape().layers, ", ", subnet.shape().heads, ", ",
                         subnet.shape().neurons, "), expected (layers, heads, mlp_hidden) = (",
                         Config.layers, ", ", Config.heads, ", ", Config.mlp_hidden, ")");
    subnet.validate("Gpt2::forward: subnetwork");
  }

  /// The targets where the loss reads them: the caller's view on the CPU, a device copy on a
  /// GPU (checked on the host first).
  ConstView<std::int32_t, Device> stage_targets(Tokens targets) {
    if constexpr (std::is_same_v<Device, cpu>) {
      return targets;
    } else {
      if (targets_.shape() != targets.shape()) {
        targets_ = Tensor<std::int32_t, Device>(targets.shape());
      }
      copy(*ctx_, targets_.view(), targets);
      return targets_.view();
    }
  }

  /// The subnetwork of the current pass.
  [[nodiscard]] const Subnetwork& pass_subnetwork() const noexcept {
    return sliced_ ? subnet_ : full_;
  }

  void check_loss(double loss) const {
    if (ctx_->check_numerics) {
      require<value_error>(std::isfinite(loss), "Gpt2: the loss is not finite (", loss, ")");
    }
  }

  const Context<Device>* ctx_;
  std::vector<ParameterSpec> specs_;
  Tensor<Scalar, Device> params_;  // (parameter_count) arena
  Tensor<Scalar, Device> grads_;   // (parameter_count) arena, same layout
  Gpt2Tensors<Scalar, Device> p_;  // named views into params_
  Gpt2Tensors<Scalar, Device> g_;  // named views into grads_
  Gpt2Tensors<const Scalar, Device> p_const_;  // the same views, read-only, for const access
  Gpt2Tensors<const Scalar, Device> g_const_;
  Gpt2Activations<Scalar, Device> acts_;
  Tensor<std::int32_t, Device> tokens_;   // (B, T) of the last forward
  Tensor<std::int32_t, Device> targets_;  // (B, T) device copy of the last targets (GPU only)
  State state_ = State::none;
  Subnetwork full_ = Subnetwork::full(subnetwork_shape(Config));
  Subnetwork subnet_;    // the subnetwork of the last pass, when it was not the full model
  bool sliced_ = false;  // whether the last pass ran subnet_ (else full_)
  SliceWorkspace<Scalar, Device> ws_;
};

}  // namespace est
