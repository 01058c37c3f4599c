#pragma once
// The training loop: one call to step() is one optimizer step of evolving subnetwork training.
//
//   subnetwork = schedule.at(step)                    (the same for every micro-batch)
//   for each micro-batch: forward(tokens, targets, subnetwork, 1 / micro_batches); backward()
//   norm = clip_grad_norm(gradients, grad_clip)       (pre-clip norm, PyTorch's definition)
//   if the loss or the norm is not finite: skip the update (or stop, by option)
//   else AdamW with the subnetwork's active mask, at lr(step); and a sampling policy that
//        learns from training (ObservingSamplingPolicy) observes the trained units' gradients
//
// Batches and subnetworks are pure functions of (seed, step), and the learning rate of the
// step, so the trainer's whole state is the model, the optimizer, the step and a few counters:
// a checkpoint of those resumes bit for bit (train/checkpoint.hpp). Evaluation runs the full
// model on the fixed validation batches.

#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <span>
#include <type_traits>
#include <utility>

#include "est/core/context.hpp"
#include "est/core/error.hpp"
#include "est/data/batches.hpp"
#include "est/dist/communicator.hpp"
#include "est/dist/gradient_reduction.hpp"
#include "est/dist/replica_check.hpp"
#include "est/models/family.hpp"
#include "est/subnet/flops.hpp"
#include "est/subnet/sampling/policy.hpp"
#include "est/subnet/schedule.hpp"
#include "est/subnet/slice_plan.hpp"
#include "est/subnet/unit_gradients.hpp"
#include "est/ops/norm.hpp"
#include "est/train/adamw.hpp"
#include "est/train/lr_schedule.hpp"

namespace est {

/// What a step with a non-finite loss or gradient norm does: skip the update (the default;
/// counted and reported) or stop the run with an est::value_error.
enum class OnNonFinite {
  skip,  ///< Leave the weights and optimizer as they are and go on with the next step.
  stop   ///< Throw value_error from Trainer::step().
};

/// How the trainer runs a step; the constructor throws value_error for a value out of range.
struct TrainerOptions {
  /// Gradient accumulation: micro-batches per optimizer step, >= 1. Each is one batch of the
  /// training sampler, its loss scaled by 1 / micro_batches so the gradients average.
  int micro_batches = 1;
  /// Global gradient-norm limit, finite and >= 0; 0 turns clipping off.
  double grad_clip = 1.0;
  OnNonFinite on_non_finite = OnNonFinite::skip;  ///< What a non-finite step does.
  /// Under `skip`, the run stops anyway (value_error) at the step that makes this many
  /// non-finite steps in a row; >= 1.
  int max_consecutive_non_finite = 10;
  /// Validation batches per evaluation, >= 1 (at most what the split holds are used).
  Index eval_batches = 8;
  /// Data parallelism (set_communicator()): every this many steps the ranks compare
  /// fingerprints of their weights and stop with value_error naming the step if they differ;
  /// >= 0, 0 turns the check off.
  std::int64_t replica_check_interval = 100;
};

/// What one optimizer step did.
struct StepReport {
  std::int64_t step = 0;      ///< The step just taken (0-based).
  double loss = 0;            ///< Mean training loss over the micro-batches.
  double lr = 0;              ///< The learning rate of the step.
  double grad_norm = 0;       ///< Global gradient 2-norm, before clipping.
  bool skipped = false;       ///< Non-finite loss or norm: no update.
  int active_layers = 0;      ///< Layers of the step's subnetwork.
  double active_heads = 0;    ///< Active heads per active layer, on average.
  double active_neurons = 0;  ///< Active MLP neurons per active layer, on average.
  StepFlops flops;            ///< What the step computed (a skipped step included).
  StepFlops full_flops;       ///< What the full model would have computed.
  double seconds = 0;         ///< Wall-clock time of the step.
  /// Data parallelism: bytes this rank all-reduced in the step (the active gradients and the
  /// loss); 0 in a world of one.
  std::uint64_t reduced_bytes = 0;
  /// Data parallelism: seconds of the step spent in those all-reduces (packing included).
  double reduce_seconds = 0;
};

/// The training loop of evolving subnetwork training: one call to step() is one optimizer step.
///
///     subnetwork = schedule.at(step)                (the same for every micro-batch)
///     for each micro-batch: forward(tokens, targets, subnetwork, 1 / micro_batches); backward()
///     norm = clip_grad_norm(gradients, grad_clip)   (pre-clip norm, PyTorch's definition)
///     if the loss or the norm is not finite: skip the update (or stop, by option)
///     else AdamW with the subnetwork's active mask, at lr(step); and a sampling policy that
///          learns from training (ObservingSamplingPolicy) observes the trained units' gradients
///
/// Data parallelism (set_communicator()): every rank takes its rows of the global batch, the
/// step's active gradients are summed over the ranks before clipping, and each rank applies the
/// same update (dist/).
///
/// Batches and subnetworks are pure functions of (seed, step) (and of a learning sampling
/// policy's state), and so is the learning rate, so the trainer's whole state is the model, the
/// optimizer, the step, a few counters and that policy state: a checkpoint of those
/// (save_checkpoint(), load_checkpoint()) resumes bit for bit.
///
/// `Model` is a model of one of est's families (est::Gpt2, est::Llama); `Sampling` and `Growth`
/// satisfy est::SamplingPolicy and est::GrowthPolicy; `Schedule` is a learning-rate schedule
/// (an est::lr type, or any type whose `at(std::int64_t step) const` returns the rate of the
/// 0-based step as a pure function of it); `Source` is the token source of the batch samplers.
template <class Model, class Sampling, class Growth, class Schedule, TokenSource Source>
class Trainer {
 public:
  using scalar_type = typename Model::scalar_type;  ///< The parameters' scalar type.
  using device_type = typename Model::device_type;  ///< Where the model lives (cpu or cuda).
  using sampling_type = Sampling;                   ///< The sampling policy.
  static constexpr auto config = Model::config;  ///< A ModelConfig (Gpt2Config, LlamaConfig).

