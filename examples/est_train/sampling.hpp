#pragma once
// The sampling policy of an est-train run, chosen at run time by name (--sampling). est-train
// knows sampling::Uniform ("uniform", the paper's) and sampling::Importance ("importance":
// gradient-magnitude weights, Horvitz–Thompson scales); a program that embeds est-train
// (program.hpp) can register policies of its own under new names — docs/manual/guides/
// custom-sampling.md walks through one.
//
// RunSampling holds any policy behind one type, so that each preset has one Trainer whatever the
// policy; it forwards the observing members (observe, state, restore) to policies that have them.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <est/subnet/sampling.hpp>

#include "run_config.hpp"

namespace est_train {

/// Any est::SamplingPolicy (observing or not), held by value behind one type.
class RunSampling {
 public:
  using State = std::map<std::string, std::vector<double>>;

  template <est::SamplingPolicy Policy>
  explicit RunSampling(Policy policy)
      : policy_(std::make_unique<Holder<Policy>>(std::move(policy))) {}
  RunSampling(const RunSampling& other) : policy_(other.policy_->clone()) {}
  RunSampling& operator=(const RunSampling& other) {
    if (this != &other) policy_ = other.policy_->clone();
    return *this;
  }
  RunSampling(RunSampling&&) noexcept = default;
  RunSampling& operator=(RunSampling&&) noexcept = default;
  ~RunSampling() = default;

  [[nodiscard]] est::Subnetwork sample(const est::SubnetworkShape& shape, const est::Rates& rates,
                                       std::int64_t step) const {
    return policy_->sample(shape, rates, step);
  }
  [[nodiscard]] std::string_view name() const { return policy_->name(); }
  void observe(std::int64_t step, const est::Subnetwork& trained, const est::UnitGradients& norms) {
    policy_->observe(step, trained, norms);
  }
  [[nodiscard]] State state() const { return policy_->state(); }
  void restore(const State& state) { policy_->restore(state); }

 private:
  struct Interface {
    virtual ~Interface() = default;
    [[nodiscard]] virtual std::unique_ptr<Interface> clone() const = 0;
    [[nodiscard]] virtual est::Subnetwork sample(const est::SubnetworkShape&, const est::Rates&,
                                                 std::int64_t) const = 0;
    [[nodiscard]] virtual std::string_view name() const = 0;
    virtual void observe(std::int64_t, const est::Subnetwork&, const est::UnitGradients&) = 0;
    [[nodiscard]] virtual State state() const = 0;
    virtual void restore(const State&) = 0;
  };
  template <class Policy>
  struct Holder final : Interface {
    explicit Holder(Policy p) : policy(std::move(p)) {}
    [[nodiscard]] std::unique_ptr<Interface> clone() const override {
      return std::make_unique<Holder>(policy);
    }
    [[nodiscard]] est::Subnetwork sample(const est::SubnetworkShape& shape,
                                         const est::Rates& rates, std::int64_t step) const override {
      return policy.sample(shape, rates, step);
    }
    [[nodiscard]] std::string_view name() const override { return policy.name(); }
    void observe(std::int64_t step, const est::Subnetwork& trained,
                 const est::UnitGradients& norms) override {
      if constexpr (est::ObservingSamplingPolicy<Policy>) policy.observe(step, trained, norms);
    }
    [[nodiscard]] State state() const override {
      if constexpr (est::ObservingSamplingPolicy<Policy>) return policy.state();
      return {};
    }
    void restore(const State& state) override {
      if constexpr (est::ObservingSamplingPolicy<Policy>) {
        policy.restore(state);
      } else {
        est::require<est::value_error>(state.empty(), policy.name(), " keeps no state, but the "
                                       "checkpoint holds some (a run with another sampling policy)");
      }
    }
    Policy policy;
  };
  std::unique_ptr<Interface> policy_;
};

static_assert(est::ObservingSamplingPolicy<RunSampling>);

/// The layer options of --sampling uniform: --pin-layers and --layer-draw.
inline est::sampling::LayerDraw layer_draw_of(const RunConfig& run) {
  using est::sampling::LayerDraw;
  est::require<est::value_error>(run.layer_draw == "exact" || run.layer_draw == "bernoulli",
                                 "--layer-draw: expected exact or bernoulli, got '",
                                 run.layer_draw, "'");
  est::require<est::value_error>(run.pin_layers == "none" || run.pin_layers == "first" ||
                                     run.pin_layers == "last" || run.pin_layers == "both",
                                 "--pin-layers: expected none, first, last or both, got '",
                                 run.pin_layers, "'");
  return {.count = run.layer_draw == "bernoulli" ? LayerDraw::Count::bernoulli
                                                 : LayerDraw::Count::exact,
          .pin_first = run.pin_layers == "first" || run.pin_layers == "both",
          .pin_last = run.pin_layers == "last" || run.pin_layers == "both",
          .rescale = run.rescale_layers};
}

/// The sampling policies a program knows, by the name --sampling gives. A factory builds the
/// policy of a run from its configuration (seed, --granularity, ...) and `head_group`: the number
/// of consecutive query heads --head-sampling asks to be drawn together (1, or a Llama's query
/// heads per key/value group with kv-groups).
class SamplingRegistry {
 public:
  using Factory = std::function<RunSampling(const RunConfig& run, int head_group)>;

