#pragma once
// The fused softmax cross-entropy of the LM head, on any device: the entry point models and
// trainers include. The CPU implementation comes with it (backend/cpu/cross_entropy.hpp); the CUDA
// one with est/cuda.cuh (backend/cuda/cross_entropy.cuh), chosen by the context and tensors'
// device; the plain twin the tests compare both with is reference/cross_entropy.hpp.
//
//   softmax_cross_entropy(ctx, losses (N), d_logits (N, V) or empty, logits (N, V),
//                         targets (N), scale) -> mean loss (double)
//       losses = -log softmax(logits)[target]; d_logits = scale · (softmax - onehot), which may
//       be the logits buffer itself

#include "est/backend/cpu/cross_entropy.hpp"
