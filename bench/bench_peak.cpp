// The machine's measured FP32 peak: independent fused multiply-adds in registers, on 1 and 2
// threads, with 512-bit and 256-bit vectors. GEMM and training-step rates are quoted as a
// fraction of this figure, not of a nominal one (on some AVX-512 cores a 512-bit FMA issues at
// half the rate of a full-width unit, so the nominal 64 FLOP/cycle is never reached).

#include <benchmark/benchmark.h>

#include <immintrin.h>

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace {

constexpr long iterations_per_call = 1 << 22;

// Twelve independent accumulators, named one by one so that they stay in registers, hide the
// FMA latency (4 cycles) on two FMA pipes.
#define EST_FMA_LOOP(Vec, fma, broadcast)                                                       \
  [](long iterations) {                                                                          \
    Vec a0 = broadcast(0.1f), a1 = broadcast(0.2f), a2 = broadcast(0.3f), a3 = broadcast(0.4f);  \
    Vec a4 = broadcast(0.5f), a5 = broadcast(0.6f), a6 = broadcast(0.7f), a7 = broadcast(0.8f);  \
    Vec a8 = broadcast(0.9f), a9 = broadcast(1.0f), a10 = broadcast(1.1f), a11 = broadcast(1.2f); \
    const Vec m = broadcast(0.999f), b = broadcast(1e-4f);                                       \
    for (long it = 0; it < iterations; ++it) {                                                   \
      a0 = fma(a0, m, b), a1 = fma(a1, m, b), a2 = fma(a2, m, b), a3 = fma(a3, m, b);            \
      a4 = fma(a4, m, b), a5 = fma(a5, m, b), a6 = fma(a6, m, b), a7 = fma(a7, m, b);            \
      a8 = fma(a8, m, b), a9 = fma(a9, m, b), a10 = fma(a10, m, b), a11 = fma(a11, m, b);        \
      /* an empty asm that "changes" the accumulators keeps the loop from being folded */        \
      __asm__ volatile("" : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3), "+v"(a4), "+v"(a5),         \
                       "+v"(a6), "+v"(a7), "+v"(a8), "+v"(a9), "+v"(a10), "+v"(a11));            \
    }                                                                                            \
    Vec s = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11;                         \
    return reinterpret_cast<const float*>(&s)[0];                                                \
  }

template <int Width>
void BM_fma_peak(benchmark::State& state) {
  const int threads = int(state.range(0));
  for (auto _ : state) {
#pragma omp parallel num_threads(threads)
    {
      float r = 0;
#if defined(__AVX512F__)
      if constexpr (Width == 512) {
        r = EST_FMA_LOOP(__m512, _mm512_fmadd_ps, _mm512_set1_ps)(iterations_per_call);
      }
#endif
#if defined(__FMA__)
      if constexpr (Width == 256) {
        r = EST_FMA_LOOP(__m256, _mm256_fmadd_ps, _mm256_set1_ps)(iterations_per_call);
      }
#endif
      benchmark::DoNotOptimize(r);
    }
  }
  const double flops = 2.0 * (Width / 32) * 12.0 * double(iterations_per_call) * threads;
  state.counters["GFLOP"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

#if defined(__AVX512F__)
BENCHMARK(BM_fma_peak<512>)->Name("fma_peak/avx512")->ArgName("threads")->Arg(1)->Arg(2)->UseRealTime();
#endif
#if defined(__FMA__)
BENCHMARK(BM_fma_peak<256>)->Name("fma_peak/avx2")->ArgName("threads")->Arg(1)->Arg(2)->UseRealTime();
#endif

#if !defined(__FMA__)
void BM_fma_peak_unavailable(benchmark::State& state) {
  for (auto _ : state) {
  }
  state.SkipWithError("built without FMA instructions: configure with -DEST_NATIVE_ARCH=ON");
}
BENCHMARK(BM_fma_peak_unavailable)->Name("fma_peak/unavailable");
#endif

BENCHMARK_MAIN();