  /// The model, context and samplers must outlive the trainer.
  /// On a GPU the model, gradients, optimizer state and the active mask stay on the device;
  /// batches and subnetworks are drawn on the host. The optimizer starts from zero moments over
  /// the model's parameter specs. Throws value_error when an option is out of range or the
  /// schedule's shape is not the model's (layers, heads, mlp_hidden).
  Trainer(Model& model, const Context<device_type>& ctx,
          SubnetworkSchedule<Sampling, Growth> subnetworks,
          Schedule lr, const BatchSampler<Source>& train, const BatchSampler<Source>& val,
          TrainerOptions options = {}, AdamWConfig adamw = {})
      : model_(&model), ctx_(&ctx), subnetworks_(std::move(subnetworks)), lr_(std::move(lr)),
        train_(&train), val_(&val), options_(options),
        optimizer_(model.parameter_specs(), adamw),
        tokens_({train.batch(), train.seq()}), targets_({train.batch(), train.seq()}),
        val_tokens_({val.batch(), val.seq()}), val_targets_({val.batch(), val.seq()}),
        mask_({config.parameter_count()}) {
    require<value_error>(options.micro_batches >= 1, "Trainer: micro_batches must be >= 1, got ",
                         options.micro_batches);
    require<value_error>(std::isfinite(options.grad_clip) && options.grad_clip >= 0,
                         "Trainer: grad_clip must be finite and >= 0 (0 = off), got ",
                         options.grad_clip);
    require<value_error>(options.max_consecutive_non_finite >= 1,
                         "Trainer: max_consecutive_non_finite must be >= 1, got ",
                         options.max_consecutive_non_finite);
    require<value_error>(options.eval_batches >= 1, "Trainer: eval_batches must be >= 1, got ",
                         options.eval_batches);
    require<value_error>(options.replica_check_interval >= 0, "Trainer: replica_check_interval "
                         "must be >= 0 (0 = off), got ", options.replica_check_interval);
    require<value_error>(subnetworks_.shape() == subnetwork_shape(config),
                         "Trainer: the schedule's subnetwork shape does not match the model's "
                         "(layers, heads, mlp_hidden)");
    full_flops_ = step_flops(config, options.micro_batches * train.batch(), train.seq());
  }

