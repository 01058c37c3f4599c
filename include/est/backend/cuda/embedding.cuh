#pragma once
// Token + position embedding on the GPU. Same contract as the CPU embedding.hpp, except that
// token ids live on the device and are not checked here: the model checks them on the host
// before it uploads them. An id outside [0, V) writes NaN rows in the forward pass (so the
// mistake shows) and is skipped by the backward pass.
//
// The backward pass is deterministic and adds in the CPU's order: the positions are sorted by
// token with CUB's stable radix sort, and one block adds each token's rows in position order.

#include <cstdint>

#include <cub/device/device_radix_sort.cuh>

#include "est/backend/cuda/kernels.cuh"
#include "est/core/op_checks.hpp"
#include "est/core/tensor.hpp"

namespace est {

namespace cuda_detail {

template <class T>
__global__ void embedding_forward_kernel(T* out, const std::int32_t* tokens, const T* wte,
                                         const T* wpe, Index n, Index t_len, Index c, Index vocab) {
  const Index i = Index(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n * c) return;
  const Index bt = i / c, col = i % c;
  const std::int32_t token = tokens[bt];
  const bool valid = token >= 0 && token < vocab;
  const T position = wpe ? wpe[(bt % t_len) * c + col] : T(0);
  out[i] = valid ? wte[Index(token) * c + col] + position : T(__int_as_float(0x7fc00000));
}

/// One block per sorted position; the first position of each token adds all of that token's
/// rows, in position order, into its wte row.
template <class T>
__global__ void embedding_backward_wte_kernel(T* d_wte, const T* d_out,
                                              const std::int32_t* sorted_tokens,
                                              const std::int32_t* sorted_positions, Index n,
                                              Index c, Index vocab) {
  const Index i = blockIdx.x;
  const std::int32_t token = sorted_tokens[i];
  if (i > 0 && sorted_tokens[i - 1] == token) return;
  if (token < 0 || token >= vocab) return;
  for (Index col = threadIdx.x; col < c; col += blockDim.x) {
    T acc = d_wte[Index(token) * c + col];
    for (Index j = i; j < n && sorted_tokens[j] == token; ++j) {
      acc += d_out[Index(sorted_positions[j]) * c + col];
    }
    d_wte[Index(token) * c + col] = acc;
  }
}

template <class T>
__global__ void embedding_backward_wpe_kernel(T* d_wpe, const T* d_out, Index batch, Index t_len,
                                              Index c) {
  const Index i = Index(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= t_len * c) return;
  T acc = d_wpe[i];
  for (Index b = 0; b < batch; ++b) acc += d_out[b * t_len * c + i];
  d_wpe[i] = acc;
}

template <class = void>
__global__ void iota_kernel(std::int32_t* out, Index n) {
  const Index i = Index(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) out[i] = static_cast<std::int32_t>(i);
}

}  // namespace cuda_detail

/// out (B, T, C) from tokens (B, T) (on the device), wte (V, C), wpe (P, C) or empty.
template <class T>
void embedding_forward(const Context<cuda>& ctx, TensorView<T, cuda> out,
                       ConstView<std::int32_t, cuda> tokens, ConstView<T, cuda> wte,
                       ConstView<T, cuda> wpe) {
  const bool with_positions = op_checks::embedding("embedding_forward", tokens.shape(),
                                                    out.shape(), wte.shape(), wpe.shape());
  const Index C = wte.dim(1);
  const Index n = tokens.numel();
  if (n == 0) return;
  cuda_detail::embedding_forward_kernel<<<cuda_detail::blocks_for(n * C, 256), 256, 0,
                                          ctx.stream()>>>(out.data(), tokens.data(), wte.data(),
                                                          with_positions ? wpe.data() : nullptr, n,
                                                          tokens.dim(1), C,
                                                          wte.dim(0));
  EST_CUDA_CHECK_LAUNCH();
}

/// d_wte (V, C) += d_out rows by token; d_wpe (P, C) += sum over the batch.
template <class T>
void embedding_backward(const Context<cuda>& ctx, TensorView<T, cuda> d_wte,
                        TensorView<T, cuda> d_wpe, ConstView<T, cuda> d_out,
                        ConstView<std::int32_t, cuda> tokens) {
  const bool with_positions = op_checks::embedding("embedding_backward", tokens.shape(),
                                                    d_out.shape(), d_wte.shape(), d_wpe.shape());
  const Index C = d_wte.dim(1);
  const Index n = tokens.numel(), B = tokens.dim(0), T_ = tokens.dim(1);
  if (n == 0) return;
  // Scratch: sorted tokens, positions, sorted positions (n each), then CUB's temporary storage.
  int bits = 1;
  while (bits < 31 && (Index(1) << bits) < d_wte.dim(0)) ++bits;
  std::size_t temp_bytes = 0;
  EST_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, temp_bytes,
                                                 static_cast<const std::int32_t*>(nullptr),
                                                 static_cast<std::int32_t*>(nullptr),
                                                 static_cast<const std::int32_t*>(nullptr),
                                                 static_cast<std::int32_t*>(nullptr), int(n), 0,
                                                 bits, ctx.stream()));
  const std::size_t ints = std::size_t(3 * n + 64);  // +64: keep the temp storage aligned
  auto* base = static_cast<std::int32_t*>(ctx.scratch(Context<cuda>::Scratch::reduce,
                                                      ints * sizeof(std::int32_t) + temp_bytes));
  std::int32_t* sorted_tokens = base;
  std::int32_t* positions = base + n;
  std::int32_t* sorted_positions = base + 2 * n;
  void* temp = base + ((3 * n + 63) / 64) * 64;
  cuda_detail::iota_kernel<><<<cuda_detail::blocks_for(n, 256), 256, 0, ctx.stream()>>>(positions,
                                                                                     n);
  EST_CUDA_CHECK_LAUNCH();
  EST_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(temp, temp_bytes, tokens.data(), sorted_tokens,
                                                 positions, sorted_positions, int(n), 0, bits,
                                                 ctx.stream()));
  cuda_detail::embedding_backward_wte_kernel<<<unsigned(n), 256, 0, ctx.stream()>>>(
      d_wte.data(), d_out.data(), sorted_tokens, sorted_positions, n, C, d_wte.dim(0));
  EST_CUDA_CHECK_LAUNCH();
  if (!with_positions) return;
  cuda_detail::embedding_backward_wpe_kernel<<<cuda_detail::blocks_for(T_ * C, 256), 256, 0,
                                               ctx.stream()>>>(d_wpe.data(), d_out.data(), B, T_,
                                                               C);
  EST_CUDA_CHECK_LAUNCH();
}

}  // namespace est
