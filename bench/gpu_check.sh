#!/usr/bin/env bash
# The one-shot GPU check: configures the `gpu` preset, builds the CUDA tests and bench_cuda for
# the GPU in this machine, runs the tests labelled `gpu` and the GPU benchmarks, and prints a
# summary last. Needs CUDA (nvcc, cuBLAS), CMake >= 3.25 and Ninja; no network. When Eigen,
# nlohmann-json or Catch2 are not installed, make a bundle of them on a machine that
# has them (bench/gpu_bundle.sh) and copy it to .gpu-deps here: it is used when present.
#
# Usage: bench/gpu_check.sh [LOG_DIR]   (default: build/gpu/check; about 4-6 minutes on an H100)
set -uo pipefail
cd "$(dirname "$0")/.."
logs=${1:-build/gpu/check}
mkdir -p "$logs"
start=$(date +%s)

args=()
if [[ -d .gpu-deps ]]; then args+=("-DCMAKE_PREFIX_PATH=$PWD/.gpu-deps"); fi
# Build for this machine's GPU only (the preset's 80;90 would compile everything twice).
cap=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -n1 | tr -d ' .')
if [[ -n "$cap" ]]; then args+=("-DCMAKE_CUDA_ARCHITECTURES=$cap"); fi

step() { echo; echo "== $1 ($(( $(date +%s) - start )) s)"; }
step "configure"
cmake --preset gpu "${args[@]}" > "$logs/configure.log" 2>&1 || { cat "$logs/configure.log"; exit 1; }
step "build test_gpu bench_cuda"
cmake --build build/gpu -j "$(nproc)" --target test_gpu bench_cuda > "$logs/build.log" 2>&1 \
  || { tail -n 60 "$logs/build.log"; exit 1; }
grep -i "warning" "$logs/build.log" | head -n 20
step "gpu tests"
build/gpu/tests/gpu/test_gpu --durations no 2>&1 | tee "$logs/tests.log"
tests_status=${PIPESTATUS[0]}
step "gpu benchmarks"
build/gpu/bench/cuda/bench_cuda 2>&1 | tee "$logs/bench.log"
bench_status=${PIPESTATUS[0]}

step "summary"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null
nvcc --version 2>/dev/null | tail -n 1
echo "gpu tests: $( [[ $tests_status == 0 ]] && echo passed || echo "FAILED ($tests_status)")" \
     "- $(grep -E '^(All tests passed|test cases:)' "$logs/tests.log" | tail -n 1)"
echo "bench_cuda: exit $bench_status"
sed -n '/^summary/,$p' "$logs/bench.log"
echo "total: $(( $(date +%s) - start )) s"
[[ $tests_status == 0 && $bench_status == 0 ]]