  /// One optimizer step (see the class description); returns what it did. A step whose loss or
  /// gradient norm is not finite leaves the weights and the optimizer as they were and still
  /// counts as a step (steps_done(), non_finite_steps(), flops()). Throws value_error when the
  /// schedule cannot give the step's subnetwork (before anything changes), when a non-finite
  /// step meets OnNonFinite::stop or reaches `max_consecutive_non_finite` in a row (then
  /// non_finite_steps() counts it but steps_done() does not advance), and passes on what the
  /// model, the samplers, the optimizer and the sampling policy throw.
  StepReport step() {
    const auto start = std::chrono::steady_clock::now();
    StepReport r;
    r.step = step_;
    const Subnetwork subnet = subnetworks_.at(step_);  // checked before anything changes
    r.lr = lr_.at(step_);
    model_->zero_grad();
    // Each rank's loss is scaled so that the sum of the ranks' gradients is the mean over the
    // global batch of micro_batches x B windows.
    const int ranks = world_size();
    const auto micro = static_cast<scalar_type>(1.0 / (double(options_.micro_batches) * ranks));
    const Index first_row = comm_ ? comm_->rank() * tokens_.shape()[0] : 0;
    double loss = 0;
    for (int m = 0; m < options_.micro_batches; ++m) {
      train_->train_rows(step_, m, first_row, tokens_, targets_);
      loss += double(model_->forward(tokens_.view(), targets_.view(), subnet, micro));
      model_->backward();
      if (after_backward_) after_backward_(step_, model_->gradient_arena());
    }
    // What the step's subnetwork means for each parameter: built once, read by the gradient
    // reduction, the mask writer and the sampling policy's observation.
    std::optional<SlicePlan> plan;
    if (!subnet.is_full() || ObservingSamplingPolicy<Sampling>) plan = slice_plan(config, subnet);
    if constexpr (std::is_same_v<device_type, cpu>) {
      if (ranks > 1) {
        const auto reduce_start = std::chrono::steady_clock::now();
        const std::uint64_t before = comm_->reduced_bytes();
        comm_->all_reduce_sum(std::span<double>(&loss, 1));
        if (plan && !subnet.is_full()) {
          reducer_.reduce_active(*comm_, *plan, model_->gradient_arena());
        } else {
          reducer_.reduce_all(*comm_, model_->gradient_arena());
        }
        r.reduced_bytes = comm_->reduced_bytes() - before;
        r.reduce_seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - reduce_start).count();
      }
    }
    r.loss = loss / (double(options_.micro_batches) * ranks);
    r.grad_norm = options_.grad_clip > 0
                      ? clip_grad_norm<scalar_type>(*ctx_, model_->gradient_arena(), options_.grad_clip)
                      : global_norm<scalar_type>(*ctx_, model_->gradient_arena());
    r.skipped = !std::isfinite(r.loss) || !std::isfinite(r.grad_norm);
    consecutive_non_finite_ = r.skipped ? consecutive_non_finite_ + 1 : 0;
    if (r.skipped) {
      ++non_finite_steps_;
      require<value_error>(options_.on_non_finite == OnNonFinite::skip, "Trainer: step ", step_,
                           " has a non-finite loss (", r.loss, ") or gradient norm (",
                           r.grad_norm, "); stopping as on_non_finite = stop asks");
      require<value_error>(consecutive_non_finite_ < options_.max_consecutive_non_finite,
                           "Trainer: ", consecutive_non_finite_,
                           " steps in a row had a non-finite loss or gradient norm (the last, step ",
                           step_, ": loss ", r.loss, ", norm ", r.grad_norm,
                           "); stopping: the weights or the data are broken");
    } else if (!plan) {
      optimizer_.step(*ctx_, model_->parameter_arena(), model_->gradient_arena(), r.lr);
    } else {
      if (subnet.is_full()) {
        optimizer_.step(*ctx_, model_->parameter_arena(), model_->gradient_arena(), r.lr);
      } else {
        // Mixed: zero-grad inside the active layers, so the mask marks them whole.
        write_active_mask(*ctx_,
                          optimizer_.config().inactive == InactiveParameters::mixed
                              ? plan->whole_layers()
                              : *plan,
                          mask_.view());
        optimizer_.step(*ctx_, model_->parameter_arena(), model_->gradient_arena(), r.lr, mask_);
      }
      if constexpr (ObservingSamplingPolicy<Sampling>) observe(subnet, *plan);
    }
    describe(subnet, r);
    const Index tokens = options_.micro_batches * train_->batch();
    r.flops = step_flops(config, tokens, train_->seq(), subnet);
    r.full_flops = full_flops_;
    flops_.add(r.flops, r.full_flops);
    ++step_;
    if (ranks > 1 && options_.replica_check_interval > 0 &&
        step_ % options_.replica_check_interval == 0) {
      check_replicas();
    }
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return r;
  }

