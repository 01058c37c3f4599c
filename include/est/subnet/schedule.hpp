#pragma once
// Evolving subnetwork training's schedule: a growth policy gives the rates of each step, a
// sampling policy draws the subnetwork at those rates. The result is checked before it reaches
// the model, so a policy that returns something invalid is named in the error and no parameter
// has been touched.
//
//   est::SubnetworkSchedule schedule(shape, est::sampling::Uniform(seed),
//                                    est::growth::ThreeStage(total_steps));
//   const est::Subnetwork subnet = schedule.at(step);   // the same for every rank and resume

#include <cstdint>
#include <string>
#include <utility>

#include "est/subnet/growth.hpp"
#include "est/subnet/sampling.hpp"
#include "est/subnet/subnetwork.hpp"

namespace est {

/// Evolving subnetwork training's schedule: the growth policy gives the rates of each step, the
/// sampling policy draws the subnetwork at those rates, and at() checks the result before it
/// reaches the model, so that a policy returning something invalid is named in the error and no
/// parameter has been touched.
///
///     est::SubnetworkSchedule schedule(shape, est::sampling::Uniform(seed),
///                                      est::growth::ThreeStage(total_steps));
///     const est::Subnetwork subnet = schedule.at(step);  // the same for every rank and resume
///
/// `Sampling` must satisfy est::SamplingPolicy and `Growth` est::GrowthPolicy (checked by a
/// static_assert that names what is missing).
template <class Sampling, class Growth>
class SubnetworkSchedule {
  static_assert(SamplingPolicy<Sampling>,
                "SubnetworkSchedule: the sampling policy must satisfy est::SamplingPolicy: a const "
                "member sample(const SubnetworkShape&, const Rates&, std::int64_t) returning "
                "est::Subnetwork, and name() returning something convertible to std::string_view");
  static_assert(GrowthPolicy<Growth>,
                "SubnetworkSchedule: the growth policy must satisfy est::GrowthPolicy: a const "
                "member rates(std::int64_t) returning est::Rates, and name() returning something "
                "convertible to std::string_view");

 public:
  using sampling_type = Sampling;  ///< The sampling policy.
  using growth_type = Growth;      ///< The growth policy.

  /// Subnetworks of `shape` (the model's: subnetwork_shape() of its configuration) drawn by
  /// `sampling` at the rates of `growth`. Throws value_error when a size of `shape` is below 1.
  SubnetworkSchedule(SubnetworkShape shape, Sampling sampling, Growth growth)
      : shape_(shape), sampling_(std::move(sampling)), growth_(std::move(growth)) {
    (void)Subnetwork(shape);  // checks the shape
  }

  /// The growth policy's rates of `step`; throws value_error naming the policy when a rate is
  /// outside (0, 1] (and whatever the policy throws, such as value_error for a negative step).
  [[nodiscard]] Rates rates(std::int64_t step) const {
    const Rates r = growth_.rates(step);
    check_rates(r, growth_.name());
    return r;
  }

  /// The subnetwork that trains at `step`, drawn at rates(`step`) (whose errors pass through).
  /// Throws value_error naming the sampling policy and the step when the policy throws
  /// value_error itself or returns a subnetwork of another shape, with no active layer, an empty
  /// set, an index out of range or twice, or a scale that is not finite and > 0.
  [[nodiscard]] Subnetwork at(std::int64_t step) const {
    const Rates r = rates(step);
    Subnetwork s;
    try {
      s = sampling_.sample(shape_, r, step);
    } catch (const value_error& e) {
      // Name the policy and the step once, whether or not the policy named itself.
      std::string what = e.what();
      const std::string name(sampling_.name());
      if (what.starts_with(name + ": ")) what.erase(0, name.size() + 2);
      throw value_error(name + " at step " + std::to_string(step) + ": " + what);
    }
    const std::string source = std::string(sampling_.name()) + " at step " + std::to_string(step);
    require<value_error>(s.shape() == shape_, source, ": returned a subnetwork of shape (",
                         s.shape().layers, ", ", s.shape().heads, ", ", s.shape().neurons,
                         "), expected (", shape_.layers, ", ", shape_.heads, ", ", shape_.neurons,
                         ")");
    s.validate(source);
    return s;
  }

  /// The shape every subnetwork is drawn from.
  [[nodiscard]] const SubnetworkShape& shape() const noexcept { return shape_; }
  /// The sampling policy.
  [[nodiscard]] const Sampling& sampling() const noexcept { return sampling_; }
  /// The sampling policy itself, for one that learns from training (the trainer's observe
  /// hook and checkpoints).
  [[nodiscard]] Sampling& sampling() noexcept { return sampling_; }
  /// The growth policy.
  [[nodiscard]] const Growth& growth() const noexcept { return growth_; }

 private:
  SubnetworkShape shape_;
  Sampling sampling_;
  Growth growth_;
};

}  // namespace est
