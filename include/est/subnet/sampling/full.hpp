#pragma once
// The baseline's sampling policy: the full model at every step.

#include <cstdint>
#include <string_view>

#include "est/subnet/growth.hpp"
#include "est/subnet/sampling/policy.hpp"
#include "est/subnet/subnetwork.hpp"

namespace est::sampling {

/// Everything active at every step, whatever the rates: plain training through the EST path.
struct Full {
  /// Subnetwork::full(`shape`), ignoring the rates and the step.
  [[nodiscard]] Subnetwork sample(const SubnetworkShape& shape, const Rates&,
                                  std::int64_t) const {
    return Subnetwork::full(shape);
  }
  /// "sampling::Full".
  [[nodiscard]] std::string_view name() const noexcept { return "sampling::Full"; }
};

}  // namespace est::sampling

namespace est {
static_assert(SamplingPolicy<sampling::Full>);
}  // namespace est
