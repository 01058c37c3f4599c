#pragma once
// The slice plan of a subnetwork that keeps only layer 0, with the given heads and neurons (all
// of them when a list is empty): what the half-block benchmarks hand the sliced blocks.

#include <numeric>
#include <vector>

#include <est/models/family.hpp>
#include <est/subnet/slice_plan.hpp>
#include <est/subnet/subnetwork.hpp>

namespace est_bench {

template <class Config>
est::SlicePlan layer0_plan(const Config& config, std::vector<int> heads,
                           std::vector<int> neurons) {
  const est::SubnetworkShape shape = est::subnetwork_shape(config);
  if (heads.empty()) {
    heads.resize(std::size_t(shape.heads));
    std::iota(heads.begin(), heads.end(), 0);
  }
  if (neurons.empty()) {
    neurons.resize(std::size_t(shape.neurons));
    std::iota(neurons.begin(), neurons.end(), 0);
  }
  est::Subnetwork subnet(shape);
  subnet.activate_layer(0, std::move(heads), std::move(neurons));
  return est::slice_plan(config, subnet);
}

}  // namespace est_bench
