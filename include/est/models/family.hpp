#pragma once
// A model family (GPT-2, Llama, ...) is everything est needs to know about a kind of model
// besides its layers: its configuration type, the shape of its subnetworks, what a subnetwork
// means for each parameter tensor (the slice plan), the FLOPs of a step, and its Hugging Face
// files. Each family is one struct in models/<family>/family.hpp, registered for its
// configuration type through `family_of`; the trainer, the checkpoints and the backends' mask
// writers reach a family only through this concept, so a new family adds its own folder and
// touches nothing in subnet/, train/, io/ or backend/.
//
//   struct MyFamily {
//     using config_type = MyConfig;                       // a structural configuration struct
//     static constexpr std::string_view name = "mine";    // as checkpoints record it
//     static SubnetworkShape subnetwork_shape(const MyConfig&);   // (layers, heads, neurons)
//     static SlicePlan slice_plan(const MyConfig&, const Subnetwork&);  // arena order, checked
//     static StepFlops step_flops(const MyConfig&, std::int64_t batch, std::int64_t seq,
//                                 const Subnetwork&);
//     static nlohmann::json config_json(const MyConfig&); // the configuration's identity
//     static nlohmann::json hf_config(const MyConfig&);   // transformers' config.json
//     static MyConfig config_from_hf(const nlohmann::json&, const std::string& where);
//     template <class T> static void save_weights(const std::filesystem::path& dir,
//         const MyConfig&, const std::vector<ParameterSpec>&, std::span<const T> arena,
//         const std::map<std::string, std::string>& metadata);   // the files of a checkpoint
//     template <class T> static void load_weights(const std::filesystem::path& path,
//         const MyConfig&, const std::vector<ParameterSpec>&, std::span<T> arena);
//         // path: a checkpoint directory, a safetensors file or a sharded index
//   };
//   template <> struct family_of<MyConfig> { using type = MyFamily; };
//
// The functions below (subnetwork_shape, slice_plan, step_flops, mark_active_parameters) take
// any registered configuration and forward to its family.

#include <concepts>
#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "est/ops/mask.hpp"
#include "est/core/context.hpp"
#include "est/core/error.hpp"
#include "est/core/parameter_spec.hpp"
#include "est/core/tensor.hpp"
#include "est/subnet/flops.hpp"
#include "est/subnet/slice_plan.hpp"
#include "est/subnet/subnetwork.hpp"

