#pragma once
// The CUDA backend: Context<cuda>, Tensor<T, cuda> and every op of the CPU backend for device
// tensors, so that Gpt2<Config, cuda>, Llama<Config, cuda>, AdamW<T, cuda> and the Trainer run
// on one GPU. Include it (before the models and the trainer) from .cu files compiled by nvcc and
// linked to est::cuda.

#include "est/backend/cuda/runtime.cuh"
#include "est/backend/cuda/context.cuh"
#include "est/backend/cuda/memory.cuh"
#include "est/backend/cuda/kernels.cuh"
#include "est/backend/cuda/gemm.cuh"
#include "est/backend/cuda/linear.cuh"
#include "est/backend/cuda/layernorm.cuh"
#include "est/backend/cuda/rmsnorm.cuh"
#include "est/backend/cuda/gelu.cuh"
#include "est/backend/cuda/residual.cuh"
#include "est/backend/cuda/embedding.cuh"
#include "est/backend/cuda/rope.cuh"
#include "est/backend/cuda/swiglu.cuh"
#include "est/backend/cuda/attention.cuh"
#include "est/backend/cuda/kv_groups.cuh"
#include "est/backend/cuda/cross_entropy.cuh"
#include "est/backend/cuda/gather.cuh"
#include "est/backend/cuda/adamw.cuh"
#include "est/backend/cuda/norm.cuh"
#include "est/backend/cuda/mask.cuh"
