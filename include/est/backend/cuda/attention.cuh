#pragma once
// Causal multi-head self-attention on the GPU, on a fused QKV activation; same layout and
// contract as the CPU attention.hpp (probabilities saved as (B, H, T, T), zero above the
// diagonal). The score and weighted-sum products are cuBLAS strided-batched GEMMs (batched over
// the sequences or over the heads, whichever are more, since both sit at constant strides in the
// row-major activations); the causal softmax and its backward are one warp per row.
// Shapes: B batch, T sequence, H heads, d head size, C = H*d.

#include <cmath>

#include "est/backend/cuda/gemm.cuh"
#include "est/backend/cuda/kernels.cuh"

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
/// x + b·x_b + h·x_h. Each call batches over the larger of B and H with a constant stride and
/// the calls loop over the smaller, so few heads (a sampled subnetwork) still fill the GPU.
template <class T>
void gemm_per_head(const Context<cuda>& ctx, Index B, Index H, Index m, Index n, Index k, T alpha,
                   const T* a, Index lda, Transpose ta, Index a_b, Index a_h, const T* b, Index ldb,
                   Transpose tb, Index b_b, Index b_h, T* c, Index ldc, Index c_b, Index c_h) {
  if (B >= H) {
    for (Index h = 0; h < H; ++h) {
      gemm_rows<T>(ctx, m, n, k, alpha, a + h * a_h, lda, ta, a_b, b + h * b_h, ldb, tb, b_b, T(0),
                   c + h * c_h, ldc, c_b, B);
    }
  } else {
    for (Index s = 0; s < B; ++s) {
      gemm_rows<T>(ctx, m, n, k, alpha, a + s * a_b, lda, ta, a_h, b + s * b_b, ldb, tb, b_h, T(0),
                   c + s * c_b, ldc, c_h, H);
    }
  }
}

struct CudaAttentionDims {
  Index B, T, H, d, C;
};

inline CudaAttentionDims cuda_attention_dims(const char* op, const Shape& qkv, const Shape& out,
                                             const Shape& probs, Index heads) {
  require<shape_error>(qkv.rank() == 3 && qkv[2] % 3 == 0, op, ": qkv has shape ", qkv,
                       ", expected (B, T, 3C)");
  const Index C = qkv[2] / 3;
  require<value_error>(heads >= 1 && C % heads == 0, op, ": heads = ", heads,
                       " must be >= 1 and divide the width C = ", C);
  const CudaAttentionDims dims{qkv[0], qkv[1], heads, C / heads, C};
  require<shape_error>(out == Shape{dims.B, dims.T, C}, op, ": attention output has shape ", out,
                       ", expected ", Shape{dims.B, dims.T, C});
  require<shape_error>(probs == Shape{dims.B, heads, dims.T, dims.T}, op, ": probs has shape ",
                       probs, ", expected ", Shape{dims.B, heads, dims.T, dims.T});
  return dims;
}

}  // namespace cuda_detail

/// out (B, T, C) and probs (B, H, T, T) from qkv (B, T, 3C).
template <class T>
void attention_forward(const Context<cuda>& ctx, TensorView<T, cuda> out,
                       TensorView<T, cuda> probs, ConstView<T, cuda> qkv, Index heads) {
  const auto [B, T_, H, d, C] = cuda_detail::cuda_attention_dims(
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
  const Index rows = B * H * T_;
  constexpr unsigned threads = 256, per_block = threads / cuda_detail::warp_size;
  cuda_detail::causal_softmax_kernel<<<cuda_detail::blocks_for(rows, per_block), threads, 0,
                                       ctx.stream()>>>(p, rows, T_);
  EST_CUDA_CHECK_LAUNCH();
  cuda_detail::gemm_per_head<T>(ctx, B, H, T_, d, T_, T(1), p, T_, Transpose::no, pb, ph, v, 3 * C,
                                Transpose::no, seq, d, out.data(), C, T_ * C, d);
}

/// d_qkv (B, T, 3C) (written) from d_out (B, T, C), the forward's qkv and probs.
template <class T>
void attention_backward(const Context<cuda>& ctx, TensorView<T, cuda> d_qkv,
                        ConstView<T, cuda> d_out, ConstView<T, cuda> qkv,
                        ConstView<T, cuda> probs, Index heads) {
  const auto [B, T_, H, d, C] = cuda_detail::cuda_attention_dims(
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
  const Index rows = B * H * T_;
  constexpr unsigned threads = 256, per_block = threads / cuda_detail::warp_size;
  cuda_detail::causal_softmax_backward_kernel<<<cuda_detail::blocks_for(rows, per_block), threads,
                                                0, ctx.stream()>>>(dp, p, rows, T_, scale);
  EST_CUDA_CHECK_LAUNCH();
  // dQ = dS · K;  dK = dSᵀ · Q
  cuda_detail::gemm_per_head<T>(ctx, B, H, T_, d, T_, T(1), dp, T_, Transpose::no, pb, ph, k,
                                3 * C, Transpose::no, seq, d, dq, 3 * C, seq, d);
  cuda_detail::gemm_per_head<T>(ctx, B, H, T_, d, T_, T(1), dp, T_, Transpose::yes, pb, ph, q,
                                3 * C, Transpose::no, seq, d, dk, 3 * C, seq, d);
}

}  // namespace est
