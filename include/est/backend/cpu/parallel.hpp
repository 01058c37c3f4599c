#pragma once
// Work splitting for CPU ops. The thread count always comes from the context; each thread gets
// one contiguous share of the index range, so results that depend on summation order are the
// same in every run with the same thread count.

#include <algorithm>
#include <exception>

#include "est/core/context.hpp"
#include "est/core/shape.hpp"

namespace est::cpu_detail {

/// Calls `f(begin, end)` once per thread with the thread's share of [0, n).
///
/// The work always runs inside an OpenMP team of at most ctx.threads() threads, and each member
/// sets its own nested thread count to one: Eigen then never starts threads of its own (it would
/// otherwise use every core for a product called from a one-thread context). That setting is
/// local to the team's tasks, not global.
///
/// An exception thrown by `f` on any thread (std::bad_alloc of a scratch buffer, say) is
/// carried out of the team and rethrown to the caller; letting it escape an OpenMP region would
/// terminate the program.
template <class F>
void parallel_ranges(const Context<cpu>& ctx, Index n, F&& f) {
  if (n <= 0) return;
  [[maybe_unused]] const int team_size = static_cast<int>(std::clamp<Index>(n, 1, ctx.threads()));
  std::exception_ptr failure;
#pragma omp parallel num_threads(team_size)
  {
    int team = 1, me = 0;
#if defined(_OPENMP)
    omp_set_num_threads(1);
    team = omp_get_num_threads();
    me = omp_get_thread_num();
#endif
    const Index chunk = (n + team - 1) / team;
    const Index begin = std::min<Index>(n, me * chunk);
    const Index end = std::min<Index>(n, begin + chunk);
    if (begin < end) {
      try {
        f(begin, end);
      } catch (...) {
#pragma omp critical(est_parallel_failure)
        if (!failure) failure = std::current_exception();
      }
    }
  }
  if (failure) std::rethrow_exception(failure);
}

/// Calls `f(i)` for every i in [0, n), split over the context's threads.
template <class F>
void parallel_for(const Context<cpu>& ctx, Index n, F&& f) {
  parallel_ranges(ctx, n, [&](Index begin, Index end) {
    for (Index i = begin; i < end; ++i) f(i);
  });
}

/// Calls `f(begin, size)` for consecutive blocks of an element-wise range of n elements, split
/// over the context's threads. Blocks are large enough to amortise a thread's start and small
/// enough to stay in cache between the reads and writes of one block.
template <class F>
void parallel_blocks(const Context<cpu>& ctx, Index n, F&& f) {
  constexpr Index block = 4096;
  parallel_for(ctx, (n + block - 1) / block, [&](Index b) {
    const Index begin = b * block;
    f(begin, std::min(n, begin + block) - begin);
  });
}

}  // namespace est::cpu_detail
