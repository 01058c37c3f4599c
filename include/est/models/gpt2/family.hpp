#pragma once
// The GPT-2 family (models/family.hpp): its subnetworks, slice plan, FLOPs and files.
//
// What a subnetwork trains of a GPT-2 arena (the slice plan): the embeddings and the final
// LayerNorm always; in an active layer its LayerNorms and the two output projections' biases,
// the Q, K and V columns (and bias entries) of its active heads, their rows of W_O (scaled by
// H/h, or per head), and the W_fc columns (and bias entries) and W_proj rows of its active
// neurons (scaled by M/m, or per neuron); nothing of a skipped layer.
//
// FLOPs, for N = B·T tokens and per active layer with h heads (head size d = C/H) and m neurons:
//   QKV projection      2·N·C·3hd        attention scores QKᵀ   2·B·h·T·T·d
//   weighted sum P·V    2·B·h·T·T·d      output projection      2·N·hd·C
//   MLP up              2·N·C·m          MLP down               2·N·m·C
// and once per step the LM head 2·N·C·V. The projections are the plan's GEMM weights (2·N per
// active element); the attention products count the full T x T score matrix, which is what
// est's attention computes. Backward: every product above costs two of the same size (input
// gradient and weight gradient; for attention dV, dP, dQ and dK), so it is exactly twice the
// forward. V is wte's row count: with padded_vocab the forward computes the padding's logits
// too, while backward skips them, so its count is high by (padding / rows) of the LM head's
// share (GPT-2: 47 of 50304 rows, under 0.1%). Elementwise work (LayerNorm, GELU, softmax,
// embeddings, the loss, the optimizer) is not counted; it is a small fraction of these at useful
// sizes.
//
// Shapes: V vocabulary, P positions, C width, H heads, d = C/H, M MLP hidden.

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "est/models/family.hpp"
#include "est/models/gpt2/config.hpp"
#include "est/models/gpt2/hf_config.hpp"
#include "est/models/gpt2/hf_format.hpp"
#include "est/subnet/flops.hpp"
#include "est/subnet/slice_plan.hpp"
#include "est/subnet/subnetwork.hpp"

namespace est {

/// The GPT-2 model family (a ModelFamily): what subnetworks, slice plans, FLOPs and Hugging Face
/// files mean for a Gpt2Config. Every member is static.
struct Gpt2Family {
  using config_type = Gpt2Config;                  ///< The configuration type of the family.
  static constexpr std::string_view name = "gpt2";  ///< The family's name in checkpoints.

  /// (layers, heads, mlp_hidden).
  [[nodiscard]] static constexpr SubnetworkShape subnetwork_shape(const Gpt2Config& c) noexcept {
    return {c.layers, c.heads, c.mlp_hidden};
  }

