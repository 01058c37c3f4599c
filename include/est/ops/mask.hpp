#pragma once
// The active mask of a step, written from its slice plan, on any device: the entry point models and
// trainers include. The CPU implementation comes with it (backend/cpu/mask.hpp); the CUDA one with
// est/cuda.cuh (backend/cuda/mask.cuh), chosen by the context and tensors' device; the plain twin
// the tests compare both with is written in the tests themselves.
//
//   write_active_mask(ctx, plan, mask (P)): 1 where the plan says the element trains, else 0

#include "est/backend/cpu/mask.hpp"
