#pragma once
// Subnetworks for the model tests.

#include <cstdint>
#include <random>
#include <vector>

#include <est/subnet/sampling.hpp>
#include <est/subnet/subnetwork.hpp>

namespace est::testing {

/// `subnet` with a scale of its own for every active head and neuron, drawn from [0.5, 3)
/// (heads only when `neurons_too` is false).
inline Subnetwork with_unit_scales(const Subnetwork& subnet, std::uint64_t seed,
                                   bool neurons_too = true) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> pick(0.5, 3.0);
  Subnetwork out(subnet.shape());
  for (const int l : subnet.active_layers()) {
    std::vector<int> heads(subnet.heads(l).begin(), subnet.heads(l).end());
    std::vector<int> neurons(subnet.neurons(l).begin(), subnet.neurons(l).end());
    std::vector<double> head_scales, neuron_scales;
    for (std::size_t k = 0; k < heads.size(); ++k) head_scales.push_back(pick(gen));
    if (neurons_too) {
      for (std::size_t k = 0; k < neurons.size(); ++k) neuron_scales.push_back(pick(gen));
    }
    out.activate_layer(l, heads, neurons, head_scales, neuron_scales);
  }
  return out;
}

/// Sixteen subnetworks of `shape` of every kind: skipped layers, few heads, few neurons, and
/// mixtures (sampling::Uniform at five rate triples, two steps each), then four with per-unit
/// scales (two of those, one with scaled heads only, and the full model with every unit
/// scaled), then two whose layers' residual branches are rescaled (Uniform's 1/p_l, and
/// per-unit scales with a different factor on each active layer).
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
  out.push_back(with_unit_scales(out[0], 101));
  out.push_back(with_unit_scales(out[2], 102));
  out.push_back(with_unit_scales(out[5], 103, false));
  out.push_back(with_unit_scales(Subnetwork::full(shape), 104));
  out.push_back(sampling::Uniform(seed++, 1, 1, {.rescale = true}).sample(shape, rates[0], 0));
  Subnetwork scaled = with_unit_scales(out[1], 105);
  double factor = 0.6;
  for (const int l : scaled.active_layers()) scaled.set_layer_scale(l, factor += 0.7);
  out.push_back(scaled);
  return out;
}

}  // namespace est::testing