  /// Mean validation loss of the full model over the first eval_batches fixed batches. With a
  /// communicator, rank r evaluates batches r, r + N, ... and the sum is all-reduced (a
  /// collective: every rank calls it).
  double evaluate() {
    const Index n = std::min(options_.eval_batches, val_->validation_batches());
    const int ranks = world_size();
    double sum = 0;
    for (Index i = comm_ ? comm_->rank() : 0; i < n; i += ranks) {
      val_->validation_batch(i, val_tokens_, val_targets_);
      sum += double(model_->evaluate(val_tokens_.view(), val_targets_.view()));
    }
    if (ranks > 1) comm_->all_reduce_sum(std::span<double>(&sum, 1));
    return sum / double(n);
  }

  /// Data parallelism: trains as one rank of `comm` (which must outlive the trainer), before
  /// the first step. Each rank draws its own B / N rows of every micro-batch of the global
  /// batch (BatchSampler::train_rows()), the gradients of the step's active slices are summed
  /// over the ranks before clipping, and every rank applies the same update, so the weights
  /// stay identical without being sent (checked every `replica_check_interval` steps). The
  /// ranks must start from the same weights and optimizer state. Throws value_error unless N
  /// divides the training sampler's batch B; data parallelism needs the CPU (a GPU world
  /// needs NCCL, which est does not have yet).
  void set_communicator(Communicator& comm) {
    require<value_error>(std::is_same_v<device_type, cpu>, "Trainer::set_communicator: data "
                         "parallelism runs on the CPU only in this release");
    require<value_error>(train_->batch() % comm.size() == 0, "Trainer: the batch of ",
                         train_->batch(), " windows does not split evenly over ", comm.size(),
                         " ranks (choose a batch that is a multiple of the rank count)");
    comm_ = &comm;
    const Index rows = train_->batch() / comm.size();
    tokens_ = Tensor<std::int32_t>({rows, train_->seq()});
    targets_ = Tensor<std::int32_t>({rows, train_->seq()});
  }

  /// The communicator of set_communicator(), or null (a world of one).
  [[nodiscard]] Communicator* communicator() const noexcept { return comm_; }

  /// Data parallelism: throws value_error, naming the step, unless every rank holds the same
  /// weights (check_replicas()); nothing in a world of one. A collective.
  void check_replicas() {
    if (world_size() == 1) return;
    if constexpr (std::is_same_v<device_type, cpu>) {
      est::check_replicas<scalar_type>(*comm_, model_->parameter_arena(), step_);
    }
  }

