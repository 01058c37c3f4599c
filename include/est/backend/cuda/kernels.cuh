#pragma once
// Device-side building blocks shared by the CUDA kernels: warp and block reductions, grid
// sizing, and a column-sum reduction over the rows of a matrix that is deterministic (fixed
// partition of the rows, partial sums added in a fixed order).

#include <type_traits>

#include "est/backend/cuda/context.cuh"
#include "est/core/shape.hpp"

namespace est::cuda_detail {

inline constexpr unsigned warp_size = 32;

struct Add {
  template <class T>
  __device__ T operator()(T a, T b) const { return a + b; }
};
struct Max {
  template <class T>
  __device__ T operator()(T a, T b) const { return max(a, b); }
};

/// `op` over the 32 lanes of a warp; every lane gets the result.
template <class T, class Op>
__device__ inline T warp_reduce(T v, Op op) {
  for (int offset = 16; offset > 0; offset /= 2) v = op(v, __shfl_xor_sync(0xffffffffu, v, offset));
  return v;
}
template <class T>
__device__ inline T warp_sum(T v) { return warp_reduce(v, Add{}); }
template <class T>
__device__ inline T warp_max(T v) { return warp_reduce(v, Max{}); }

/// `op` over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the
/// result. `shared` holds 32 values; it is free again when the call returns.
template <class T, class Op>
__device__ inline T block_reduce(T v, T* shared, Op op) {
  const unsigned lane = threadIdx.x % warp_size, warp = threadIdx.x / warp_size;
  v = warp_reduce(v, op);
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  const unsigned warps = blockDim.x / warp_size;
  // Lanes past the last warp hold a value that changes nothing: 0 for a sum, warp 0's for a max.
  T neutral = shared[0];
  if constexpr (std::is_same_v<Op, Add>) neutral = T(0);
  T total = lane < warps ? shared[lane] : neutral;
  total = warp_reduce(total, op);
  __syncthreads();  // shared may be reused by the next reduction
  return total;
}
template <class T>
__device__ inline T block_sum(T v, T* shared) { return block_reduce(v, shared, Add{}); }
template <class T>
__device__ inline T block_max(T v, T* shared) { return block_reduce(v, shared, Max{}); }

/// partial[chunk, c] = Σ over the rows of `chunk` of f(r, c), for a grid of (ceil(C/32),
/// chunks) blocks of 32×8 threads; rows are split into `chunks` contiguous chunks.
template <class T, class F>
__global__ void column_partial_sums(T* partial, Index rows, Index cols, Index rows_per_chunk,
                                    F f) {
  __shared__ T tile[8][33];
  const Index c = Index(blockIdx.x) * 32 + threadIdx.x;
  const Index begin = Index(blockIdx.y) * rows_per_chunk;
  const Index end = min(rows, begin + rows_per_chunk);
  T sum = T(0);
  if (c < cols) {
    for (Index r = begin + threadIdx.y; r < end; r += 8) sum += f(r, c);
  }
  tile[threadIdx.y][threadIdx.x] = sum;
  __syncthreads();
  if (threadIdx.y == 0 && c < cols) {
    T total = T(0);
    for (int i = 0; i < 8; ++i) total += tile[i][threadIdx.x];
    partial[Index(blockIdx.y) * cols + c] = total;
  }
}

/// out[c] += Σ_chunk partial[chunk, c], chunks in order.
template <class T>
__global__ void add_partial_sums(T* out, const T* partial, Index chunks, Index cols) {
  const Index c = Index(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= cols) return;
  T total = T(0);
  for (Index i = 0; i < chunks; ++i) total += partial[i * cols + c];
  out[c] += total;
}

/// out (cols) += Σ_r f(r, c) over r < rows, where f is a device functor or lambda. The rows are
/// split into fixed chunks whose partial sums are added in order: deterministic for a given
/// (rows, cols, device).
template <class T, class F>
void column_sums(const Context<cuda>& ctx, T* out, Index rows, Index cols, F f) {
  if (rows == 0 || cols == 0) return;
  const Index chunks = std::min<Index>(Index(ctx.multiprocessors()) * 4 / ((cols + 31) / 32) + 1,
                                       (rows + 63) / 64);
  const Index per_chunk = (rows + chunks - 1) / chunks;
  const Index used = (rows + per_chunk - 1) / per_chunk;
  T* partial = static_cast<T*>(
      ctx.scratch(Context<cuda>::Scratch::partials, sizeof(T) * std::size_t(used * cols)));
  const dim3 grid(unsigned((cols + 31) / 32), unsigned(used)), block(32, 8);
  column_partial_sums<<<grid, block, 0, ctx.stream()>>>(partial, rows, cols, per_chunk, f);
  EST_CUDA_CHECK_LAUNCH();
  add_partial_sums<<<blocks_for(cols, 256), 256, 0, ctx.stream()>>>(out, partial, used, cols);
  EST_CUDA_CHECK_LAUNCH();
}

}  // namespace est::cuda_detail
