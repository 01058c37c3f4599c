#pragma once
// The slice plan of one step: for every tensor of a model's parameter arena, which part of it
// the step's subnetwork trains. A model family builds it once per step from a Subnetwork
// (`slice_plan` in models/<family>/family.hpp); everything that needs to know what an active
// head or neuron means for the parameters reads it instead of working it out again: the sliced
// blocks' gathers and scales (models/slicing.hpp), the active mask writers of each backend
// (backend/*/mask), the FLOPs count, the per-unit gradient norms (subnet/unit_gradients.hpp)
// and, for data parallelism, the reduction of active slices only.
//
// A tensor is seen as a (rows, cols) matrix in memory order (a vector as (1, n)) and takes part
// in one of four ways: all of it, none of it, only some of its columns, or only some of its rows.
// The column or row indices are an index list of the plan; tensors sliced by the same units
// share one list (a head's columns of the QKV weight and its entries of the QKV bias, say).
// Each list is strictly increasing and lies in [0, extent). A list may carry a scale per index:
// the factor of its unit's output (a head's per-unit scale on each of its d rows of W_O), which
// the second projection of a sliced block multiplies by instead of the tensor's one `scale`.
//
// Shapes: P parameters in the arena; a tensor (rows, cols); a list of k indices in [0, extent).

#include <cmath>
#include <cstdint>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "est/core/error.hpp"
#include "est/core/shape.hpp"

namespace est {

/// How a tensor takes part in a step.
enum class SliceKind : std::uint8_t {
  all,      ///< Every element trains.
  none,     ///< No element trains (a skipped layer's tensors).
  columns,  ///< The elements of the listed columns train.
  rows,     ///< The elements of the listed rows train.
};

/// The kind of unit an index list selects.
enum class UnitKind : std::uint8_t {
  none,    ///< No unit of its own (a list of key/value group rows, say): no per-unit statistics.
  head,    ///< Attention heads.
  neuron   ///< MLP neurons.
};

/// Which units an index list's indices belong to: index i is unit (i mod period) / size of
/// `layer`'s heads or neurons (period 0: i / size), so per-unit statistics can be read off the
/// gradients (subnet/unit_gradients.hpp). A list of key/value group rows has kind none.
struct ListUnits {
  UnitKind kind = UnitKind::none;  ///< Heads, neurons, or none (no per-unit statistics).
  int layer = -1;    ///< The layer whose units these are (-1 by default).
  Index size = 1;    ///< Indices per unit, >= 1 (a head's d columns, one neuron).
  /// The units repeat every `period` indices (GPT-2's [Q | K | V] columns); 0: they do not.
  Index period = 0;
  friend bool operator==(const ListUnits&, const ListUnits&) = default;
};

/// One arena tensor's part in a step.
struct TensorSlice {
  Index offset = 0;  ///< First element in the arena (set by SlicePlan::add()).
  Index rows = 1;    ///< Rows of the tensor as a (rows, cols) matrix in memory order.
  Index cols = 0;    ///< Columns of the tensor as a (rows, cols) matrix (a vector: (1, n)).
  SliceKind kind = SliceKind::all;  ///< How the tensor takes part.
  int list = -1;     ///< For columns / rows: which index list of the plan; -1 otherwise.
  /// The weight multiplies every token's activations once in the forward pass (a projection or
  /// the LM head), so it costs 2·N·(active elements) FLOPs forward for N tokens.
  bool gemm_weight = false;
  /// What the forward pass multiplies this weight's sliced product by: H/h for an attention
  /// output projection over h of H heads, M/m for an MLP's down projection over m of M neurons,
  /// 1 elsewhere.
  double scale = 1.0;
  friend bool operator==(const TensorSlice&, const TensorSlice&) = default;
};

/// The tensors of one layer as a plan lists them: all of each when the layer trains, none when
/// it is skipped; a tensor sliced by an index list (when the layer has one) trains that part.
struct LayerSlices {
  bool on = false;  ///< Whether the layer trains this step.

