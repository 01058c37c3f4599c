#pragma once
// Everything est offers, on the CPU and on one NVIDIA GPU, in one include: the CUDA backend
// (Context<cuda>, Tensor<T, cuda> and every op for device tensors) and all of est.hpp, so that
// Gpt2<Config, cuda>, Llama<Config, cuda>, AdamW<T, cuda> and the Trainer run on the GPU.
// Include it from .cu files compiled by nvcc and link est::cuda; it may come before or after
// any other est header.

#include "est/backend/cuda.cuh"
#include "est/est.hpp"
