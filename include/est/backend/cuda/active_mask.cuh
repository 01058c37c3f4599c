#pragma once
// mark_active_parameters on the GPU: the same mask as the CPU functions (models/
// gpt2_parameters.hpp, models/llama_parameters.hpp), written into a device arena by kernels, so
// a training step never builds or copies a byte per parameter on the host. The host only
// expands the subnetwork into a few small masks per layer (GPT-2: the Q/K/V columns of the
// active heads, the W_O rows of the active heads, the active neurons; Llama: the q rows and o
// columns of the active heads, the k and v rows of the groups they read, the active neurons)
// and copies them over; every matrix's mask is one of them broadcast along its rows or columns.

#include <algorithm>
#include <cstdint>
#include <vector>

#include "est/backend/cuda/kernels.cuh"
#include "est/models/gpt2_parameters.hpp"
#include "est/models/llama_parameters.hpp"

namespace est {

namespace cuda_detail {

/// out (rows, cols) = column_mask[c] (when given) AND row_mask[r] (when given).
template <class = void>
__global__ void broadcast_mask_kernel(std::uint8_t* out, Index rows, Index cols,
                                             const std::uint8_t* column_mask,
                                             const std::uint8_t* row_mask) {
  const Index i = Index(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= rows * cols) return;
  const Index r = i / cols, c = i % cols;
  out[i] = (column_mask ? column_mask[c] : 1) & (row_mask ? row_mask[r] : 1);
}

inline void broadcast_mask(const Context<cuda>& ctx, TensorView<std::uint8_t, cuda> out,
                           Index rows, const std::uint8_t* column_mask,
                           const std::uint8_t* row_mask) {
  const Index n = out.numel();
  if (n == 0) return;
  broadcast_mask_kernel<><<<blocks_for(n, 256), 256, 0, ctx.stream()>>>(out.data(), rows, n / rows,
                                                                     column_mask, row_mask);
  EST_CUDA_CHECK_LAUNCH();
}

inline void fill_mask(const Context<cuda>& ctx, TensorView<std::uint8_t, cuda> out,
                      std::uint8_t value) {
  if (out.numel() == 0) return;
  EST_CUDA_CHECK(cudaMemsetAsync(out.data(), value, std::size_t(out.numel()), ctx.stream()));
}

}  // namespace cuda_detail

/// Writes into the device arena `mask` (one byte per parameter) 1 for every element `subnet`
/// trains and 0 elsewhere; the same bytes as the CPU mark_active_parameters.
inline void mark_active_parameters(const Context<cuda>& ctx, const Gpt2Config& config,
                                   const Subnetwork& subnet, TensorView<std::uint8_t, cuda> mask) {
  detail::check_active_mask(config, subnet, mask.numel());
  const Index L = config.layers, C = config.width, d = config.head_dim(), M = config.mlp_hidden;
  // Per layer: Q/K/V column mask (3C), W_O row mask (C), neuron mask (M).
  const Index per_layer = 3 * C + C + M;
  std::vector<std::uint8_t> host(std::size_t(L * per_layer), 0);
  for (int l = 0; l < L; ++l) {
    if (!subnet.is_active(l)) continue;
    std::uint8_t* qkv = host.data() + l * per_layer;
    std::uint8_t* heads = qkv + 3 * C;
    std::uint8_t* neurons = heads + C;
    for (int h : subnet.heads(l)) {
      for (Index i = 0; i < d; ++i) {
        qkv[h * d + i] = qkv[C + h * d + i] = qkv[2 * C + h * d + i] = 1;
        heads[h * d + i] = 1;
      }
    }
    for (int n : subnet.neurons(l)) neurons[n] = 1;
  }
  auto* device = static_cast<std::uint8_t*>(
      ctx.scratch(Context<cuda>::Scratch::masks, host.size()));
  EST_CUDA_CHECK(cudaMemcpyAsync(device, host.data(), host.size(), cudaMemcpyHostToDevice,
                                 ctx.stream()));
  const auto t = layout_gpt2<std::uint8_t, cuda>(config, mask.data(), nullptr);
  for (auto v : {t.wte, t.wpe, t.ln_f_weight, t.ln_f_bias}) cuda_detail::fill_mask(ctx, v, 1);
  for (int l = 0; l < L; ++l) {
    const auto& layer = t.layers[std::size_t(l)];
    const std::uint8_t on = subnet.is_active(l) ? 1 : 0;
    for (auto v : {layer.ln_1_weight, layer.ln_1_bias, layer.ln_2_weight, layer.ln_2_bias,
                   layer.attn_proj_bias, layer.fc_proj_bias}) {
      cuda_detail::fill_mask(ctx, v, on);
    }
    const std::uint8_t* qkv = device + l * per_layer;
    const std::uint8_t* heads = qkv + 3 * C;
    const std::uint8_t* neurons = heads + C;
    cuda_detail::broadcast_mask(ctx, layer.attn_weight, C, qkv, nullptr);
    cuda_detail::broadcast_mask(ctx, layer.attn_bias, 1, qkv, nullptr);
    cuda_detail::broadcast_mask(ctx, layer.attn_proj_weight, C, nullptr, heads);
    cuda_detail::broadcast_mask(ctx, layer.fc_weight, C, neurons, nullptr);
    cuda_detail::broadcast_mask(ctx, layer.fc_bias, 1, neurons, nullptr);
    cuda_detail::broadcast_mask(ctx, layer.fc_proj_weight, M, nullptr, neurons);
  }
}

/// Writes into the device arena `mask` (one byte per parameter) 1 for every element of a Llama
/// that `subnet` trains and 0 elsewhere; the same bytes as the CPU mark_active_parameters.
inline void mark_active_parameters(const Context<cuda>& ctx, const LlamaConfig& config,
                                   const Subnetwork& subnet, TensorView<std::uint8_t, cuda> mask) {
  detail::check_active_mask(config, subnet, mask.numel());
  const Index L = config.layers, C = config.width, d = config.head_dim(), M = config.mlp_hidden,
              q = Index(config.heads) * d, kv = Index(config.kv_heads) * d;
  // Per layer: head mask (H·d: q rows, o columns), group mask (G·d: k and v rows), neuron mask
  // (M: gate and up rows, down columns).
  const Index per_layer = q + kv + M;
  std::vector<std::uint8_t> host(std::size_t(L * per_layer), 0);
  std::vector<Index> groups, group_of_head;
  for (int l = 0; l < L; ++l) {
    if (!subnet.is_active(l)) continue;
    std::uint8_t* heads = host.data() + l * per_layer;
    std::uint8_t* kv_groups = heads + q;
    std::uint8_t* neurons = kv_groups + kv;
    llama_kv_groups(subnet.heads(l), config.group_size(), groups, group_of_head);
    for (int h : subnet.heads(l)) std::fill_n(heads + h * d, d, std::uint8_t{1});
    for (Index g : groups) std::fill_n(kv_groups + g * d, d, std::uint8_t{1});
    for (int n : subnet.neurons(l)) neurons[n] = 1;
  }
  auto* device = static_cast<std::uint8_t*>(
      ctx.scratch(Context<cuda>::Scratch::masks, host.size()));
  if (!host.empty()) {
    EST_CUDA_CHECK(cudaMemcpyAsync(device, host.data(), host.size(), cudaMemcpyHostToDevice,
                                   ctx.stream()));
  }
  const auto t = layout_llama<std::uint8_t, cuda>(config, mask.data(), nullptr);
  for (auto v : {t.embed, t.norm, t.lm_head}) cuda_detail::fill_mask(ctx, v, 1);
  for (int l = 0; l < L; ++l) {
    const auto& layer = t.layers[std::size_t(l)];
    const std::uint8_t on = subnet.is_active(l) ? 1 : 0;
    for (auto v : {layer.input_norm, layer.post_norm}) cuda_detail::fill_mask(ctx, v, on);
    const std::uint8_t* heads = device + l * per_layer;
    const std::uint8_t* kv_groups = heads + q;
    const std::uint8_t* neurons = kv_groups + kv;
    cuda_detail::broadcast_mask(ctx, layer.q, q, nullptr, heads);
    cuda_detail::broadcast_mask(ctx, layer.k, kv, nullptr, kv_groups);
    cuda_detail::broadcast_mask(ctx, layer.v, kv, nullptr, kv_groups);
    cuda_detail::broadcast_mask(ctx, layer.o, C, heads, nullptr);
    cuda_detail::broadcast_mask(ctx, layer.gate, M, nullptr, neurons);
    cuda_detail::broadcast_mask(ctx, layer.up, M, nullptr, neurons);
    cuda_detail::broadcast_mask(ctx, layer.down, C, neurons, nullptr);
  }
}

}  // namespace est
