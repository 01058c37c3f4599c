#pragma once
// FLOPs of one training step of GPT-2, for the full model or a subnetwork, counted exactly as
// est computes them: every matrix product of m x k by k x n counts 2·m·n·k.
//
// Forward, for N = B·T tokens, and per active layer with h heads (head size d = C/H) and
// m neurons:
//   QKV projection      2·N·C·3hd        attention scores QKᵀ   2·B·h·T·T·d
//   weighted sum P·V    2·B·h·T·T·d      output projection      2·N·hd·C
//   MLP up              2·N·C·m          MLP down               2·N·m·C
// and once per step the LM head 2·N·C·V. The attention products count the full T x T score
// matrix, which is what est's attention computes. Backward: every product above costs two of
// the same size (input gradient and weight gradient; for attention dV, dP, dQ and dK), so it is
// exactly twice the forward. Elementwise work (LayerNorm, GELU, softmax, embeddings, the loss,
// the optimizer) is not counted; it is a small fraction of these at useful sizes.

#include <cstdint>

#include "est/core/config.hpp"
#include "est/core/error.hpp"
#include "est/core/llama_config.hpp"
#include "est/subnet/subnetwork.hpp"

namespace est {

struct StepFlops {
  std::int64_t forward = 0;
  std::int64_t backward = 0;
  [[nodiscard]] std::int64_t total() const noexcept { return forward + backward; }
  friend bool operator==(const StepFlops&, const StepFlops&) = default;
};

/// FLOPs of one forward and backward pass of `subnet` of `config` over a (batch, seq) batch.
[[nodiscard]] inline StepFlops gpt2_step_flops(const Gpt2Config& config, std::int64_t batch,
                                               std::int64_t seq, const Subnetwork& subnet) {
  require<value_error>(batch >= 1 && seq >= 1, "gpt2_step_flops: batch and seq must be >= 1, got ",
                       batch, " and ", seq);
  require<value_error>(subnet.shape() == subnetwork_shape(config),
                       "gpt2_step_flops: the subnetwork's shape (", subnet.shape().layers, ", ",
                       subnet.shape().heads, ", ", subnet.shape().neurons,
                       ") is not the configuration's (", config.layers, ", ", config.heads, ", ",
                       config.mlp_hidden, ")");
  subnet.validate("gpt2_step_flops");
  const std::int64_t N = batch * seq, C = config.width, d = config.head_dim(), V = config.vocab;
  std::int64_t forward = 2 * N * C * V;  // LM head
  for (int l = 0; l < config.layers; ++l) {
    if (!subnet.is_active(l)) continue;
    const auto h = static_cast<std::int64_t>(subnet.heads(l).size());
    const auto m = static_cast<std::int64_t>(subnet.neurons(l).size());
    forward += 2 * N * C * 3 * h * d;          // QKV projection
    forward += 2 * 2 * batch * h * seq * seq * d;  // scores and weighted sum
    forward += 2 * N * h * d * C;              // output projection
    forward += 2 * 2 * N * C * m;              // MLP up and down
  }
  return {forward, 2 * forward};
}

/// FLOPs of one step of the full model.
[[nodiscard]] inline StepFlops gpt2_step_flops(const Gpt2Config& config, std::int64_t batch,
                                               std::int64_t seq) {
  return gpt2_step_flops(config, batch, seq, Subnetwork::full(subnetwork_shape(config)));
}

/// FLOPs of one forward and backward pass of `subnet` of a Llama `config`. Per active layer with
/// h query heads reading g key/value groups (a group counts when one of its heads is active)
/// and m neurons:
///   Q projection  2·N·C·hd       K and V projections  2·2·N·C·gd
///   QKᵀ and P·V   2·2·B·h·T·T·d  output projection    2·N·hd·C
///   gate, up and down            3·2·N·C·m
/// and the LM head 2·N·C·V once; backward twice the forward, as for GPT-2.
[[nodiscard]] inline StepFlops llama_step_flops(const LlamaConfig& config, std::int64_t batch,
                                                std::int64_t seq, const Subnetwork& subnet) {
  require<value_error>(batch >= 1 && seq >= 1,
                       "llama_step_flops: batch and seq must be >= 1, got ", batch, " and ", seq);
  require<value_error>(subnet.shape() == subnetwork_shape(config),
                       "llama_step_flops: the subnetwork's shape (", subnet.shape().layers, ", ",
                       subnet.shape().heads, ", ", subnet.shape().neurons,
                       ") is not the configuration's (", config.layers, ", ", config.heads, ", ",
                       config.mlp_hidden, ")");
  require<value_error>(config.kv_heads >= 1 && config.heads % config.kv_heads == 0,
                       "llama_step_flops: kv_heads ", config.kv_heads, " does not divide heads ",
                       config.heads);
  subnet.validate("llama_step_flops");
  const std::int64_t N = batch * seq, C = config.width, d = config.head_dim(), V = config.vocab;
  std::int64_t forward = 2 * N * C * V;  // LM head
  for (int l = 0; l < config.layers; ++l) {
    if (!subnet.is_active(l)) continue;
    const auto h = static_cast<std::int64_t>(subnet.heads(l).size());
    const auto m = static_cast<std::int64_t>(subnet.neurons(l).size());
    std::int64_t g = 0, last = -1;
    for (int head : subnet.heads(l)) {
      const std::int64_t group = head / config.group_size();
      if (group != last) ++g;
      last = group;
    }
    forward += 2 * N * C * h * d;                   // Q projection
    forward += 2 * 2 * N * C * g * d;               // K and V projections
    forward += 2 * 2 * batch * h * seq * seq * d;   // scores and weighted sum
    forward += 2 * N * h * d * C;                   // output projection
    forward += 3 * 2 * N * C * m;                   // gate, up, down
  }
  return {forward, 2 * forward};
}

/// FLOPs of one step of the full model.
[[nodiscard]] inline StepFlops llama_step_flops(const LlamaConfig& config, std::int64_t batch,
                                                std::int64_t seq) {
  return llama_step_flops(config, batch, seq, Subnetwork::full(subnetwork_shape(config)));
}

/// The FLOPs of a step for either family, for code written over the configuration type.
[[nodiscard]] inline StepFlops step_flops(const Gpt2Config& config, std::int64_t batch,
                                          std::int64_t seq, const Subnetwork& subnet) {
  return gpt2_step_flops(config, batch, seq, subnet);
}
[[nodiscard]] inline StepFlops step_flops(const LlamaConfig& config, std::int64_t batch,
                                          std::int64_t seq, const Subnetwork& subnet) {
  return llama_step_flops(config, batch, seq, subnet);
}
template <class Config>
[[nodiscard]] StepFlops step_flops(const Config& config, std::int64_t batch, std::int64_t seq) {
  return step_flops(config, batch, seq, Subnetwork::full(subnetwork_shape(config)));
}

/// Running totals of a training run: what the subnetworks cost next to what the full model
/// would have cost, step by step and in all.
class FlopsMeter {
 public:
  void add(const StepFlops& subnetwork, const StepFlops& full) {
    require<value_error>(full.total() > 0 && subnetwork.total() >= 0 &&
                             subnetwork.total() <= full.total(),
                         "FlopsMeter::add: a step of ", subnetwork.total(),
                         " FLOPs against a full step of ", full.total(),
                         " (expected 0 <= subnetwork <= full, full > 0)");
    last_ = subnetwork;
    last_full_ = full;
    total_ += double(subnetwork.total());
    total_full_ += double(full.total());
    ++steps_;
  }

