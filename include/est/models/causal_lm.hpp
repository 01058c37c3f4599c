#pragma once
// What every est language model does around its layers: the pass protocol and its checks.
//
//   forward(tokens, targets[, subnetwork][, loss_scale])  training pass: returns the mean
//       next-token cross-entropy and leaves loss_scale · ∂loss/∂logits in the logits buffer for
//       exactly one backward(); with a subnetwork, only its layers, heads and neurons run
//   backward()                    adds ∂loss/∂parameters into the gradient arena
//   evaluate(tokens, targets)     the loss of the full model, logits kept
//   forward(tokens), logits()     inference
//
// Every argument (token shapes and ids, the subnetwork) is checked before anything changes, so a
// rejected call leaves the model as it was. Tokens and targets live on the host; on a GPU they
// are uploaded here. A model `Derived` (Gpt2, Llama) derives from CausalLm<Derived, Device,
// Scalar>, makes it a friend and provides
//   static constexpr config (vocab, context), a `family` type (models/family.hpp), acts_
//   (allocate(config, B, T), batch, seq, logits, losses), void trunk(const Subnetwork&) —
//   embeddings to logits for the uploaded tokens, slicing as pass_plan() says — and
//   void backward_pass(const Subnetwork&).
// Shapes: B batch, T sequence (<= context), V vocabulary.

#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>

#include "est/ops/cross_entropy.hpp"
#include "est/ops/memory.hpp"
#include "est/core/checks.hpp"
#include "est/core/context.hpp"
#include "est/core/tensor.hpp"
#include "est/subnet/slice_plan.hpp"
#include "est/subnet/subnetwork.hpp"

namespace est {

/// The pass protocol of every est language model (see the file comment): training forward and
/// backward, optionally over a subnetwork, evaluation and inference, with every argument checked
/// before any state changes. `Derived` (Gpt2, Llama) supplies the trunk and its backward;
/// `Device` is a device tag (est::cpu, est::cuda); `Scalar` is float or double. A model is not
/// copyable: it holds views into its own arenas.
template <class Derived, class Device, class Scalar>
class CausalLm {
 public:
  /// The element type of the parameters, gradients, activations and losses.
  using scalar_type = Scalar;
  /// The device tag the arenas and activations live on.
  using device_type = Device;
  using Tokens = ConstView<std::int32_t>;  ///< (B, T) token ids, on the host for every device.

  CausalLm(const CausalLm&) = delete;  ///< Models hold views into their own arenas.
  CausalLm& operator=(const CausalLm&) = delete;

  /// Training forward pass: the mean cross-entropy of predicting `targets` (B, T) from `tokens`
  /// (B, T). The fused loss writes loss_scale · ∂(mean loss)/∂logits into the logits buffer,
  /// ready for backward(); logits() is not available until the next inference pass. Throws
  /// shape_error unless both are (B, T) with B >= 1 and 1 <= T <= context, value_error for an id
  /// outside [0, vocab) or a non-finite `loss_scale`, before anything changes; with
  /// `Context::check_numerics`, value_error for non-finite logits or loss.
  Scalar forward(Tokens tokens, Tokens targets, Scalar loss_scale = Scalar(1)) {
    return train_forward(tokens, targets, nullptr, loss_scale);
  }

  /// Training forward pass of `subnet` only (its shape must be (layers, heads, mlp_hidden)):
  /// skipped layers pass the residual stream through, active layers use their active heads and
  /// neurons. The next backward() produces gradients for exactly the active slices. Throws as
  /// the full pass does, and value_error for a subnetwork of another shape or an invalid one. A
  /// subnetwork that is_full() runs the unsliced model: the same results bit for bit.
  Scalar forward(Tokens tokens, Tokens targets, const Subnetwork& subnet,
                 Scalar loss_scale = Scalar(1)) {
    return train_forward(tokens, targets, &subnet, loss_scale);
  }