namespace est {

/// The family of a configuration type: specialised by each family's family.hpp. (Left
/// undefined, so a configuration without a family is simply not a model configuration.)
template <class Config>
struct family_of;

/// What a model family provides (see above).
// [model-family]
template <class F>
concept ModelFamily = requires(const typename F::config_type& config, const Subnetwork& subnet,
                               std::int64_t n, const std::filesystem::path& path,
                               const std::vector<ParameterSpec>& specs,
                               std::span<const float> saved, std::span<float> loaded,
                               const std::map<std::string, std::string>& metadata) {
  { F::name } -> std::convertible_to<std::string_view>;
  { F::subnetwork_shape(config) } -> std::same_as<SubnetworkShape>;
  { F::slice_plan(config, subnet) } -> std::same_as<SlicePlan>;
  { F::step_flops(config, n, n, subnet) } -> std::same_as<StepFlops>;
  { F::config_json(config) } -> std::same_as<nlohmann::json>;
  { F::hf_config(config) } -> std::same_as<nlohmann::json>;
  { F::config_from_hf(nlohmann::json(), std::string()) } -> std::same_as<typename F::config_type>;
  F::save_weights(path, config, specs, saved, metadata);
  F::load_weights(path, config, specs, loaded);
};
// [model-family]

/// A configuration type whose family is registered and complete.
template <class Config>
concept ModelConfig = requires { typename family_of<Config>::type; } &&
                      ModelFamily<typename family_of<Config>::type>;

/// The family struct of configuration type `Config` (Gpt2Family for Gpt2Config, ...).
template <ModelConfig Config>
using family_t = typename family_of<Config>::type;

/// The sizes subnetworks of `config` are drawn from.
template <ModelConfig Config>
[[nodiscard]] constexpr SubnetworkShape subnetwork_shape(const Config& config) {
  return family_t<Config>::subnetwork_shape(config);
}

/// What `subnet` trains of each tensor of a `config` arena.
template <ModelConfig Config>
[[nodiscard]] SlicePlan slice_plan(const Config& config, const Subnetwork& subnet) {
  return family_t<Config>::slice_plan(config, subnet);
}

/// FLOPs of one forward and backward pass of `subnet` over a (batch, seq) batch.
template <ModelConfig Config>
[[nodiscard]] StepFlops step_flops(const Config& config, std::int64_t batch, std::int64_t seq,
                                   const Subnetwork& subnet) {
  return family_t<Config>::step_flops(config, batch, seq, subnet);
}

/// FLOPs of one step of the full model.
template <ModelConfig Config>
[[nodiscard]] StepFlops step_flops(const Config& config, std::int64_t batch, std::int64_t seq) {
  return step_flops(config, batch, seq, Subnetwork::full(subnetwork_shape(config)));
}

namespace detail {
/// The checks every slice plan builder starts with: `subnet` is a valid subnetwork of the
/// family's shape `expected`. `who` names the caller.
inline void check_subnetwork_of(const SubnetworkShape& expected, const Subnetwork& subnet,
                                const char* who) {
  require<value_error>(subnet.shape() == expected, who, ": the subnetwork's shape (",
                       subnet.shape().layers, ", ", subnet.shape().heads, ", ",
                       subnet.shape().neurons, ") is not the configuration's (", expected.layers,
                       ", ", expected.heads, ", ", expected.neurons, ")");
  subnet.validate(who);  // indices are used as offsets
}
}  // namespace detail

namespace detail {
/// A step's FLOPs from its slice plan: 2·N per active element of every GEMM weight, plus, per
/// active layer with h heads of size d, the attention products over the full T x T scores
/// (QKᵀ and P·V, 2·2·B·h·T·T·d); the backward costs exactly twice the forward.
inline StepFlops plan_step_flops(const SlicePlan& plan, const Subnetwork& subnet,
                                 std::int64_t batch, std::int64_t seq, std::int64_t head_dim) {
  std::int64_t forward = plan.gemm_forward_flops(batch * seq);
  for (const int l : subnet.active_layers()) {
    const auto h = static_cast<std::int64_t>(subnet.heads(l).size());
    forward += 2 * 2 * batch * h * seq * seq * head_dim;
  }
  return {forward, 2 * forward};
}
}  // namespace detail

/// Writes into `mask` (one byte per parameter, on the context's device) 1 for every element
/// `subnet` trains and 0 for every other: the per-element mask AdamW takes
/// (train/adamw.hpp). The family's slice plan says which elements those are.
template <class Device, ModelConfig Config>
void mark_active_parameters(const Context<Device>& ctx, const Config& config,
                            const Subnetwork& subnet,
                            std::type_identity_t<TensorView<std::uint8_t, Device>> mask) {
  require<shape_error>(mask.numel() == config.parameter_count(), "mark_active_parameters: mask has ",
                       mask.numel(), " elements, expected parameter_count() = ",
                       config.parameter_count());
  detail::check_subnetwork_of(subnetwork_shape(config), subnet, "mark_active_parameters");
  write_active_mask(ctx, slice_plan(config, subnet), mask);
}

/// The same on the CPU with one thread.
template <ModelConfig Config>
void mark_active_parameters(const Config& config, const Subnetwork& subnet,
                            TensorView<std::uint8_t> mask) {
  mark_active_parameters(Context<cpu>(1), config, subnet, mask);
}

/// Writes into `mask` 1 for every parameter of every layer `subnet` keeps (its unsampled heads
/// and neurons included) and of the tensors outside the layers, and 0 for the parameters of
/// skipped layers: the mask of InactiveParameters::mixed (zero-grad inside active layers,
/// frozen in skipped ones). Throws as mark_active_parameters.
template <class Device, ModelConfig Config>
void mark_active_layers(const Context<Device>& ctx, const Config& config, const Subnetwork& subnet,
                        std::type_identity_t<TensorView<std::uint8_t, Device>> mask) {
  require<shape_error>(mask.numel() == config.parameter_count(), "mark_active_layers: mask has ",
                       mask.numel(), " elements, expected parameter_count() = ",
                       config.parameter_count());
  detail::check_subnetwork_of(subnetwork_shape(config), subnet, "mark_active_layers");
  write_active_mask(ctx, slice_plan(config, subnet).whole_layers(), mask);
}

}  // namespace est