  /// A (rows, cols) tensor of the layer that trains whole: all when the layer is on, none when
  /// it is skipped. `gemm` marks a GEMM weight (TensorSlice::gemm_weight).
  [[nodiscard]] TensorSlice whole(Index rows, Index cols, bool gemm = false) const {
    return {.rows = rows, .cols = cols, .kind = on ? SliceKind::all : SliceKind::none,
            .gemm_weight = gemm};
  }
  /// A (rows, cols) tensor sliced by index list `list` as `kind` (columns or rows), its sliced
  /// product scaled by `scale`, when the layer is on and `list` >= 0; as whole() otherwise (a
  /// layer that trains every unit at the default scales has no list).
  [[nodiscard]] TensorSlice sliced(Index rows, Index cols, SliceKind kind, int list, bool gemm,
                                   double scale = 1.0) const {
    TensorSlice t = whole(rows, cols, gemm);
    if (on && list >= 0) t.kind = kind, t.list = list, t.scale = scale;
    return t;
  }
};

/// The slice plan of one step: for every tensor of a model's parameter arena, in arena order,
/// the part of it the step's subnetwork trains (est::TensorSlice), and the index lists the
/// sliced tensors share. A model family builds it once per step from a Subnetwork
/// (`slice_plan` in models/family.hpp); the sliced blocks' gathers and scales, the active mask
/// writers, the FLOPs count and the per-unit gradient norms (unit_gradient_norms()) read it.
///
/// Each index list is strictly increasing, lies in [0, extent) and may carry a scale per index
/// (its unit's output scale, used instead of the tensor's uniform `scale`). The accessors
/// taking a list id throw value_error for an id outside [0, list_count()).
class SlicePlan {
 public:
  SlicePlan() = default;

  /// Adds an index list over [0, extent), with a scale per index or none and the units its
  /// indices belong to, and returns its id (checked by validate()).
  int add_list(std::vector<Index> indices, Index extent, std::vector<double> scales = {},
               ListUnits units = {}) {
    lists_.push_back({std::move(indices), extent, std::move(scales), units});
    return static_cast<int>(lists_.size()) - 1;
  }

  /// Appends the next tensor of the arena (tensors come in arena order, each starting where the
  /// previous one ended).
  void add(TensorSlice slice) {
    slice.offset = size_;
    size_ += slice.rows * slice.cols;
    tensors_.push_back(slice);
  }

  /// The tensors, in arena order.
  [[nodiscard]] std::span<const TensorSlice> tensors() const noexcept { return tensors_; }
  /// Elements of the arena the plan covers (the sum of the tensors' sizes).
  [[nodiscard]] Index parameter_count() const noexcept { return size_; }
  /// The indices of list `id`: columns or rows of the tensors it slices.
  [[nodiscard]] std::span<const Index> list(int id) const { return entry(id).indices; }
  /// The range [0, extent) of list `id`: the column or row count of the tensors it slices.
  [[nodiscard]] Index extent(int id) const { return entry(id).extent; }
  /// The per-index scales of list `id` (empty: the tensors' uniform `scale` applies).
  [[nodiscard]] std::span<const double> scales(int id) const { return entry(id).scales; }
  /// The units the indices of list `id` belong to.
  [[nodiscard]] const ListUnits& units(int id) const { return entry(id).units; }
  /// How many index lists the plan holds; their ids are [0, list_count()).
  [[nodiscard]] int list_count() const noexcept { return static_cast<int>(lists_.size()); }

  /// The listed columns or rows of `slice` (empty for all / none).
  [[nodiscard]] std::span<const Index> indices(const TensorSlice& slice) const {
    return slice.list < 0 ? std::span<const Index>() : list(slice.list);
  }

  /// How many elements of `slice` train.
  [[nodiscard]] Index active_elements(const TensorSlice& slice) const {
    switch (slice.kind) {
      case SliceKind::all: return slice.rows * slice.cols;
      case SliceKind::none: return 0;
      case SliceKind::columns: return slice.rows * std::ssize(indices(slice));
      case SliceKind::rows: return std::ssize(indices(slice)) * slice.cols;
    }
    return 0;
  }