  /// Evaluation: the mean cross-entropy of the full model, with the logits kept; a pending
  /// backward() is no longer possible. Throws as the training forward does.
  Scalar evaluate(Tokens tokens, Tokens targets) {
    check_targets(tokens, targets, op("evaluate"));
    forward(tokens);
    auto& a = self().acts_;
    const double loss = softmax_cross_entropy<Scalar>(
        *ctx_, a.losses, MatrixView<Scalar, Device>(), vocabulary_logits(a.batch * a.seq),
        stage_targets(targets), Scalar(1));
    check_loss(loss);
    return static_cast<Scalar>(loss);
  }

  /// Inference forward pass of the full model: afterwards logits() holds (B, T, V). Throws
  /// shape_error or value_error for bad tokens (as the training forward does) before anything
  /// changes.
  void forward(Tokens tokens) {
    run(tokens, nullptr);
    state_ = State::logits_ready;
  }

  /// (B, T, V) logits of the last inference or evaluation pass, valid until the next pass; for a
  /// GPT-2 with padded_vocab the last dimension is the padded one, columns past vocab being 0.
  /// Throws est::error when no pass has completed or the last one was a training forward.
  [[nodiscard]] TensorView<const Scalar, Device> logits() const {
    require(state_ == State::logits_ready, op("logits"), ": no logits available; ",
            state_ == State::none
                ? "no pass has completed"
                : "the last pass was a training forward (its logits buffer holds the loss "
                  "gradient); run forward(tokens) or evaluate(tokens, targets)");
    return self().acts_.logits.view();
  }

  /// Accumulates ∂loss/∂parameter into the gradients (+=) for the last training forward pass.
  /// Only the active slices of a subnetwork pass receive gradient. Throws est::error unless a
  /// training forward came since the last backward() (one backward per forward).
  void backward() {
    require(state_ == State::gradients_ready, op("backward"),
            ": call forward(tokens, targets) first (once per backward)");
    state_ = State::gradients_used;
    self().backward_pass(pass_subnetwork());
  }

  /// Per-token losses (B, T) of the last pass that had targets.
  [[nodiscard]] TensorView<const Scalar, Device> losses() const noexcept {
    return self().acts_.losses.view();
  }

 protected:
  /// `name` prefixes the error messages ("Gpt2" gives "Gpt2::forward: ...").
  CausalLm(const Context<Device>& ctx, SubnetworkShape shape, const char* name)
      : ctx_(&ctx), name_(name), full_(Subnetwork::full(shape)) {}

  /// The context every pass runs on.
  [[nodiscard]] const Context<Device>& context() const noexcept { return *ctx_; }
  /// The slice plan of the current pass (the full model's when it is not sliced).
  [[nodiscard]] const SlicePlan& pass_plan() const noexcept {
    return sliced_ ? plan_ : full_plan_;
  }
  /// (B, T) token ids of the current pass, on the model's device.
  [[nodiscard]] ConstView<std::int32_t, Device> device_tokens() const { return tokens_.view(); }

 private:
  enum class State { none, logits_ready, gradients_ready, gradients_used };

  Derived& self() noexcept { return static_cast<Derived&>(*this); }
  const Derived& self() const noexcept { return static_cast<const Derived&>(*this); }
  [[nodiscard]] std::string op(const char* what) const { return name_ + "::" + what; }

  /// The (n, V) logits of the vocabulary's ids: the logits buffer without the columns of a
  /// padded embedding's rows (GPT-2's padded_vocab), which take no part in the softmax; the
  /// model's backward reads only these columns, so the padding rows get no gradient.
  [[nodiscard]] MatrixView<Scalar, Device> vocabulary_logits(Index n) {
    auto all = self().acts_.logits.view().matrix(n);
    return all.block(0, 0, n, Index(Derived::config.vocab));
  }

  Scalar train_forward(Tokens tokens, Tokens targets, const Subnetwork* subnet, Scalar loss_scale) {
    const std::string forward_op = op("forward");
    check_targets(tokens, targets, forward_op);
    require<value_error>(std::isfinite(loss_scale), forward_op,
                         ": loss_scale must be finite, got ", loss_scale);
    if (subnet) check_subnetwork(*subnet);
    run(tokens, subnet);
    auto& a = self().acts_;
    const Index n = a.batch * a.seq;
    auto logits = vocabulary_logits(n);
    const double loss = softmax_cross_entropy<Scalar>(*ctx_, a.losses, logits, logits,
                                                      stage_targets(targets),
                                                      loss_scale / Scalar(n));
    check_loss(loss);
    state_ = State::gradients_ready;
    return static_cast<Scalar>(loss);
  }

