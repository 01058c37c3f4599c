// Must not compile: a sampling policy whose sample() returns something other than a Subnetwork.
#include <est/subnet/schedule.hpp>

struct NotAPolicy {
  int sample(const est::SubnetworkShape&, const est::Rates&, std::int64_t) const { return 0; }
  std::string_view name() const { return "NotAPolicy"; }
};

void instantiate() {
  [[maybe_unused]] est::SubnetworkSchedule<NotAPolicy, est::growth::Constant> schedule(
      {1, 1, 1}, NotAPolicy{}, est::growth::Constant());
}
