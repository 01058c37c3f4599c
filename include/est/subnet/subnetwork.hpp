#pragma once
// The subnetwork that trains at one optimizer step: which layers run, and in each running layer
// which attention heads and which MLP neurons, each with the factor its output is scaled by. A
// skipped layer is the identity on the residual stream; an active layer's attention sums its
// active heads, head i scaled by s_i, and its MLP its active neurons, neuron j scaled by s_j
// (see models/gpt2/block.hpp). By default s = H/|heads| for every head and M/|neurons| for every
// neuron, which keeps the sum an unbiased estimate of the full layer's when every head (neuron)
// is equally likely to be drawn; a sampling policy that draws units with unequal probabilities
// sets per-unit scales (1/π_i, Horvitz–Thompson) to keep it unbiased.
//
// A Subnetwork is a plain value: build it with activate_layer() (or full()), then validate() it.
// Index lists are kept sorted (with their scales), so two subnetworks with the same sets compare
// equal and have the same digest whatever order the indices were given in.

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <ostream>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "est/core/error.hpp"

namespace est {

/// The sizes a subnetwork is drawn from: L layers, H heads and M MLP neurons per layer.
struct SubnetworkShape {
  int layers = 0;   ///< L: transformer layers (blocks).
  int heads = 0;    ///< H: attention (query) heads per layer.
  int neurons = 0;  ///< M: MLP hidden neurons per layer.
  friend bool operator==(const SubnetworkShape&, const SubnetworkShape&) = default;
};

/// The subnetwork that trains at one optimizer step: which layers run, and in each running
/// layer which attention heads and which MLP neurons, each with the factor its output is scaled
/// by. A skipped layer is the identity on the residual stream; an active layer's attention sums
/// its active heads, head i scaled by s_i, and its MLP its active neurons, neuron j scaled by
/// s_j. By default s = H/|heads| for every head and M/|neurons| for every neuron, which keeps
/// the sum an unbiased estimate of the full layer's when every head (neuron) is equally likely
/// to be drawn; a policy that draws units with unequal probabilities sets per-unit scales
/// (1/π_i, Horvitz–Thompson).
///
/// A plain value: build it with activate_layer() (or full()), then validate() it. Index lists
/// are kept sorted (with their scales), so two subnetworks with the same sets compare equal and
/// have the same digest whatever order the indices were given in. The accessors taking a layer
/// throw value_error for a layer outside [0, L).
class Subnetwork {
 public:
  /// No layers: a placeholder, not a valid subnetwork.
  Subnetwork() = default;

  /// A subnetwork of `shape` with no layer active yet; throws value_error when a size of
  /// `shape` is below 1.
  explicit Subnetwork(SubnetworkShape shape)
      : shape_(shape),
        active_(static_cast<std::size_t>(std::max(shape.layers, 0)), false),
        heads_(active_.size()),
        neurons_(active_.size()),
        head_scales_(active_.size()),
        neuron_scales_(active_.size()),
        layer_scales_(active_.size(), 1.0) {
    require<value_error>(shape.layers >= 1 && shape.heads >= 1 && shape.neurons >= 1,
                         "Subnetwork: shape needs layers, heads and neurons >= 1, got (",
                         shape.layers, ", ", shape.heads, ", ", shape.neurons, ")");
  }

  /// Every layer, head and neuron active: the full model.
  [[nodiscard]] static Subnetwork full(SubnetworkShape shape) {
    Subnetwork s(shape);
    std::vector<int> heads(static_cast<std::size_t>(shape.heads));
    std::vector<int> neurons(static_cast<std::size_t>(shape.neurons));
    for (int i = 0; i < shape.heads; ++i) heads[static_cast<std::size_t>(i)] = i;
    for (int i = 0; i < shape.neurons; ++i) neurons[static_cast<std::size_t>(i)] = i;
    for (int l = 0; l < shape.layers; ++l) s.activate_layer(l, heads, neurons);
    return s;
  }

  /// Makes `layer` active with the given heads and neurons (any order), scaled by the defaults
  /// H/|heads| and M/|neurons|. The layer index is checked here (value_error when outside
  /// [0, L) or already active); the index sets are checked by validate().
  void activate_layer(int layer, std::vector<int> heads, std::vector<int> neurons) {
    activate_layer(layer, std::move(heads), std::move(neurons), {}, {});
  }

