#!/usr/bin/env bash
# Runs est's benchmarks and, when PyTorch and the peer script are present, the PyTorch training
# step on the same shapes in the same window. Results go to stdout and to OUT_DIR (JSON/text).
#
#   bench/run.sh [BUILD_DIR] [OUT_DIR]        (defaults: build/release, build/release/bench-results)
#
# Build first: cmake --preset release && cmake --build --preset release
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build=${1:-build/release}
out=${2:-${build}/bench-results}
reps=${EST_BENCH_REPETITIONS:-3}
mkdir -p "${out}"

for b in bench_peak bench_gemm bench_gpt2_step bench_subnet bench_llama; do
  if [[ ! -x "${build}/bench/${b}" ]]; then
    echo "bench/run.sh: ${build}/bench/${b} is missing; build it with: cmake --build --preset release" >&2
    exit 1
  fi
done

run() {  # name, extra args...
  local name=$1
  shift
  echo "== ${name}"
  "${build}/bench/${name}" --benchmark_filter=-smoke/ --benchmark_repetitions="${reps}" \
    --benchmark_report_aggregates_only=true --benchmark_out="${out}/${name}.json" \
    --benchmark_out_format=json "$@" | grep -E '_median|^fma' || true
}
run bench_peak
run bench_gemm --benchmark_min_time=0.2
run bench_gpt2_step
run bench_subnet
python3 bench/subnet_ratios.py "${out}/bench_subnet.json" || true
run bench_llama
python3 bench/subnet_ratios.py "${out}/bench_llama.json" || true

peer=../shared/peers/torch_gpt2_bench.py
if [[ -f "${peer}" ]] && /usr/bin/python3 -c 'import torch' 2> /dev/null; then
  echo "== PyTorch peer (${peer})"
  OPENBLAS_NUM_THREADS=2 /usr/bin/python3 "${peer}" --L 6 --NH 6 --C 384 --B 8 --T 256 --steps 6 \
    | tee "${out}/torch_small6.txt" | tail -n 1
  OPENBLAS_NUM_THREADS=2 /usr/bin/python3 "${peer}" --L 12 --NH 12 --C 768 --B 4 --T 256 --steps 5 \
    | tee "${out}/torch_124m.txt" | tail -n 1
else
  echo "== PyTorch peer skipped (needs ${peer} and /usr/bin/python3 with torch: apt-get install python3-torch libopenblas0-pthread)"
fi