  /// est-train's own: "uniform" (sampling::Uniform) and "importance" (sampling::Importance).
  [[nodiscard]] static SamplingRegistry builtin() {
    SamplingRegistry r;
    r.add("uniform", [](const RunConfig& run, int head_group) {
      return RunSampling(
          est::sampling::Uniform(run.seed, run.granularity, head_group, layer_draw_of(run)));
    });
    r.add("importance", [](const RunConfig& run, int head_group) {
      est::require<est::value_error>(run.pin_layers == "none" && run.layer_draw == "exact" &&
                                         !run.rescale_layers,
                                     "--pin-layers, --layer-draw and --rescale-layers apply to "
                                     "--sampling uniform (importance draws layers as uniform's "
                                     "default)");
      return RunSampling(est::sampling::Importance(run.seed, run.importance_share,
                                                   run.importance_decay, head_group));
    });
    return r;
  }

  /// Registers `factory` as --sampling `name`; throws value_error when the name is taken or is
  /// not a plain word (letters, digits, '-' and '_').
  void add(const std::string& name, Factory factory) {
    bool plain = !name.empty() && name.size() <= 64;
    for (const char c : name) {
      plain = plain && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '-' || c == '_');
    }
    est::require<est::value_error>(plain, "sampling policy name '", name, "': expected letters, "
                                   "digits, '-' and '_' (at most 64)");
    est::require<est::value_error>(factories_.count(name) == 0, "a sampling policy named '", name,
                                   "' is already registered");
    est::require<est::value_error>(static_cast<bool>(factory), "sampling policy '", name,
                                   "': empty factory");
    factories_.emplace(name, std::move(factory));
  }

  /// The policy of `run` (its --sampling); throws value_error naming the known policies when
  /// the name is not registered.
  [[nodiscard]] RunSampling make(const RunConfig& run, int head_group) const {
    const auto it = factories_.find(run.sampling);
    est::require<est::value_error>(it != factories_.end(), "--sampling: expected ", names(),
                                   ", got '", run.sampling, "'");
    return it->second(run, head_group);
  }

  [[nodiscard]] bool contains(const std::string& name) const { return factories_.count(name) > 0; }

  /// The registered names, "a, b or c".
  [[nodiscard]] std::string names() const {
    std::string out;
    std::size_t i = 0;
    for (const auto& [name, factory] : factories_) {
      if (i > 0) out += (i + 1 == factories_.size()) ? " or " : ", ";
      out += name;
      ++i;
    }
    return out;
  }

 private:
  std::map<std::string, Factory> factories_;
};

}  // namespace est_train
