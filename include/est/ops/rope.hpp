#pragma once
// Rotary position embeddings, in place on a range of heads of a projection, on any device: the
// entry point models and trainers include. The CPU implementation comes with it
// (backend/cpu/rope.hpp); the CUDA one with est/cuda.cuh (backend/cuda/rope.cuh), chosen by the
// context and tensors' device; the plain twin the tests compare both with is reference/rope.hpp.
//
//   rope_forward(ctx, x (B, T, ·), first column, heads, d, cos (P, d/2), sin (P, d/2))
//   rope_backward(ctx, d_x, first, heads, d, cos, sin)     (the inverse rotation)
//   tables: rope_table (ops/rope_table.hpp), Hugging Face's rotate-half convention

#include "est/ops/rope_table.hpp"
#include "est/backend/cpu/rope.hpp"