  /// The same with per-unit scales: `head_scales[k]` scales `heads[k]`, `neuron_scales[k]`
  /// scales `neurons[k]` (sorted together with the indices). An empty scale list keeps the
  /// default for that set; a non-empty one of another length than its index set throws
  /// value_error. The scales' values are checked by validate().
  void activate_layer(int layer, std::vector<int> heads, std::vector<int> neurons,
                      std::vector<double> head_scales, std::vector<double> neuron_scales) {
    require<value_error>(layer >= 0 && layer < shape_.layers, "Subnetwork::activate_layer: layer ",
                         layer, " is outside [0, ", shape_.layers, ")");
    const auto l = static_cast<std::size_t>(layer);
    require<value_error>(!active_[l], "Subnetwork::activate_layer: layer ", layer,
                         " is already active");
    sort_with_scales(heads, head_scales, layer, "head");
    sort_with_scales(neurons, neuron_scales, layer, "neuron");
    active_[l] = true;
    heads_[l] = std::move(heads);
    neurons_[l] = std::move(neurons);
    head_scales_[l] = std::move(head_scales);
    neuron_scales_[l] = std::move(neuron_scales);
  }

  /// Scales the two residual branches of active `layer` (attention and MLP) by `scale`: the
  /// block computes x + scale·attention(x), then the same for the MLP. 1 by default; 1/p_l for
  /// a layer kept with probability p_l makes the expected residual stream match the full
  /// model's (the stochastic-depth convention). Throws value_error when the layer is not
  /// active or the scale is not finite and > 0.
  void set_layer_scale(int layer, double scale) {
    require<value_error>(layer >= 0 && layer < shape_.layers && active_[std::size_t(layer)],
                         "Subnetwork::set_layer_scale: layer ", layer, " is not active");
    require<value_error>(std::isfinite(scale) && scale > 0, "Subnetwork::set_layer_scale: layer ",
                         layer, " scale ", scale, " must be finite and > 0");
    layer_scales_[std::size_t(layer)] = scale;
  }

  /// The factor of `layer`'s residual branches (1 unless set_layer_scale() changed it).
  [[nodiscard]] double layer_scale(int layer) const { return layer_scales_[index(layer)]; }

  /// Throws value_error naming `source` (the policy that built it) and the offending value when
  /// the subnetwork is not usable: no shape, no active layer, an empty head or neuron set, an
  /// index out of range, an index listed twice, or a scale that is not finite and > 0.
  void validate(std::string_view source) const {
    require<value_error>(shape_.layers >= 1, source, ": the subnetwork has no shape");
    bool any = false;
    for (int l = 0; l < shape_.layers; ++l) {
      if (!is_active(l)) continue;
      any = true;
      check_set(source, l, "head", heads(l), shape_.heads);
      check_set(source, l, "neuron", neurons(l), shape_.neurons);
      check_scales(source, l, "head", head_scales_[std::size_t(l)]);
      check_scales(source, l, "neuron", neuron_scales_[std::size_t(l)]);
    }
    require<value_error>(any, source, ": the subnetwork has no active layer");
  }