  /// The meter of a checkpoint: its totals and last step, as the accessors below report them.
  [[nodiscard]] static FlopsMeter restore(std::int64_t steps, double total, double total_full,
                                          StepFlops last, StepFlops last_full) {
    require<value_error>(steps >= 0 && total >= 0 && total <= total_full,
                         "FlopsMeter::restore: inconsistent totals (steps ", steps, ", total ",
                         total, ", full ", total_full, ")");
    FlopsMeter m;
    m.steps_ = steps;
    m.total_ = total;
    m.total_full_ = total_full;
    m.last_ = last;
    m.last_full_ = last_full;
    return m;
  }

  [[nodiscard]] std::int64_t steps() const noexcept { return steps_; }
  [[nodiscard]] const StepFlops& last() const noexcept { return last_; }
  [[nodiscard]] const StepFlops& last_full() const noexcept { return last_full_; }
  /// Cumulative FLOPs spent, and what the full model would have spent.
  [[nodiscard]] double total() const noexcept { return total_; }
  [[nodiscard]] double total_full() const noexcept { return total_full_; }
  /// 1 - spent / full, over the whole run and for the last step (0 before any step).
  [[nodiscard]] double saving() const noexcept {
    return total_full_ > 0 ? 1.0 - total_ / total_full_ : 0.0;
  }
  [[nodiscard]] double last_saving() const noexcept {
    return last_full_.total() > 0 ? 1.0 - double(last_.total()) / double(last_full_.total())
                                  : 0.0;
  }

 private:
  StepFlops last_, last_full_;
  double total_ = 0, total_full_ = 0;
  std::int64_t steps_ = 0;
};

}  // namespace est
