#pragma once
// Grouped-query attention's key/value expansion, on any device: the entry point models and trainers
// include. The CPU implementation comes with it (backend/cpu/kv_groups.hpp); the CUDA one with
// est/cuda.cuh (backend/cuda/kv_groups.cuh), chosen by the context and tensors' device; the tests
// compare both, followed by attention, with reference/gqa_attention.hpp.
//
//   expand_kv(ctx, expanded (N, 3·h·d), packed (N, (h + 2g)·d), group_of_head, d)
//       each query head's K and V copied next to its Q (as transformers' repeat_kv)
//   reduce_kv(ctx, d_packed (N, (h + 2g)·d) written, d_expanded, group_of_head, d)
//       the heads' K/V gradients summed back per group, in head order

#include "est/backend/cpu/kv_groups.hpp"
