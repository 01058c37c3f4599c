#pragma once
// Device-side building blocks shared by the CUDA kernels: warp and block reductions, grid
// sizing, and a column-sum reduction over the rows of a matrix that is deterministic (fixed
// partition of the rows, partial sums added in a fixed order).

#include "est/backend/cuda/context.cuh"
#include "est/core/shape.hpp"

namespace est::cuda_detail {

inline constexpr unsigned warp_size = 32;

template <class T>
__device__ inline T warp_sum(T v) {
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

template <class T>
__device__ inline T warp_max(T v) {
  for (int offset = 16; offset > 0; offset /= 2) v = max(v, __shfl_xor_sync(0xffffffffu, v, offset));
  return v;
}

/// Sum over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the
/// result. `shared` holds 32 values. Calls must not be back to back without a barrier between.
template <class T>
__device__ inline T block_sum(T v, T* shared) {
  const unsigned lane = threadIdx.x % warp_size, warp = threadIdx.x / warp_size;
  v = warp_sum(v);
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  const unsigned warps = blockDim.x / warp_size;
  T total = lane < warps ? shared[lane] : T(0);
  total = warp_sum(total);
  __syncthreads();  // shared may be reused by the next reduction
  return total;
}

template <class T>
__device__ inline T block_max(T v, T* shared) {
  const unsigned lane = threadIdx.x % warp_size, warp = threadIdx.x / warp_size;
  v = warp_max(v);
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  const unsigned warps = blockDim.x / warp_size;
  T total = lane < warps ? shared[lane] : shared[0];
  total = warp_max(total);
  __syncthreads();
  return total;
}

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
