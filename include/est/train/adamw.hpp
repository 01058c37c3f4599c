#pragma once
// AdamW (Loshchilov & Hutter): Adam moments with bias correction and decoupled weight decay,
// applied to a flat parameter arena. Weight decay applies only to the tensors whose spec says so
// (matrices; not biases or LayerNorm parameters).
//
//   m = β1·m + (1-β1)·g;  v = β2·v + (1-β2)·g²
//   p -= lr · ( (m / (1-β1^t)) / (sqrt(v / (1-β2^t)) + ε) + λ·p )
//
// Under evolving subnetwork training a step may come with a mask of the elements the step's
// subnetwork trained (mark_active_parameters). What happens to the others is a choice:
//   InactiveParameters::frozen     they are not updated at all: no weight decay, moments kept,
//                                  and their own step count t (which sets the bias correction)
//                                  does not advance. PyTorch does this for a parameter whose
//                                  grad is None. Each element keeps its own t.
//   InactiveParameters::zero_grad  they take a normal AdamW step with g = 0: the moments decay,
//                                  the (nonzero) momentum still moves them, weight decay
//                                  applies. A masked dense implementation does this.
//   InactiveParameters::mixed      zero-grad inside the active layers, frozen in skipped ones
//                                  (what a slicing implementation in a dynamic framework most
//                                  likely does); its mask marks whole active layers
//                                  (mark_active_layers), and the kernels treat it as frozen.
// Without a mask every element is active and all three are plain AdamW.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "est/ops/adamw.hpp"
#include "est/ops/memory.hpp"
#include "est/core/tensor.hpp"
#include "est/core/parameter_spec.hpp"

namespace est {

/// AdamW's hyperparameters (the learning rate comes with each step); AdamW's constructor
/// checks them and throws value_error for a value outside its range.
struct AdamWConfig {
  double beta1 = 0.9;         ///< β1, decay of the first moment, in [0, 1).
  double beta2 = 0.95;        ///< β2, decay of the second moment, in [0, 1).
  double eps = 1e-8;          ///< ε, added to the bias-corrected sqrt(v); finite and > 0.
  /// λ, decoupled weight decay (each step subtracts lr·λ·p), finite and >= 0; applied only to
  /// the tensors whose ParameterSpec asks for it (matrices; not biases or norm parameters).
  double weight_decay = 0.1;
  /// What a masked step does to the elements outside the step's subnetwork: `frozen` leaves
  /// them, their moments and their own step count untouched (PyTorch's treatment of a parameter
  /// whose grad is None); `zero_grad` gives them a normal AdamW step with g = 0 (the moments
  /// decay, momentum still moves them, weight decay applies); `mixed` is zero-grad inside the
  /// active layers and frozen in skipped ones (its mask comes from mark_active_layers).
  InactiveParameters inactive = InactiveParameters::frozen;
};

/// AdamW over a flat arena on `Device` (moments, counts and the active mask live there too).
///
/// Per element, with t the element's step count:
///
///     m = β1·m + (1-β1)·g;  v = β2·v + (1-β2)·g²
///     p -= lr · ((m / (1-β1^t)) / (sqrt(v / (1-β2^t)) + ε) + λ·p)
///
/// A step may come with a mask of the elements this step's subnetwork trained; the others are
/// treated as AdamWConfig::inactive says. In frozen mode each element keeps its own t from the
/// first masked step on (element_steps()), so its bias correction counts only the steps that
/// updated it. Without a mask every element is active and both modes are plain AdamW. The bias
/// corrections are computed in double once per t and rounded to `T`, so every element at the
/// same count uses the same factors.
template <class T, class Device = cpu>
class AdamW {
 public:
  /// Moments for an arena laid out by `specs`, whose tensors must tile [0, total) without gaps
  /// or overlaps (in any order). Throws value_error when they do not or `config` is out of
  /// range.
  explicit AdamW(std::vector<ParameterSpec> specs, AdamWConfig config = {})
      : specs_(std::move(specs)), config_(config) {
    require<value_error>(config.beta1 >= 0 && config.beta1 < 1, "AdamW: beta1 must be in [0, 1), got ",
                         config.beta1);
    require<value_error>(config.beta2 >= 0 && config.beta2 < 1, "AdamW: beta2 must be in [0, 1), got ",
                         config.beta2);
    require<value_error>(std::isfinite(config.eps) && config.eps > 0,
                         "AdamW: eps must be finite and > 0, got ", config.eps);
    require<value_error>(std::isfinite(config.weight_decay) && config.weight_decay >= 0,
                         "AdamW: weight_decay must be finite and >= 0, got ", config.weight_decay);
    std::vector<const ParameterSpec*> by_offset;
    for (const auto& s : specs_) by_offset.push_back(&s);
    std::sort(by_offset.begin(), by_offset.end(),
              [](const ParameterSpec* a, const ParameterSpec* b) { return a->offset < b->offset; });
    Index total = 0;
    for (const ParameterSpec* s : by_offset) {
      require<value_error>(s->offset == total, "AdamW: tensor '", s->name, "' starts at ",
                           s->offset, ", expected ", total,
                           " (the specs must tile the arena without gaps or overlaps)");
      total += s->shape.numel();
    }
    m_ = Tensor<T, Device>({total});
    v_ = Tensor<T, Device>({total});
  }

