#pragma once
// Causal multi-head self-attention on the GPU, on a fused QKV activation; same layout and
// contract as the CPU attention.hpp (probabilities saved as (B, H, T, T), zero above the
// diagonal). The score and weighted-sum products are cuBLAS batched GEMMs over every (sequence,
// head) pair at once; the causal softmax and its backward are one warp per row.
// Shapes: B batch, T sequence, H heads, d head size, C = H*d.

#include <cmath>
#include <type_traits>
#include <vector>

#include "est/backend/cuda/gemm.cuh"
#include "est/backend/cuda/kernels.cuh"
#include "est/core/op_checks.hpp"

namespace est {

namespace cuda_detail {

/// Rows of (T, T) score blocks: softmax over columns 0..t of row t (t = row % T), zero after.
template <class T>
__global__ void causal_softmax_kernel(T* p, Index rows, Index t_len) {
  const Index row = Index(blockIdx.x) * (blockDim.x / warp_size) + threadIdx.x / warp_size;
  const unsigned lane = threadIdx.x % warp_size;
  if (row >= rows) return;
  T* r = p + row * t_len;
  const Index t = row % t_len;
  T m = -INFINITY;
  for (Index j = lane; j <= t; j += warp_size) m = max(m, r[j]);
  m = warp_max(m);
  T sum = T(0);
  for (Index j = lane; j <= t; j += warp_size) {
    const T e = exp(r[j] - m);
    r[j] = e;
    sum += e;
  }
  sum = warp_sum(sum);
  const T inv = T(1) / sum;
  for (Index j = lane; j < t_len; j += warp_size) r[j] = j <= t ? r[j] * inv : T(0);
}

/// The same for T <= 32·PerLane with the row held in registers: each element is read once and
/// written once (the probabilities are the attention's largest memory traffic).
template <class T, int PerLane>
__global__ void causal_softmax_registers_kernel(T* p, Index rows, Index t_len) {
  const Index row = Index(blockIdx.x) * (blockDim.x / warp_size) + threadIdx.x / warp_size;
  const unsigned lane = threadIdx.x % warp_size;
  if (row >= rows) return;
  T* r = p + row * t_len;
  const Index t = row % t_len;
  T v[PerLane];
  T m = -INFINITY;
#pragma unroll
  for (int i = 0; i < PerLane; ++i) {
    const Index j = lane + Index(i) * warp_size;
    v[i] = j <= t ? r[j] : -INFINITY;
    m = max(m, v[i]);
  }
  m = warp_max(m);
  T sum = T(0);
#pragma unroll
  for (int i = 0; i < PerLane; ++i) {
    const Index j = lane + Index(i) * warp_size;
    v[i] = j <= t ? exp(v[i] - m) : T(0);
    sum += v[i];
  }
  const T inv = T(1) / warp_sum(sum);
#pragma unroll
  for (int i = 0; i < PerLane; ++i) {
    const Index j = lane + Index(i) * warp_size;
    if (j < t_len) r[j] = v[i] * inv;
  }
}

template <class T, int PerLane>
__global__ void causal_softmax_backward_registers_kernel(T* dp, const T* p, Index rows,
                                                         Index t_len, T scale) {
  const Index row = Index(blockIdx.x) * (blockDim.x / warp_size) + threadIdx.x / warp_size;
  const unsigned lane = threadIdx.x % warp_size;
  if (row >= rows) return;
  T* g = dp + row * t_len;
  const T* pr = p + row * t_len;
  const Index t = row % t_len;
  T pv[PerLane], gv[PerLane];
  T dot = T(0);
#pragma unroll
  for (int i = 0; i < PerLane; ++i) {
    const Index j = lane + Index(i) * warp_size;
    pv[i] = j <= t ? pr[j] : T(0);
    gv[i] = j <= t ? g[j] : T(0);
    dot += pv[i] * gv[i];
  }
  dot = warp_sum(dot);
#pragma unroll
  for (int i = 0; i < PerLane; ++i) {
    const Index j = lane + Index(i) * warp_size;
    if (j < t_len) g[j] = j <= t ? pv[i] * (gv[i] - dot) * scale : T(0);
  }
}

/// In place on dp: ds = p ⊙ (dp − Σ p·dp) · scale on columns 0..t, zero after.
template <class T>
__global__ void causal_softmax_backward_kernel(T* dp, const T* p, Index rows, Index t_len,
                                               T scale) {
  const Index row = Index(blockIdx.x) * (blockDim.x / warp_size) + threadIdx.x / warp_size;
  const unsigned lane = threadIdx.x % warp_size;
  if (row >= rows) return;
  T* g = dp + row * t_len;
  const T* pr = p + row * t_len;
  const Index t = row % t_len;
  T dot = T(0);
  for (Index j = lane; j <= t; j += warp_size) dot += pr[j] * g[j];
  dot = warp_sum(dot);
  for (Index j = lane; j < t_len; j += warp_size) {
    g[j] = j <= t ? pr[j] * (g[j] - dot) * scale : T(0);
  }
}

/// A row-major GEMM for every (sequence b, head h) pair, operand X of the pair at
/// x + b·x_b + h·x_h, as one cuBLAS batched call over all B·H pairs (pointer arrays built here
/// and copied to the device in stream order), so that few heads (a sampled subnetwork) or few
/// sequences still fill the GPU.
template <class T>
void gemm_per_head(const Context<cuda>& ctx, Index B, Index H, Index m, Index n, Index k, T alpha,
                   const T* a, Index lda, Transpose ta, Index a_b, Index a_h, const T* b, Index ldb,
                   Transpose tb, Index b_b, Index b_h, T* c, Index ldc, Index c_b, Index c_h) {
  const Index count = B * H;
  if (count == 0 || m == 0 || n == 0) return;
  // Column-major view: C^T = op(B)^T op(A)^T, so cuBLAS's first operand is ours B.
  std::vector<void*> pointers(std::size_t(3 * count));
  for (Index s = 0; s < B; ++s) {
    for (Index h = 0; h < H; ++h) {
      const Index i = s * H + h;
      pointers[std::size_t(i)] = const_cast<T*>(b + s * b_b + h * b_h);
      pointers[std::size_t(count + i)] = const_cast<T*>(a + s * a_b + h * a_h);
      pointers[std::size_t(2 * count + i)] = c + s * c_b + h * c_h;
    }
  }
  auto* device = static_cast<void**>(
      ctx.scratch(Context<cuda>::Scratch::pointers, sizeof(void*) * pointers.size()));
  EST_CUDA_CHECK(cudaMemcpyAsync(device, pointers.data(), sizeof(void*) * pointers.size(),
                                 cudaMemcpyHostToDevice, ctx.stream()));
  constexpr cudaDataType_t type = data_type<T>();
  const T beta = T(0);
  EST_CUBLAS_CHECK(cublasGemmBatchedEx(
      ctx.cublas(), op(tb), op(ta), int(n), int(m), int(k), &alpha,
      const_cast<const void* const*>(device), type, int(ldb),
      const_cast<const void* const*>(device + count), type, int(lda), &beta, device + 2 * count,
      type, int(ldc), int(count), compute_type<T>(ctx), CUBLAS_GEMM_DEFAULT));
}

/// Launches the causal softmax (backward when dp is given) over `rows` rows of length t_len.
template <class T>
void causal_softmax(const Context<cuda>& ctx, T* p, T* dp, Index rows, Index t_len, T scale) {
  constexpr unsigned threads = 256, per_block = threads / warp_size;
  const unsigned blocks = blocks_for(rows, per_block);
  auto launch = [&](auto per_lane) {
    constexpr int n = decltype(per_lane)::value;
    if (dp) {
      causal_softmax_backward_registers_kernel<T, n>
          <<<blocks, threads, 0, ctx.stream()>>>(dp, p, rows, t_len, scale);
    } else {
      causal_softmax_registers_kernel<T, n><<<blocks, threads, 0, ctx.stream()>>>(p, rows, t_len);
    }
  };
  if (t_len <= 128) {
    launch(std::integral_constant<int, 4>{});
  } else if (t_len <= 512) {
    launch(std::integral_constant<int, 16>{});
  } else if (t_len <= 1024) {
    launch(std::integral_constant<int, 32>{});
  } else if (dp) {
    causal_softmax_backward_kernel<<<blocks, threads, 0, ctx.stream()>>>(dp, p, rows, t_len,
                                                                        scale);
  } else {
    causal_softmax_kernel<<<blocks, threads, 0, ctx.stream()>>>(p, rows, t_len);
  }
  EST_CUDA_CHECK_LAUNCH();
}

}  // namespace cuda_detail

/// out (B, T, C) and probs (B, H, T, T) from qkv (B, T, 3C).
template <class T>
void attention_forward(const Context<cuda>& ctx, TensorView<T, cuda> out,
                       TensorView<T, cuda> probs, ConstView<T, cuda> qkv, Index heads) {
  const auto [B, T_, H, d, C] = op_checks::attention(
      "attention_forward", qkv.shape(), out.shape(), probs.shape(), heads);
  if (B * T_ == 0) return;
  const T scale = T(1) / std::sqrt(T(d));
  const T* q = qkv.data();
  const T* k = q + C;
  const T* v = q + 2 * C;
  T* p = probs.data();
  const Index seq = T_ * 3 * C, pb = H * T_ * T_, ph = T_ * T_;
  // scores (T, T) = scale · Q · Kᵀ, then the causal softmax, then out (T, d) = P · V.
  cuda_detail::gemm_per_head<T>(ctx, B, H, T_, T_, d, scale, q, 3 * C, Transpose::no, seq, d, k,
                                3 * C, Transpose::yes, seq, d, p, T_, pb, ph);
  cuda_detail::causal_softmax<T>(ctx, p, nullptr, B * H * T_, T_, T(1));
  cuda_detail::gemm_per_head<T>(ctx, B, H, T_, d, T_, T(1), p, T_, Transpose::no, pb, ph, v, 3 * C,
                                Transpose::no, seq, d, out.data(), C, T_ * C, d);
}

/// d_qkv (B, T, 3C) (written) from d_out (B, T, C), the forward's qkv and probs.
template <class T>
void attention_backward(const Context<cuda>& ctx, TensorView<T, cuda> d_qkv,
                        ConstView<T, cuda> d_out, ConstView<T, cuda> qkv,
                        ConstView<T, cuda> probs, Index heads) {
  const auto [B, T_, H, d, C] = op_checks::attention(
      "attention_backward", qkv.shape(), d_out.shape(), probs.shape(), heads);
  require<shape_error>(d_qkv.shape() == qkv.shape(), "attention_backward: d_qkv has shape ",
                       d_qkv.shape(), ", expected ", qkv.shape());
  if (B * T_ == 0) return;
  const T scale = T(1) / std::sqrt(T(d));
  // (B, H, T, T) scratch laid out like probs: ∂loss/∂probs, then ∂loss/∂scores.
  T* dp = static_cast<T*>(ctx.scratch(Context<cuda>::Scratch::attention,
                                      sizeof(T) * std::size_t(B * H * T_ * T_)));
  const T* q = qkv.data();
  const T* k = q + C;
  const T* v = q + 2 * C;
  const T* p = probs.data();
  T* dq = d_qkv.data();
  T* dk = dq + C;
  T* dv = dq + 2 * C;
  const Index seq = T_ * 3 * C, pb = H * T_ * T_, ph = T_ * T_;
  // dV (T, d) = Pᵀ · dO;  dP (T, T) = dO · Vᵀ
  cuda_detail::gemm_per_head<T>(ctx, B, H, T_, d, T_, T(1), p, T_, Transpose::yes, pb, ph,
                                d_out.data(), C, Transpose::no, T_ * C, d, dv, 3 * C, seq, d);
  cuda_detail::gemm_per_head<T>(ctx, B, H, T_, T_, d, T(1), d_out.data(), C, Transpose::no, T_ * C,
                                d, v, 3 * C, Transpose::yes, seq, d, dp, T_, pb, ph);
  cuda_detail::causal_softmax<T>(ctx, const_cast<T*>(p), dp, B * H * T_, T_, scale);
  // dQ = dS · K;  dK = dSᵀ · Q
  cuda_detail::gemm_per_head<T>(ctx, B, H, T_, d, T_, T(1), dp, T_, Transpose::no, pb, ph, k,
                                3 * C, Transpose::no, seq, d, dq, 3 * C, seq, d);
  cuda_detail::gemm_per_head<T>(ctx, B, H, T_, d, T_, T(1), dp, T_, Transpose::yes, pb, ph, q,
                                3 * C, Transpose::no, seq, d, dk, 3 * C, seq, d);
}

}  // namespace est
