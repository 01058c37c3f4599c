#pragma once
// The execution context: the state an op needs besides its tensors (thread count for the CPU;
// stream, cuBLAS handle and workspace for CUDA). It is passed explicitly to every op and owned
// by the caller, so est keeps no hidden global state.

#include <thread>

#include "est/core/device.hpp"
#include "est/core/error.hpp"

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace est {

/// Execution context of a device. Only specialisations exist; the primary template explains
/// what to do when a device's backend is missing.
template <class Device>
class Context {
  static_assert(detail::dependent_false<Device>,
                "est: no execution context for this device. For est::cuda, include "
                "\"est/backend/cuda.cuh\" in a .cu file compiled by nvcc and link est::cuda.");
};

/// CPU context: how many threads est's ops split their work over.
template <>
class Context<cpu> {
 public:
  /// Uses every core the process may run on.
  Context() : Context(default_threads()) {}

  /// Splits work over `threads` threads; throws est::value_error when `threads` < 1. Without
  /// OpenMP every op runs on one thread whatever is asked.
  explicit Context(int threads) : threads_(threads) {
    require<value_error>(threads >= 1, "Context<cpu>: threads must be >= 1, got ", threads);
  }

  /// How many threads the ops split their work over (at least 1).
  [[nodiscard]] int threads() const noexcept { return threads_; }

  /// When set, the model checks its logits and its loss for NaN/Inf after every forward pass
  /// and throws est::value_error naming the first non-finite element (a debugging aid; off by
  /// default because it reads every logit once more).
  bool check_numerics = false;

  /// The processors OpenMP says the process may use (omp_get_num_procs), or without OpenMP
  /// std::thread::hardware_concurrency (1 when that is unknown).
  static int default_threads() noexcept {
#if defined(_OPENMP)
    return omp_get_num_procs();
#else
    const unsigned n = std::thread::hardware_concurrency();
    return n == 0 ? 1 : static_cast<int>(n);
#endif
  }

 private:
  int threads_;
};

}  // namespace est
