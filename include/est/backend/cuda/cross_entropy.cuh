#pragma once
// Softmax cross-entropy fused with its gradient on the GPU, one block per row; same contract as
// the CPU cross_entropy.hpp except that targets live on the device (the model checks them on the
// host before uploading; an id outside [0, V) gives a NaN loss). The mean loss is reduced on the
// device in double and copied back, which waits for the stream.
// Shapes: N rows (B*T), V vocabulary.

#include <cstdint>

#include "est/backend/cuda/kernels.cuh"
#include "est/core/op_checks.hpp"
#include "est/core/tensor.hpp"

namespace est {

namespace cuda_detail {

template <class T>
__global__ void softmax_cross_entropy_kernel(T* losses, T* d_logits, Index d_stride,
                                             const T* logits, Index stride,
                                             const std::int32_t* targets, Index v, T grad_scale) {
  __shared__ T shared[32];
  const Index row = blockIdx.x;
  const T* z = logits + row * stride;
  const std::int32_t target = targets[row];
  const bool valid = target >= 0 && target < v;
  const T z_target = valid ? z[target] : T(0);  // read before any write (d_logits may alias)
  T m = -INFINITY;
  for (Index j = threadIdx.x; j < v; j += blockDim.x) m = max(m, z[j]);
  m = block_max(m, shared);
  T sum = T(0);
  for (Index j = threadIdx.x; j < v; j += blockDim.x) sum += exp(z[j] - m);
  sum = block_sum(sum, shared);
  if (threadIdx.x == 0) {
    losses[row] = valid ? log(sum) - (z_target - m) : T(__int_as_float(0x7fc00000));
  }
  if (d_logits == nullptr) return;
  T* g = d_logits + row * d_stride;
  const T factor = grad_scale / sum;
  for (Index j = threadIdx.x; j < v; j += blockDim.x) {
    const T e = exp(z[j] - m) * factor;
    g[j] = j == target ? e - grad_scale : e;
  }
}

template <class T>
__global__ void sum_to_double_kernel(double* out, const T* values, Index n) {
  __shared__ double shared[32];
  double sum = 0;
  for (Index i = threadIdx.x; i < n; i += blockDim.x) sum += double(values[i]);
  sum = block_sum(sum, shared);
  if (threadIdx.x == 0) *out = sum;
}

}  // namespace cuda_detail

/// losses (N) = -log softmax(logits (N, V))[targets (N)]; when `d_logits` is not empty it
/// receives grad_scale · (softmax − onehot) and may alias `logits`. Returns the mean loss.
template <class T>
double softmax_cross_entropy(const Context<cuda>& ctx, TensorView<T, cuda> losses,
                             MatrixView<T, cuda> d_logits, ConstMatrix<T, cuda> logits,
                             ConstView<std::int32_t, cuda> targets, T grad_scale) {
  const Index n = logits.rows(), v = logits.cols();
  const bool with_grad =
      op_checks::softmax_cross_entropy(d_logits, logits, targets.numel(), losses.numel());
  if (n == 0) return 0.0;
  cuda_detail::softmax_cross_entropy_kernel<<<unsigned(n), 512, 0, ctx.stream()>>>(
      losses.data(), with_grad ? d_logits.data() : nullptr, d_logits.stride(), logits.data(),
      logits.stride(), targets.data(), v, grad_scale);
  EST_CUDA_CHECK_LAUNCH();
  auto* total = static_cast<double*>(ctx.scratch(Context<cuda>::Scratch::reduce, sizeof(double)));
  cuda_detail::sum_to_double_kernel<<<1, 1024, 0, ctx.stream()>>>(total, losses.data(), n);
  EST_CUDA_CHECK_LAUNCH();
  double host = 0;
  EST_CUDA_CHECK(cudaMemcpyAsync(&host, total, sizeof(double), cudaMemcpyDeviceToHost,
                                 ctx.stream()));
  ctx.synchronize();
  return host / static_cast<double>(n);
}

}  // namespace est