  /// One update of `params` from `grads` (both laid out by the specs) with learning rate `lr`.
  /// `active` (one byte per element, 1 = trained by this step's subnetwork) may be empty: then
  /// every element is active. Inactive elements are treated as the config's `inactive` says.
  /// Throws shape_error when a size does not match the arena, value_error when `lr` is negative
  /// or not finite or the step count would pass 2^31 - 1; nothing is updated then.
  void step(const Context<Device>& ctx, TensorView<T, Device> params,
            ConstView<T, Device> grads, double lr, ConstView<std::uint8_t, Device> active = {}) {
    require<shape_error>(params.numel() == m_.numel() && grads.numel() == m_.numel(),
                         "AdamW::step: params and grads need ", m_.numel(), " elements, got ",
                         params.numel(), " and ", grads.numel());
    require<shape_error>(active.numel() == 0 || active.numel() == m_.numel(),
                         "AdamW::step: the active mask has ", active.numel(),
                         " elements, expected ", m_.numel(), " or 0 (all active)");
    require<value_error>(std::isfinite(lr) && lr >= 0, "AdamW::step: lr must be finite and >= 0, got ",
                         lr);
    require<value_error>(t_ < std::numeric_limits<std::int32_t>::max(),
                         "AdamW::step: the step count would overflow");
    // Mixed is frozen in the kernels; its mask marks whole active layers (see InactiveParameters).
    const bool frozen = config_.inactive != InactiveParameters::zero_grad;
    const std::uint8_t* mask = active.numel() ? active.data() : nullptr;
    if (frozen && mask && counts_.numel() == 0) {
      // The first masked step: until now every element's count was t_.
      std::vector<std::int32_t> start(static_cast<std::size_t>(m_.numel()),
                                      static_cast<std::int32_t>(t_));
      counts_ = Tensor<std::int32_t, Device>({m_.numel()});
      copy(ctx, counts_.view(), ConstView<std::int32_t>(start.data(), {m_.numel()}));
    }
    ++t_;
    extend_corrections();
    for (const auto& spec : specs_) {
      const AdamWSlice<T> slice{
          .params = params.data() + spec.offset,
          .grads = grads.data() + spec.offset,
          .m = m_.data() + spec.offset,
          .v = v_.data() + spec.offset,
          .active = mask ? mask + spec.offset : nullptr,
          .counts = counts_.numel() ? counts_.data() + spec.offset : nullptr,
          .size = spec.shape.numel(),
          .beta1 = T(config_.beta1),
          .beta2 = T(config_.beta2),
          .eps = T(config_.eps),
          .rate = T(lr),
          .decay = spec.weight_decay ? T(config_.weight_decay) : T(0),
          .frozen = frozen,
          .c1 = c1_[static_cast<std::size_t>(t_)],
          .c2 = c2_[static_cast<std::size_t>(t_)],
          .c1_table = c1_.data(),
          .c2_table = c2_.data(),
          .t = t_};
      adamw_update<T>(ctx, slice);
    }
  }

