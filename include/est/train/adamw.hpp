#pragma once
// AdamW (Loshchilov & Hutter): Adam moments with bias correction and decoupled weight decay,
// applied to a flat parameter arena. Weight decay applies only to the tensors whose spec says so
// (matrices; not biases or LayerNorm parameters).
//
//   m = β1·m + (1-β1)·g;  v = β2·v + (1-β2)·g²
//   p -= lr · ( (m / (1-β1^t)) / (sqrt(v / (1-β2^t)) + ε) + λ·p )

#include <algorithm>
#include <cmath>
#include <span>
#include <vector>

#include "est/backend/cpu/parallel.hpp"
#include "est/core/tensor.hpp"
#include "est/models/gpt2_parameters.hpp"

namespace est {

struct AdamWConfig {
  double beta1 = 0.9;
  double beta2 = 0.95;
  double eps = 1e-8;
  double weight_decay = 0.1;
};

template <class T>
class AdamW {
 public:
  /// Moments for an arena laid out by `specs`, whose tensors must tile [0, total) without gaps
  /// or overlaps (in any order).
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
    m_ = Tensor<T>({total});
    v_ = Tensor<T>({total});
  }

  /// One update of `params` from `grads` (both laid out by the specs) with learning rate `lr`.
  void step(const Context<cpu>& ctx, TensorView<T> params, ConstView<T> grads, double lr) {
    require<shape_error>(params.numel() == m_.numel() && grads.numel() == m_.numel(),
                         "AdamW::step: params and grads need ", m_.numel(), " elements, got ",
                         params.numel(), " and ", grads.numel());
    require<value_error>(std::isfinite(lr) && lr >= 0, "AdamW::step: lr must be finite and >= 0, got ",
                         lr);
    ++t_;
    const T b1 = T(config_.beta1), b2 = T(config_.beta2), eps = T(config_.eps);
    const T c1 = T(1.0 / (1.0 - std::pow(config_.beta1, double(t_))));
    const T c2 = T(1.0 / (1.0 - std::pow(config_.beta2, double(t_))));
    for (const auto& spec : specs_) {
      const T decay = spec.weight_decay ? T(config_.weight_decay) : T(0);
      T* p = params.data() + spec.offset;
      const T* g = grads.data() + spec.offset;
      T* m = m_.data() + spec.offset;
      T* v = v_.data() + spec.offset;
      cpu_detail::parallel_blocks(ctx, spec.shape.numel(), [&](Index begin, Index size) {
        for (Index i = begin; i < begin + size; ++i) {
          m[i] = b1 * m[i] + (T(1) - b1) * g[i];
          v[i] = b2 * v[i] + (T(1) - b2) * g[i] * g[i];
          const T update = (m[i] * c1) / (std::sqrt(v[i] * c2) + eps) + decay * p[i];
          p[i] -= T(lr) * update;
        }
      });
    }
  }

  [[nodiscard]] long long steps_taken() const noexcept { return t_; }
  /// The optimizer state, laid out like the parameter arena, for checkpoints.
  [[nodiscard]] TensorView<T> first_moments() noexcept { return m_.view(); }
  [[nodiscard]] TensorView<T> second_moments() noexcept { return v_.view(); }
  /// Restores the step count of a checkpoint (it sets the bias correction).
  void set_steps_taken(long long steps) {
    require<value_error>(steps >= 0, "AdamW::set_steps_taken: steps must be >= 0, got ", steps);
    t_ = steps;
  }

 private:
  std::vector<ParameterSpec> specs_;
  AdamWConfig config_;
  Tensor<T> m_;  // (parameter_count) first moments
  Tensor<T> v_;  // (parameter_count) second moments
  long long t_ = 0;
};

}  // namespace est
