#pragma once
// Subnetworks for the model tests.

#include <cstdint>
#include <vector>

#include <est/subnet/sampling.hpp>
#include <est/subnet/subnetwork.hpp>

namespace est::testing {

/// Ten random subnetworks of `shape` of every kind: skipped layers, few heads, few neurons, and
/// mixtures (sampling::Uniform at five rate triples, two steps each).
inline std::vector<Subnetwork> random_subnetworks(const SubnetworkShape& shape) {
  std::vector<Subnetwork> out;
  const Rates rates[] = {{0.67, 0.5, 0.5}, {1, 0.25, 0.75}, {0.34, 1, 0.5}, {0.67, 0.75, 1},
                         {0.34, 0.25, 0.1}};
  std::uint64_t seed = 11;
  for (const auto& r : rates) {
    for (int step = 0; step < 2; ++step) {
      out.push_back(sampling::Uniform(seed++).sample(shape, r, step));
    }
  }
  return out;
}

}  // namespace est::testing