  /// Calls of step() so far: the t of every element that has no count of its own.
  [[nodiscard]] long long steps_taken() const noexcept { return t_; }
  /// The first moments m, laid out like the parameter arena (for checkpoints).
  [[nodiscard]] TensorView<T, Device> first_moments() noexcept { return m_.view(); }
  /// The second moments v, laid out like the parameter arena (for checkpoints).
  [[nodiscard]] TensorView<T, Device> second_moments() noexcept { return v_.view(); }
  /// Per-element step counts, kept in frozen mode from the first masked step on. Empty means
  /// every element has taken steps_taken() steps.
  [[nodiscard]] TensorView<const std::int32_t, Device> element_steps() const noexcept {
    return counts_.view();
  }
  /// Forgets per-element step counts: every element has taken steps_taken() steps.
  void clear_element_steps() noexcept { counts_ = Tensor<std::int32_t, Device>(); }

  /// Restores per-element step counts from a checkpoint (frozen mode; each in [0, steps_taken()]).
  /// CPU optimizers only (checkpoints are written from the CPU). Throws value_error in
  /// zero_grad mode or for a count out of range, shape_error unless `counts` has one entry per
  /// element.
  void set_element_steps(ConstView<std::int32_t> counts)
    requires std::same_as<Device, cpu>
  {
    require<value_error>(config_.inactive != InactiveParameters::zero_grad,
                         "AdamW::set_element_steps: per-element counts exist only in frozen and "
                         "mixed modes");
    require<shape_error>(counts.numel() == m_.numel(), "AdamW::set_element_steps: got ",
                         counts.numel(), " counts, expected ", m_.numel());
    for (Index i = 0; i < counts.numel(); ++i) {
      require<value_error>(counts[i] >= 0 && counts[i] <= t_, "AdamW::set_element_steps: count ",
                           counts[i], " of element ", i, " is outside [0, steps_taken() = ", t_,
                           "]");
    }
    counts_ = Tensor<std::int32_t>({m_.numel()});
    std::copy_n(counts.data(), counts.numel(), counts_.data());
  }
  /// The hyperparameters the optimizer was built with.
  [[nodiscard]] const AdamWConfig& config() const noexcept { return config_; }
  /// Restores the step count of a checkpoint (it sets the bias correction). In frozen mode the
  /// per-element counts are restored separately through set_element_steps(); they must not
  /// exceed this count. Throws value_error when `steps` is outside [0, 2^31 - 1) or below a
  /// per-element count already restored. CPU optimizers only.
  void set_steps_taken(long long steps)
    requires std::same_as<Device, cpu>
  {
    require<value_error>(steps >= 0 && steps < std::numeric_limits<std::int32_t>::max(),
                         "AdamW::set_steps_taken: steps must be in [0, 2^31 - 1), got ", steps);
    const std::int32_t* largest = std::max_element(counts_.data(), counts_.data() + counts_.numel());
    require<value_error>(counts_.numel() == 0 || *largest <= steps,
                         "AdamW::set_steps_taken: ", steps, " is below the per-element count ",
                         counts_.numel() ? *largest : 0, " already restored");
    t_ = steps;
  }

 private:
  std::vector<ParameterSpec> specs_;
  AdamWConfig config_;
  Tensor<T, Device> m_;  // (parameter_count) first moments
  Tensor<T, Device> v_;  // (parameter_count) second moments
  Tensor<std::int32_t, Device> counts_;  // (parameter_count) per-element step counts, or empty
  long long t_ = 0;
  // Bias corrections 1/(1-β^t) for t = 0..t_, computed once per step in double and rounded to
  // T, so every element at count t uses the same factors.
  std::vector<T> c1_, c2_;

  void extend_corrections() {
    if (c1_.empty()) c1_.push_back(T(0)), c2_.push_back(T(0));  // t = 0 is never used
    for (auto t = static_cast<long long>(c1_.size()); t <= t_; ++t) {
      c1_.push_back(T(1.0 / (1.0 - std::pow(config_.beta1, double(t)))));
      c2_.push_back(T(1.0 / (1.0 - std::pow(config_.beta2, double(t)))));
    }
  }
};

}  // namespace est
