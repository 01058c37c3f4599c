#pragma once
// Llama's SwiGLU activation on the fused [gate | up] projection, on any device: the entry point
// models and trainers include. The CPU implementation comes with it (backend/cpu/swiglu.hpp); the
// CUDA one with est/cuda.cuh (backend/cuda/swiglu.cuh), chosen by the context and tensors' device;
// the plain twin the tests compare both with is reference/swiglu.hpp.
//
//   swiglu_forward(ctx, out (N, m), gate_up (N, 2m)): out = silu(gate) ⊙ up
//   swiglu_backward(ctx, d_gate_up (N, 2m) written, d_out, gate_up)

#include "est/backend/cpu/swiglu.hpp"