  /// The slice plan of `subnet`, in the arena order of layout_gpt2 (parameters.hpp). Throws
  /// value_error when `subnet` is not a valid subnetwork of `config`'s shape.
  [[nodiscard]] static SlicePlan slice_plan(const Gpt2Config& config, const Subnetwork& subnet) {
    detail::check_subnetwork_of(subnetwork_shape(config), subnet, "Gpt2 slice_plan");
    const Index V = config.embedding_rows(), P = config.context, C = config.width,
                d = config.head_dim(),
                M = config.mlp_hidden, H = config.heads;
    SlicePlan plan;
    plan.add({.rows = V, .cols = C, .gemm_weight = true});  // wte.weight, the tied LM head
    plan.add({.rows = P, .cols = C});                        // wpe.weight
    for (int l = 0; l < config.layers; ++l) {
      const bool on = subnet.is_active(l);
      const auto heads = on ? subnet.heads(l) : std::span<const int>();
      const auto neurons = on ? subnet.neurons(l) : std::span<const int>();
      const Index h = std::ssize(heads), m = std::ssize(neurons);
      // The uniform output scales; per-unit scales ride on the lists instead.
      const double head_scale =
          h && subnet.head_scales(l).empty() ? double(H) / double(h) : 1.0;
      const double neuron_scale =
          m && subnet.neuron_scales(l).empty() ? double(M) / double(m) : 1.0;
      // Index lists only where a layer is sliced (fewer units, or scales of their own); a
      // complete set at the default scales trains the whole tensor.
      int qkv = -1, head_rows = -1, neuron_list = -1;
      if (on && (h < H || !subnet.head_scales(l).empty())) {
        std::vector<Index> columns, rows;
        std::vector<double> row_scales;
        for (Index part = 0; part < 3; ++part) {
          for (const int head : heads) {
            for (Index i = 0; i < d; ++i) columns.push_back(part * C + head * d + i);
          }
        }
        for (std::size_t k = 0; k < heads.size(); ++k) {
          for (Index i = 0; i < d; ++i) {
            rows.push_back(heads[k] * d + i);
            if (!subnet.head_scales(l).empty()) row_scales.push_back(subnet.head_scales(l)[k]);
          }
        }
        qkv = plan.add_list(std::move(columns), 3 * C, {},
                            {.kind = UnitKind::head, .layer = l, .size = d, .period = C});
        head_rows = plan.add_list(std::move(rows), C, std::move(row_scales),
                                  {.kind = UnitKind::head, .layer = l, .size = d});
      }
      if (on && (m < M || !subnet.neuron_scales(l).empty())) {
        neuron_list = plan.add_list({neurons.begin(), neurons.end()}, M,
                                    {subnet.neuron_scales(l).begin(),
                                     subnet.neuron_scales(l).end()},
                                    {.kind = UnitKind::neuron, .layer = l});
      }
      // [gpt2-layer-plan]
      const LayerSlices layer{on};
      plan.add(layer.whole(1, C));                                        // ln_1.weight
      plan.add(layer.whole(1, C));                                        // ln_1.bias
      plan.add(layer.sliced(C, 3 * C, SliceKind::columns, qkv, true));    // attn.c_attn.weight
      plan.add(layer.sliced(1, 3 * C, SliceKind::columns, qkv, false));   // attn.c_attn.bias
      // attn.c_proj.weight
      plan.add(layer.sliced(C, C, SliceKind::rows, head_rows, true, head_scale));
      plan.add(layer.whole(1, C));                                        // attn.c_proj.bias
      plan.add(layer.whole(1, C));                                        // ln_2.weight
      plan.add(layer.whole(1, C));                                        // ln_2.bias
      plan.add(layer.sliced(C, M, SliceKind::columns, neuron_list, true));  // mlp.c_fc.weight
      plan.add(layer.sliced(1, M, SliceKind::columns, neuron_list, false));  // mlp.c_fc.bias
      // mlp.c_proj.weight
      plan.add(layer.sliced(M, C, SliceKind::rows, neuron_list, true, neuron_scale));
      plan.add(layer.whole(1, C));                                        // mlp.c_proj.bias
      // [gpt2-layer-plan]
    }
    plan.add({.rows = 1, .cols = C});  // ln_f.weight
    plan.add({.rows = 1, .cols = C});  // ln_f.bias
    plan.validate("Gpt2 slice_plan", config.parameter_count());
    return plan;
  }

  /// FLOPs of one forward and backward pass of `subnet` over a (batch, seq) batch (see above).
  /// Throws value_error unless batch, seq >= 1 and `subnet` is valid for `config`.
  [[nodiscard]] static StepFlops step_flops(const Gpt2Config& config, std::int64_t batch,
                                            std::int64_t seq, const Subnetwork& subnet) {
    require<value_error>(batch >= 1 && seq >= 1,
                         "gpt2_step_flops: batch and seq must be >= 1, got ", batch, " and ", seq);
    detail::check_subnetwork_of(subnetwork_shape(config), subnet, "gpt2_step_flops");
    return detail::plan_step_flops(slice_plan(config, subnet), subnet, batch, seq,
                                   config.head_dim());
  }