  /// The shape the subnetwork is drawn from (all zero for a default-constructed one).
  [[nodiscard]] const SubnetworkShape& shape() const noexcept { return shape_; }
  /// Whether `layer` trains at this step.
  [[nodiscard]] bool is_active(int layer) const { return active_[index(layer)]; }
  /// Active heads of `layer`, sorted ascending (empty for a skipped layer).
  [[nodiscard]] std::span<const int> heads(int layer) const { return heads_[index(layer)]; }
  /// Active MLP neurons of `layer`, sorted ascending (empty for a skipped layer).
  [[nodiscard]] std::span<const int> neurons(int layer) const { return neurons_[index(layer)]; }
  /// The per-unit scales of `layer`'s heads, aligned with heads(layer); empty when the layer
  /// uses the default H/|heads|.
  [[nodiscard]] std::span<const double> head_scales(int layer) const {
    return head_scales_[index(layer)];
  }
  /// The per-unit scales of `layer`'s neurons, aligned with neurons(layer); empty when the
  /// layer uses the default M/|neurons|.
  [[nodiscard]] std::span<const double> neuron_scales(int layer) const {
    return neuron_scales_[index(layer)];
  }
  /// The scale of the k-th active head of `layer` (its own, or the default). `layer` must be
  /// active and `k` < heads(layer).size(); `k` is not checked.
  [[nodiscard]] double head_scale(int layer, std::size_t k) const {
    const auto own = head_scales(layer);
    return own.empty() ? double(shape_.heads) / double(heads(layer).size()) : own[k];
  }
  /// The scale of the k-th active neuron of `layer` (its own, or the default). `layer` must be
  /// active and `k` < neurons(layer).size(); `k` is not checked.
  [[nodiscard]] double neuron_scale(int layer, std::size_t k) const {
    const auto own = neuron_scales(layer);
    return own.empty() ? double(shape_.neurons) / double(neurons(layer).size()) : own[k];
  }
  /// True when some active layer has per-unit scales.
  [[nodiscard]] bool has_unit_scales() const {
    for (int l = 0; l < shape_.layers; ++l) {
      if (!head_scales_[std::size_t(l)].empty() || !neuron_scales_[std::size_t(l)].empty()) {
        return true;
      }
    }
    return false;
  }

  /// Active layer indices, ascending.
  [[nodiscard]] std::vector<int> active_layers() const {
    std::vector<int> out;
    for (int l = 0; l < shape_.layers; ++l) {
      if (is_active(l)) out.push_back(l);
    }
    return out;
  }
  /// How many layers train at this step.
  [[nodiscard]] int active_layer_count() const {
    return static_cast<int>(std::count(active_.begin(), active_.end(), true));
  }
  /// True when every layer, head and neuron is active, each scaled by 1: the full model.
  [[nodiscard]] bool is_full() const {
    for (int l = 0; l < shape_.layers; ++l) {
      if (!is_active(l) || std::ssize(heads(l)) != shape_.heads ||
          std::ssize(neurons(l)) != shape_.neurons || !all_ones(head_scales(l)) ||
          !all_ones(neuron_scales(l)) || layer_scale(l) != 1.0) {
        return false;
      }
    }
    return shape_.layers > 0;
  }

  /// A 64-bit digest of the shape, every index set and every per-unit scale (SplitMix64
  /// finalisers chained over the contents). Equal subnetworks have equal digests; data-parallel
  /// ranks compare digests to check that they train the same subnetwork.
  [[nodiscard]] std::uint64_t digest() const {
    std::uint64_t h = 0x6573742d73756274ULL;  // "est-subt"
    auto mix = [&h](std::uint64_t v) {
      std::uint64_t z = h ^ (v + 0x9E3779B97F4A7C15ULL + (h << 6) + (h >> 2));
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
      h = z ^ (z >> 31);
    };
    mix(static_cast<std::uint64_t>(shape_.layers));
    mix(static_cast<std::uint64_t>(shape_.heads));
    mix(static_cast<std::uint64_t>(shape_.neurons));
    for (int l = 0; l < shape_.layers; ++l) {
      if (!is_active(l)) continue;
      mix(static_cast<std::uint64_t>(l));
      mix(heads(l).size());
      for (int i : heads(l)) mix(static_cast<std::uint64_t>(i));
      mix(neurons(l).size());
      for (int i : neurons(l)) mix(static_cast<std::uint64_t>(i));
      for (const auto* scales : {&head_scales_[std::size_t(l)], &neuron_scales_[std::size_t(l)]}) {
        mix(scales->size());
        for (const double x : *scales) mix(std::bit_cast<std::uint64_t>(x));
      }
      // Layer scales join the digest only when set, so that digests of earlier versions hold.
      if (layer_scales_[std::size_t(l)] != 1.0) {
        mix(std::bit_cast<std::uint64_t>(layer_scales_[std::size_t(l)]));
      }
    }
    return h;
  }

