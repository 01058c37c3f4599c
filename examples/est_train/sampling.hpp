#pragma once
// The sampling policy of an est-train run, chosen at run time (--sampling): sampling::Uniform
// (the paper's) or sampling::Importance (gradient-magnitude weights, Horvitz–Thompson scales).
// One type for both keeps one Trainer per preset; it forwards the observing members, which
// Uniform does not need (its state is empty).

#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <est/subnet/sampling.hpp>

namespace est_train {

class RunSampling {
 public:
  using Policy = std::variant<est::sampling::Uniform, est::sampling::Importance>;

  explicit RunSampling(Policy policy) : policy_(std::move(policy)) {}

  [[nodiscard]] est::Subnetwork sample(const est::SubnetworkShape& shape, const est::Rates& rates,
                                       std::int64_t step) const {
    return std::visit([&](const auto& p) { return p.sample(shape, rates, step); }, policy_);
  }
  [[nodiscard]] std::string_view name() const {
    return std::visit([](const auto& p) { return p.name(); }, policy_);
  }
  void observe(std::int64_t step, const est::Subnetwork& trained, const est::UnitGradients& norms) {
    if (auto* p = std::get_if<est::sampling::Importance>(&policy_)) p->observe(step, trained, norms);
  }
  [[nodiscard]] std::map<std::string, std::vector<double>> state() const {
    if (const auto* p = std::get_if<est::sampling::Importance>(&policy_)) return p->state();
    return {};
  }
  void restore(const std::map<std::string, std::vector<double>>& state) {
    if (auto* p = std::get_if<est::sampling::Importance>(&policy_)) {
      p->restore(state);
    } else {
      est::require<est::value_error>(state.empty(), name(), " keeps no state, but the "
                                     "checkpoint holds some (a run with another sampling policy)");
    }
  }

 private:
  Policy policy_;
};

static_assert(est::ObservingSamplingPolicy<RunSampling>);

}  // namespace est_train