  /// Steps taken so far (the next step's index).
  [[nodiscard]] std::int64_t steps_done() const noexcept { return step_; }
  /// Steps skipped for a non-finite loss or gradient norm so far.
  [[nodiscard]] std::int64_t non_finite_steps() const noexcept { return non_finite_steps_; }
  /// FLOPs of the steps taken so far, next to what the full model would have cost.
  [[nodiscard]] const FlopsMeter& flops() const noexcept { return flops_; }
  /// The optimizer (its state is what checkpoints save and restore).
  [[nodiscard]] AdamW<scalar_type, device_type>& optimizer() noexcept { return optimizer_; }
  /// The subnetwork schedule: growth and sampling policies.
  [[nodiscard]] const SubnetworkSchedule<Sampling, Growth>& subnetworks() const noexcept {
    return subnetworks_;
  }
  /// The subnetwork schedule, mutable (a learning sampling policy's state is restored here).
  [[nodiscard]] SubnetworkSchedule<Sampling, Growth>& subnetworks() noexcept {
    return subnetworks_;
  }
  /// The model the trainer updates.
  [[nodiscard]] Model& model() noexcept { return *model_; }

  /// Restores the counters of a checkpoint (the model and optimizer are restored separately).
  /// Throws value_error as check_restore() does.
  void restore(std::int64_t steps_done, std::int64_t non_finite_steps, const FlopsMeter& flops) {
    check_restore(steps_done, non_finite_steps);
    step_ = steps_done;
    non_finite_steps_ = non_finite_steps;
    flops_ = flops;
  }

  /// Throws value_error unless restore() would accept these counters.
  static void check_restore(std::int64_t steps_done, std::int64_t non_finite_steps) {
    require<value_error>(steps_done >= 0 && non_finite_steps >= 0 && non_finite_steps <= steps_done,
                         "Trainer::restore: steps_done ", steps_done, " and non_finite_steps ",
                         non_finite_steps, " are inconsistent");
  }

  /// Test hook: called after every backward with the step and the gradient arena (tests use it
  /// to inject non-finite gradients).
  void set_after_backward(
      std::function<void(std::int64_t, TensorView<scalar_type, device_type>)> hook) {
    after_backward_ = std::move(hook);
  }

 private:
  /// Hands a learning sampling policy the gradient norms of the units the step trained (after
  /// clipping, which scales every unit alike). On a GPU the gradients are read on the host.
  void observe(const Subnetwork& subnet, const SlicePlan& plan) {
    UnitGradients norms;
    if constexpr (std::is_same_v<device_type, cpu>) {
      norms = unit_gradient_norms<scalar_type>(plan, subnet.shape(), model_->gradient_arena());
    } else {
      const auto host = to_host(*ctx_, model_->gradient_arena());  // (P) on the host
      norms = unit_gradient_norms<scalar_type>(
          plan, subnet.shape(), ConstView<scalar_type>(host.data(), {Index(host.size())}));
    }
    subnetworks_.sampling().observe(step_, subnet, norms);
  }

  [[nodiscard]] int world_size() const noexcept { return comm_ ? comm_->size() : 1; }

  static void describe(const Subnetwork& s, StepReport& r) {
    r.active_layers = s.active_layer_count();
    double heads = 0, neurons = 0;
    for (int l : s.active_layers()) {
      heads += double(s.heads(l).size());
      neurons += double(s.neurons(l).size());
    }
    r.active_heads = heads / r.active_layers;
    r.active_neurons = neurons / r.active_layers;
  }

  Model* model_;
  const Context<device_type>* ctx_;
  SubnetworkSchedule<Sampling, Growth> subnetworks_;
  Schedule lr_;
  const BatchSampler<Source>* train_;
  const BatchSampler<Source>* val_;
  TrainerOptions options_;
  AdamW<scalar_type, device_type> optimizer_;
  Tensor<std::int32_t> tokens_, targets_;          // (B, T) training micro-batch
  Tensor<std::int32_t> val_tokens_, val_targets_;  // (B, T) validation batch
  Tensor<std::uint8_t, device_type> mask_;         // (parameter_count) active elements
  StepFlops full_flops_;                           // of the full model, for every step
  FlopsMeter flops_;
  std::int64_t step_ = 0;
  std::int64_t non_finite_steps_ = 0;
  int consecutive_non_finite_ = 0;
  std::function<void(std::int64_t, TensorView<scalar_type, device_type>)> after_backward_;
  Communicator* comm_ = nullptr;           // data parallelism; null: a world of one
  GradientReducer<scalar_type> reducer_;   // packs the active gradients for the all-reduce
};

}  // namespace est