  /// One line: active layers, and per active layer its heads and its neuron count, e.g.
  /// `layers 2/3 [0: heads {1,3}/4 neurons 16/32] [2: heads {0}/4 neurons 8/32]`.
  [[nodiscard]] std::string to_string() const {
    std::ostringstream out;
    out << "layers " << active_layer_count() << "/" << shape_.layers;
    for (int l = 0; l < shape_.layers; ++l) {
      if (!is_active(l)) continue;
      out << " [" << l << ": heads {";
      for (std::size_t i = 0; i < heads(l).size(); ++i) out << (i ? "," : "") << heads(l)[i];
      out << "}/" << shape_.heads << " neurons " << neurons(l).size() << "/" << shape_.neurons;
      if (!head_scales(l).empty() || !neuron_scales(l).empty()) out << " scaled per unit";
      if (layer_scale(l) != 1.0) out << " branches x" << layer_scale(l);
      out << "]";
    }
    return out.str();
  }

  friend std::ostream& operator<<(std::ostream& out, const Subnetwork& s) {
    return out << s.to_string();
  }
  friend bool operator==(const Subnetwork&, const Subnetwork&) = default;

 private:
  [[nodiscard]] std::size_t index(int layer) const {
    require<value_error>(layer >= 0 && layer < shape_.layers, "Subnetwork: layer ", layer,
                         " is outside [0, ", shape_.layers, ")");
    return static_cast<std::size_t>(layer);
  }

  static void check_set(std::string_view source, int layer, const char* what,
                        std::span<const int> set, int total) {
    require<value_error>(!set.empty(), source, ": layer ", layer, " is active with no ", what,
                         "s (every active layer needs at least one)");
    for (std::size_t i = 0; i < set.size(); ++i) {
      require<value_error>(set[i] >= 0 && set[i] < total, source, ": layer ", layer, " ", what,
                           " ", set[i], " is outside [0, ", total, ")");
      require<value_error>(i == 0 || set[i] != set[i - 1], source, ": layer ", layer, " ", what,
                           " ", set[i], " is listed twice");
    }
  }

  static bool all_ones(std::span<const double> scales) {
    return std::all_of(scales.begin(), scales.end(), [](double x) { return x == 1.0; });
  }

  /// Sorts `indices` ascending and `scales` (when not empty) along with them.
  static void sort_with_scales(std::vector<int>& indices, std::vector<double>& scales, int layer,
                               const char* what) {
    if (scales.empty()) {
      std::sort(indices.begin(), indices.end());
      return;
    }
    require<value_error>(scales.size() == indices.size(), "Subnetwork::activate_layer: layer ",
                         layer, " has ", indices.size(), " ", what, "s but ", scales.size(),
                         " ", what, " scales");
    std::vector<std::size_t> order(indices.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(),
              [&](std::size_t a, std::size_t b) { return indices[a] < indices[b]; });
    std::vector<int> sorted_indices;
    std::vector<double> sorted_scales;
    for (const std::size_t i : order) {
      sorted_indices.push_back(indices[i]);
      sorted_scales.push_back(scales[i]);
    }
    indices = std::move(sorted_indices);
    scales = std::move(sorted_scales);
  }

  static void check_scales(std::string_view source, int layer, const char* what,
                           std::span<const double> scales) {
    for (std::size_t i = 0; i < scales.size(); ++i) {
      require<value_error>(std::isfinite(scales[i]) && scales[i] > 0, source, ": layer ", layer,
                           " ", what, " scale ", i, " is ", scales[i],
                           " (scales must be finite and > 0)");
    }
  }

  SubnetworkShape shape_;
  std::vector<bool> active_;               // (L)
  std::vector<std::vector<int>> heads_;    // (L) sorted head indices per layer
  std::vector<std::vector<int>> neurons_;  // (L) sorted neuron indices per layer
  std::vector<std::vector<double>> head_scales_;    // (L) per active head, or empty (default)
  std::vector<std::vector<double>> neuron_scales_;  // (L) per active neuron, or empty
  std::vector<double> layer_scales_;               // (L) residual-branch factor, 1 by default
};

}  // namespace est

/// Subnetworks as keys of unordered containers: the digest.
template <>
struct std::hash<est::Subnetwork> {
  /// `s.digest()`, truncated to `std::size_t`.
  std::size_t operator()(const est::Subnetwork& s) const {
    return static_cast<std::size_t>(s.digest());
  }
};
