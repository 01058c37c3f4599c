#pragma once
// The AdamW update of one arena slice, on any device: the entry point models and trainers include.
// The CPU implementation comes with it (backend/cpu/adamw.hpp); the CUDA one with est/cuda.cuh
// (backend/cuda/adamw.cuh), chosen by the context and tensors' device; the plain twin the tests
// compare both with is reference/adamw.hpp.
//
//   adamw_update(ctx, AdamWSlice<T>)   (the slice and the rule: ops/adamw_slice.hpp)

#include "est/ops/adamw_slice.hpp"
#include "est/backend/cpu/adamw.hpp"