  /// How many elements of the arena train.
  [[nodiscard]] Index active_elements() const {
    Index n = 0;
    for (const TensorSlice& t : tensors_) n += active_elements(t);
    return n;
  }

  /// Forward FLOPs of the projections and the LM head for `tokens` tokens: 2·N per active
  /// element of every GEMM weight.
  [[nodiscard]] std::int64_t gemm_forward_flops(std::int64_t tokens) const {
    std::int64_t flops = 0;
    for (const TensorSlice& t : tensors_) {
      if (t.gemm_weight) flops += 2 * tokens * active_elements(t);
    }
    return flops;
  }

  /// Throws value_error naming `where` unless the plan covers `parameter_count` elements and
  /// every sliced tensor has a list of the right extent, strictly increasing and in range.
  void validate(std::string_view where, Index parameter_count) const {
    require<value_error>(size_ == parameter_count, where, ": the slice plan covers ", size_,
                         " parameters, expected ", parameter_count);
    for (std::size_t l = 0; l < lists_.size(); ++l) {
      const auto& [indices, extent, scales, units] = lists_[l];
      require<value_error>(units.size >= 1 && units.period >= 0, where, ": slice list ", l,
                           " has units of size ", units.size, " and period ", units.period);
      require<value_error>(scales.empty() || scales.size() == indices.size(), where,
                           ": slice list ", l, " has ", indices.size(), " indices but ",
                           scales.size(), " scales");
      for (const double x : scales) {
        require<value_error>(std::isfinite(x) && x > 0, where, ": slice list ", l,
                             " has the scale ", x, " (scales must be finite and > 0)");
      }
      for (std::size_t i = 0; i < indices.size(); ++i) {
        require<value_error>(indices[i] >= 0 && indices[i] < extent, where, ": slice list ", l,
                             " holds index ", indices[i], " outside [0, ", extent, ")");
        require<value_error>(i == 0 || indices[i] > indices[i - 1], where, ": slice list ", l,
                             " is not strictly increasing at position ", i);
      }
    }
    for (std::size_t i = 0; i < tensors_.size(); ++i) {
      const TensorSlice& t = tensors_[i];
      const bool sliced = t.kind == SliceKind::columns || t.kind == SliceKind::rows;
      require<value_error>(!sliced || (t.list >= 0 && t.list < list_count()), where, ": tensor ",
                           i, " is sliced by list ", t.list, ", which the plan does not hold");
      if (!sliced) continue;
      const Index extent = t.kind == SliceKind::columns ? t.cols : t.rows;
      require<value_error>(this->extent(t.list) == extent, where, ": tensor ", i, " has ",
                           extent, t.kind == SliceKind::columns ? " columns" : " rows",
                           " but its list ranges over ", this->extent(t.list));
    }
  }

  /// The plan at the granularity of layers: every tensor this plan slices by columns or rows
  /// trains whole, the others are unchanged. Its mask marks every parameter of every active
  /// layer (the mask of InactiveParameters::mixed); scales and lists are kept but unused.
  [[nodiscard]] SlicePlan whole_layers() const {
    SlicePlan out = *this;
    for (TensorSlice& t : out.tensors_) {
      if (t.kind == SliceKind::columns || t.kind == SliceKind::rows) {
        t.kind = SliceKind::all;
        t.list = -1;
      }
    }
    return out;
  }

  friend bool operator==(const SlicePlan&, const SlicePlan&) = default;

 private:
  /// One index list of the plan.
  struct IndexList {
    std::vector<Index> indices;  ///< (k) strictly increasing, in [0, extent).
    Index extent = 0;            ///< Column or row count of the tensors the list slices.
    std::vector<double> scales;  ///< (k) per-index output scales, or empty.
    ListUnits units;             ///< The units the indices belong to.
    friend bool operator==(const IndexList&, const IndexList&) = default;
  };

  const IndexList& entry(int id) const {
    require<value_error>(id >= 0 && id < list_count(), "SlicePlan: no index list ", id);
    return lists_[static_cast<std::size_t>(id)];
  }

  std::vector<TensorSlice> tensors_;  // arena order
  std::vector<IndexList> lists_;
  Index size_ = 0;
};

}  // namespace est
