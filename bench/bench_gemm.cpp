// GEMM throughput (GFLOP/s) at the shapes of a GPT-2-small training step and at square sizes:
// est's split of the product over threads against Eigen's own threading, in one run.
//
// Layouts, with W stored (in, out) as in est's linear layers and M = B*T rows:
//   forward  Y (M, N) = X (M, K) · W (K, N)       NN
//   dX       dX (M, K) = dY (M, N) · Wᵀ            NT
//   dW       dW (K, N) = Xᵀ (K, M) · dY (M, N)     TN

#include <benchmark/benchmark.h>

#include <random>

#include <est/backend/cpu/gemm.hpp>

namespace {

using est::Index;
using est::Transpose;

enum class Layout { forward = 0, d_input = 1, d_weight = 2 };

struct Operands {
  est::Tensor<float> a, b, c;
  Transpose ta, tb;
};

/// Operands for the product of a linear layer with `in` -> `out` features over `rows` tokens.
Operands make(Layout layout, Index rows, Index in, Index out) {
  std::mt19937 gen(1);
  std::normal_distribution<float> normal;
  auto random = [&](est::Shape s) {
    est::Tensor<float> t(s);
    for (Index i = 0; i < t.numel(); ++i) t[i] = normal(gen);
    return t;
  };
  switch (layout) {
    case Layout::forward:
      return {random({rows, in}), random({in, out}), est::Tensor<float>({rows, out}), Transpose::no, Transpose::no};
    case Layout::d_input:
      return {random({rows, out}), random({in, out}), est::Tensor<float>({rows, in}), Transpose::no, Transpose::yes};
    case Layout::d_weight:
      return {random({rows, in}), random({rows, out}), est::Tensor<float>({in, out}), Transpose::yes, Transpose::no};
  }
  throw est::error("unknown layout");
}

void set_counters(benchmark::State& state, Index rows, Index in, Index out) {
  const double flops = 2.0 * double(rows) * double(in) * double(out);
  state.counters["GFLOP"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

/// est::gemm with args (layout, rows, in, out, threads).
void BM_est_gemm(benchmark::State& state) {
  const auto layout = Layout(state.range(0));
  const Index rows = state.range(1), in = state.range(2), out = state.range(3);
  const est::Context<est::cpu> ctx(int(state.range(4)));
  auto ops = make(layout, rows, in, out);
  for (auto _ : state) {
    est::gemm<float>(ctx, ops.c.view().matrix(), ops.a.view().matrix(), ops.ta, ops.b.view().matrix(), ops.tb);
    benchmark::DoNotOptimize(ops.c.data());
  }
  set_counters(state, rows, in, out);
}

/// The same product through Eigen's own OpenMP threading (the baseline est's split replaces).
void BM_eigen_own_threads(benchmark::State& state) {
  const auto layout = Layout(state.range(0));
  const Index rows = state.range(1), in = state.range(2), out = state.range(3);
  Eigen::setNbThreads(int(state.range(4)));
  auto ops = make(layout, rows, in, out);
  auto A = est::cpu_detail::eigen_map(ops.a.view().matrix());
  auto B = est::cpu_detail::eigen_map(ops.b.view().matrix());
  auto C = est::cpu_detail::eigen_map(ops.c.view().matrix());
  for (auto _ : state) {
    switch (layout) {
      case Layout::forward: C.noalias() = A * B; break;
      case Layout::d_input: C.noalias() = A * B.transpose(); break;
      case Layout::d_weight: C.noalias() = A.transpose() * B; break;
    }
    benchmark::DoNotOptimize(C.data());
  }
  Eigen::setNbThreads(0);
  set_counters(state, rows, in, out);
}

void gpt2_small_shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"layout", "rows", "in", "out", "threads"});
  const Index rows = 4096;  // B*T = 4*1024 or 16*256
  const std::pair<Index, Index> layers[] = {{768, 2304}, {768, 768}, {768, 3072}, {3072, 768}};
  for (int threads : {1, 2})
    for (auto [in, out] : layers)
      for (int layout : {0, 1, 2}) b->Args({layout, rows, in, out, threads});
  for (int threads : {1, 2})
    for (Index n : {512, 1024, 2048}) b->Args({0, n, n, n, threads});
}

void smoke_shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"layout", "rows", "in", "out", "threads"});
  for (int layout : {0, 1, 2}) b->Args({layout, 64, 48, 80, 2});
}

}  // namespace

BENCHMARK(BM_est_gemm)->Apply(gpt2_small_shapes)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_eigen_own_threads)->Apply(gpt2_small_shapes)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_est_gemm)->Name("smoke/est_gemm")->Apply(smoke_shapes)->UseRealTime();

BENCHMARK_MAIN();