  /// The configuration as checkpoints record it (padded_vocab only when there is padding, so
  /// the identity of configurations without it is what it always was).
  [[nodiscard]] static nlohmann::json config_json(const Gpt2Config& c) {
    nlohmann::json j = {{"layers", c.layers}, {"heads", c.heads}, {"width", c.width},
                        {"mlp_hidden", c.mlp_hidden}, {"vocab", c.vocab}, {"context", c.context}};
    if (c.embedding_rows() > c.vocab) j["padded_vocab"] = c.embedding_rows();
    return j;
  }

  /// transformers' config.json of the configuration (gpt2_hf_config, models/gpt2/hf_config.hpp).
  [[nodiscard]] static nlohmann::json hf_config(const Gpt2Config& c,
                                                std::string_view torch_dtype = "float32") {
    return gpt2_hf_config(c, torch_dtype);
  }
  /// The configuration a parsed config.json `j` describes (gpt2_config_from_hf); throws io_error
  /// naming `where` and every setting est's GPT-2 does not implement.
  [[nodiscard]] static Gpt2Config config_from_hf(const nlohmann::json& j,
                                                 const std::string& where) {
    return gpt2_config_from_hf(j, where);
  }

  /// A checkpoint's model files: `dir`/model.safetensors in Hugging Face's GPT2Model layout
  /// (wte cut to the real vocabulary) and transformers' config.json beside it, so
  /// from_pretrained(dir) loads the directory.
  template <class T>
  static void save_weights(const std::filesystem::path& dir, const Gpt2Config& config,
                           const std::vector<ParameterSpec>& specs, std::span<const T> arena,
                           const std::map<std::string, std::string>& metadata) {
    save_gpt2_safetensors(dir / "model.safetensors", file_specs(config, specs), arena, metadata);
    detail::write_hf_config(dir, gpt2_hf_config(config, detail::torch_dtype_name<T>()));
  }

  /// Reads the weights of `path` — a checkpoint directory, a safetensors file or a sharded
  /// checkpoint's index — into `arena`: wte's `vocab` rows from the file, its padding rows 0.
  template <class T>
  static void load_weights(const std::filesystem::path& path, const Gpt2Config& config,
                           const std::vector<ParameterSpec>& specs, std::span<T> arena) {
    const auto in_file = file_specs(config, specs);
    load_gpt2_safetensors(path, in_file, arena);
    if (!specs.empty() && specs.front().shape != in_file.front().shape) {
      const auto first = std::size_t(specs.front().offset + in_file.front().shape.numel());
      const auto last = std::size_t(specs.front().offset + specs.front().shape.numel());
      std::fill(arena.begin() + std::ptrdiff_t(first), arena.begin() + std::ptrdiff_t(last), T(0));
    }
  }

 private:
  /// The specs of the tensors as files hold them: wte with `vocab` rows (the padding rows, at
  /// its end, are left out; the offsets stay the arena's).
  static std::vector<ParameterSpec> file_specs(const Gpt2Config& config,
                                               std::vector<ParameterSpec> specs) {
    if (!specs.empty() && specs.front().name == "wte.weight" &&
        config.embedding_rows() > config.vocab) {
      specs.front().shape = Shape{Index(config.vocab), Index(config.width)};
    }
    return specs;
  }
};

// [gpt2-registration]
/// Registers Gpt2Family as the family of Gpt2Config.
template <>
struct family_of<Gpt2Config> {
  using type = Gpt2Family;  ///< The family of Gpt2Config.
};
// [gpt2-registration]

/// FLOPs of one step of `subnet` of a GPT-2 (the family's count).
[[nodiscard]] inline StepFlops gpt2_step_flops(const Gpt2Config& config, std::int64_t batch,
                                               std::int64_t seq, const Subnetwork& subnet) {
  return Gpt2Family::step_flops(config, batch, seq, subnet);
}

/// FLOPs of one step of the full model.
[[nodiscard]] inline StepFlops gpt2_step_flops(const Gpt2Config& config, std::int64_t batch,
                                               std::int64_t seq) {
  return gpt2_step_flops(config, batch, seq,
                         Subnetwork::full(Gpt2Family::subnetwork_shape(config)));
}

}  // namespace est
