#pragma once
// Filling and copying whole tensors, on any device: the entry point models and trainers include.
// The CPU implementation comes with it (backend/cpu/memory.hpp); the CUDA one with est/cuda.cuh
// (backend/cuda/memory.cuh), chosen by the context and tensors' device; there is no plain twin
// (filling and copying are checked directly).
//
//   fill_zero(ctx, out)    copy(ctx, dst, src)   (the CUDA backend also copies host <-> device)

#include "est/backend/cpu/memory.hpp"
