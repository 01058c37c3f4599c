#pragma once
// The sliced projections' gathers, scatter-adds and per-unit scales, on any device: the entry point
// models and trainers include. The CPU implementation comes with it (backend/cpu/gather.hpp); the
// CUDA one with est/cuda.cuh (backend/cuda/gather.cuh), chosen by the context and tensors' device;
// the plain twin the tests compare both with is written in the tests themselves.
//
//   gather_columns(ctx, packed (R, k), full (R, n), columns)    scatter_add_columns(...) +=
//   gather_rows(ctx, packed (k, C), full (n, C), rows)          scatter_add_rows(...)    +=
//   scale_rows(ctx, m (R, n), scales (R)), scale_columns(ctx, m (R, n), scales (n))
//       index lists strictly increasing (core/index_runs.hpp checks them the same everywhere)

#include "est/backend/cpu/gather.hpp"
