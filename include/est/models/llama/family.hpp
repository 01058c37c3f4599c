#pragma once
// The Llama family (models/family.hpp): its subnetworks, slice plan, FLOPs and files.
//
// Subnetworks are drawn over query heads. What one trains of a Llama arena (the slice plan): the
// embedding, the final norm and the LM head always; in an active layer its two norms, the q rows
// and o columns of its active heads (o scaled by H/h, or per head), the k and v rows of the
// key/value groups those heads read (a group none of them reads trains nothing), and the gate
// and up rows and down columns of its active neurons (down scaled by M/m, or per neuron);
// nothing of a skipped layer.
//
// FLOPs, per active layer with h query heads reading g key/value groups and m neurons:
//   Q projection  2·N·C·hd       K and V projections  2·2·N·C·gd
//   QKᵀ and P·V   2·2·B·h·T·T·d  output projection    2·N·hd·C
//   gate, up and down            3·2·N·C·m
// and the LM head 2·N·C·V once (the plan's GEMM weights, 2·N per active element, plus the
// attention products); backward twice the forward, as for GPT-2.
//
// Shapes: V vocabulary, C width, H query heads, G key/value groups, d head size, M MLP hidden.

#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "est/io/atomic_file.hpp"
#include "est/models/family.hpp"
#include "est/models/llama/config.hpp"
#include "est/models/llama/hf_format.hpp"
#include "est/models/llama/parameters.hpp"
#include "est/subnet/flops.hpp"
#include "est/subnet/slice_plan.hpp"
#include "est/subnet/subnetwork.hpp"

namespace est {

/// The Llama model family (a ModelFamily): what subnetworks, slice plans, FLOPs and Hugging Face
/// files mean for a LlamaConfig. Every member is static.
struct LlamaFamily {
  using config_type = LlamaConfig;                  ///< The configuration type of the family.
  static constexpr std::string_view name = "llama";  ///< The family's name in checkpoints.

  /// (layers, heads, mlp_hidden): heads are query heads; key/value groups follow from them.
  [[nodiscard]] static constexpr SubnetworkShape subnetwork_shape(const LlamaConfig& c) noexcept {
    return {c.layers, c.heads, c.mlp_hidden};
  }

  /// The slice plan of `subnet`, in the arena order of layout_llama (parameters.hpp). Throws
  /// value_error when `subnet` is not a valid subnetwork of `config`'s shape.
  [[nodiscard]] static SlicePlan slice_plan(const LlamaConfig& config, const Subnetwork& subnet) {
    detail::check_subnetwork_of(subnetwork_shape(config), subnet, "Llama slice_plan");
    const Index V = config.vocab, C = config.width, d = config.head_dim(), M = config.mlp_hidden,
                H = config.heads, G = config.kv_heads, q = H * d, kv = G * d;
    SlicePlan plan;
    plan.add({.rows = V, .cols = C, .gemm_weight = config.tie_embeddings});  // embed_tokens
    std::vector<Index> groups, group_of_head;
    for (int l = 0; l < config.layers; ++l) {
      const bool on = subnet.is_active(l);
      const auto heads = on ? subnet.heads(l) : std::span<const int>();
      const auto neurons = on ? subnet.neurons(l) : std::span<const int>();
      const Index h = std::ssize(heads), m = std::ssize(neurons);
      int head_list = -1, group_list = -1, neuron_list = -1;
      if (on && (h < H || !subnet.head_scales(l).empty())) {
        std::vector<Index> head_dims, group_dims;
        std::vector<double> head_dim_scales;
        for (std::size_t k = 0; k < heads.size(); ++k) {
          for (Index i = 0; i < d; ++i) {
            head_dims.push_back(heads[k] * d + i);
            if (!subnet.head_scales(l).empty()) {
              head_dim_scales.push_back(subnet.head_scales(l)[k]);
            }
          }
        }
        llama_kv_groups(heads, config.group_size(), groups, group_of_head);
        for (const Index g : groups) {
          for (Index i = 0; i < d; ++i) group_dims.push_back(g * d + i);
        }
        head_list = plan.add_list(std::move(head_dims), q, std::move(head_dim_scales),
                                  {.kind = UnitKind::head, .layer = l, .size = d});
        if (std::ssize(groups) < G) group_list = plan.add_list(std::move(group_dims), kv);
      }
      if (on && (m < M || !subnet.neuron_scales(l).empty())) {
        neuron_list = plan.add_list({neurons.begin(), neurons.end()}, M,
                                    {subnet.neuron_scales(l).begin(),
                                     subnet.neuron_scales(l).end()},
                                    {.kind = UnitKind::neuron, .layer = l});
      }
      const LayerSlices layer{on};
      // The uniform output scales; per-unit scales ride on the lists instead.
      const double head_scale =
          h && subnet.head_scales(l).empty() ? double(H) / double(h) : 1.0;
      const double neuron_scale =
          m && subnet.neuron_scales(l).empty() ? double(M) / double(m) : 1.0;
      plan.add(layer.whole(1, C));                                        // input_layernorm
      plan.add(layer.sliced(q, C, SliceKind::rows, head_list, true));     // q_proj
      plan.add(layer.sliced(kv, C, SliceKind::rows, group_list, true));   // k_proj
      plan.add(layer.sliced(kv, C, SliceKind::rows, group_list, true));   // v_proj
      plan.add(layer.sliced(C, q, SliceKind::columns, head_list, true, head_scale));  // o_proj
      plan.add(layer.whole(1, C));  // post_attention_layernorm
      plan.add(layer.sliced(M, C, SliceKind::rows, neuron_list, true));   // gate_proj
      plan.add(layer.sliced(M, C, SliceKind::rows, neuron_list, true));   // up_proj
      // down_proj
      plan.add(layer.sliced(C, M, SliceKind::columns, neuron_list, true, neuron_scale));
    }
    plan.add({.rows = 1, .cols = C});  // model.norm
    if (!config.tie_embeddings) plan.add({.rows = V, .cols = C, .gemm_weight = true});  // lm_head
    plan.validate("Llama slice_plan", config.parameter_count());
    return plan;
  }