  /// Checks the tokens, sizes the activations, uploads the tokens and runs the trunk of `subnet`
  /// (null: the full model) up to the logits.
  void run(Tokens tokens, const Subnetwork* subnet) {
    constexpr auto& config = Derived::config;
    const std::string forward_op = op("forward");
    require<shape_error>(tokens.rank() == 2, forward_op, ": tokens has shape ", tokens.shape(),
                         ", expected (B, T)");
    const Index B = tokens.dim(0), T_ = tokens.dim(1);
    require<shape_error>(B >= 1 && T_ >= 1 && T_ <= config.context, forward_op,
                         ": tokens has shape ", tokens.shape(),
                         ", expected (B, T) with B >= 1 and 1 <= T <= context = ",
                         config.context);
    check_token_ids(tokens, config.vocab, forward_op.c_str(), "tokens");
    // From here on the previous pass's activations are overwritten.
    state_ = State::none;
    self().acts_.allocate(config, B, T_);
    if (tokens_.shape() != tokens.shape()) tokens_ = Tensor<std::int32_t, Device>(tokens.shape());
    copy(*ctx_, tokens_.view(), tokens);
    sliced_ = subnet != nullptr && !subnet->is_full();
    if (sliced_ && !(plan_ready_ && subnet_ == *subnet)) {
      // Built once per subnetwork: the micro-batches of a step reuse it.
      plan_ = Derived::family::slice_plan(config, *subnet);
      subnet_ = *subnet;
      plan_ready_ = true;
    }
    if (!sliced_ && full_plan_.tensors().empty()) {
      full_plan_ = Derived::family::slice_plan(config, full_);
    }
    self().trunk(pass_subnetwork());
    if (ctx_->check_numerics) {
      const auto& logits = self().acts_.logits;
      if constexpr (std::is_same_v<Device, cpu>) {
        expect_finite(logits.view(), forward_op, "logits");
      } else {
        auto host = to_host(*ctx_, logits.view());
        expect_finite(TensorView<const Scalar>(host.data(), logits.shape()), forward_op, "logits");
      }
    }
  }

  /// Targets (B, T) against the tokens, before any work.
  void check_targets(Tokens tokens, Tokens targets, const std::string& where) const {
    expect_shape(targets, tokens.shape(), where, "targets");
    check_token_ids(targets, Derived::config.vocab, where.c_str(), "targets");
  }

  void check_subnetwork(const Subnetwork& subnet) const {
    require<value_error>(subnet.shape() == full_.shape(), op("forward"),
                         ": the subnetwork has shape (", subnet.shape().layers, ", ",
                         subnet.shape().heads, ", ", subnet.shape().neurons,
                         "), expected (layers, heads, mlp_hidden) = (", full_.shape().layers, ", ",
                         full_.shape().heads, ", ", full_.shape().neurons, ")");
    subnet.validate(op("forward") + ": subnetwork");
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

  void check_loss(double loss) const {
    if (ctx_->check_numerics) {
      require<value_error>(std::isfinite(loss), name_, ": the loss is not finite (", loss, ")");
    }
  }

  /// The subnetwork of the current pass.
  [[nodiscard]] const Subnetwork& pass_subnetwork() const noexcept {
    return sliced_ ? subnet_ : full_;
  }

  const Context<Device>* ctx_;
  std::string name_;
  Tensor<std::int32_t, Device> tokens_;   // (B, T) of the last forward, on the device
  Tensor<std::int32_t, Device> targets_;  // (B, T) device copy of the last targets (GPU only)
  State state_ = State::none;
  Subnetwork full_;
  Subnetwork subnet_;    // the subnetwork of the last sliced pass
  SlicePlan plan_;       // its slice plan
  SlicePlan full_plan_;  // the full model's (built at the first full pass)
  bool plan_ready_ = false;  // whether plan_ is subnet_'s
  bool sliced_ = false;  // whether the last pass ran subnet_ (else full_)
};

}  // namespace est