  /// FLOPs of one forward and backward pass of `subnet` over a (batch, seq) batch (see above).
  /// Throws value_error unless batch, seq >= 1, kv_heads divides heads and `subnet` is valid
  /// for `config`.
  [[nodiscard]] static StepFlops step_flops(const LlamaConfig& config, std::int64_t batch,
                                            std::int64_t seq, const Subnetwork& subnet) {
    require<value_error>(batch >= 1 && seq >= 1,
                         "llama_step_flops: batch and seq must be >= 1, got ", batch, " and ", seq);
    require<value_error>(config.kv_heads >= 1 && config.heads % config.kv_heads == 0,
                         "llama_step_flops: kv_heads ", config.kv_heads, " does not divide heads ",
                         config.heads);
    detail::check_subnetwork_of(subnetwork_shape(config), subnet, "llama_step_flops");
    return detail::plan_step_flops(slice_plan(config, subnet), subnet, batch, seq,
                                   config.head_dim());
  }

  /// The configuration as checkpoints record it.
  [[nodiscard]] static nlohmann::json config_json(const LlamaConfig& c) {
    return {{"family", "llama"}, {"layers", c.layers}, {"heads", c.heads},
            {"kv_heads", c.kv_heads}, {"width", c.width}, {"mlp_hidden", c.mlp_hidden},
            {"vocab", c.vocab}, {"context", c.context}, {"rope_theta", c.rope_theta},
            {"norm_eps", c.norm_eps}, {"tie_embeddings", c.tie_embeddings}};
  }

  /// transformers' config.json of the configuration (llama_hf_config, models/llama/hf_config.hpp).
  [[nodiscard]] static nlohmann::json hf_config(const LlamaConfig& c,
                                                std::string_view torch_dtype = "float32") {
    return llama_hf_config(c, torch_dtype);
  }
  /// The configuration a parsed config.json `j` describes (llama_config_from_hf); throws
  /// io_error naming `where` and every setting est's Llama does not implement.
  [[nodiscard]] static LlamaConfig config_from_hf(const nlohmann::json& j,
                                                  const std::string& where) {
    return llama_config_from_hf(j, where);
  }

  /// A checkpoint's model files: `dir`/model.safetensors in LlamaForCausalLM's layout and
  /// transformers' config.json beside it, so from_pretrained(dir) loads the directory.
  template <class T>
  static void save_weights(const std::filesystem::path& dir, const LlamaConfig& config,
                           const std::vector<ParameterSpec>& specs, std::span<const T> arena,
                           const std::map<std::string, std::string>& metadata) {
    save_llama_safetensors(dir / "model.safetensors", specs, arena, metadata);
    detail::write_hf_config(dir, llama_hf_config(config, detail::torch_dtype_name<T>()));
  }

  /// Reads the weights of `path` — a checkpoint directory, a safetensors file or a sharded
  /// checkpoint's index — into `arena` (load_llama_safetensors).
  template <class T>
  static void load_weights(const std::filesystem::path& path, const LlamaConfig&,
                           const std::vector<ParameterSpec>& specs, std::span<T> arena) {
    load_llama_safetensors(path, specs, arena);
  }
};

/// Registers LlamaFamily as the family of LlamaConfig.
template <>
struct family_of<LlamaConfig> {
  using type = LlamaFamily;  ///< The family of LlamaConfig.
};

/// FLOPs of one step of `subnet` of a Llama (the family's count).
[[nodiscard]] inline StepFlops llama_step_flops(const LlamaConfig& config, std::int64_t batch,
                                                std::int64_t seq, const Subnetwork& subnet) {
  return LlamaFamily::step_flops(config, batch, seq, subnet);
}

/// FLOPs of one step of the full model.
[[nodiscard]] inline StepFlops llama_step_flops(const LlamaConfig& config, std::int64_t batch,
                                                std::int64_t seq) {
  return llama_step_flops(config, batch, seq,
                          Subnetwork::full(LlamaFamily::subnetwork_shape(config)));
}

}  // namespace est
