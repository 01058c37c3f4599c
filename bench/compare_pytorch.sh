#!/usr/bin/env bash
# est's CPU training step against PyTorch's on the same configurations, thread count and run
# window: GPT-2 124M (B=4, T=256) and the 6-layer, 384-wide shape (B=8, T=256), vocabulary 50304,
# forward + backward + AdamW, 2 threads. Prints each side's median step and the ratio.
#
#   bench/compare_pytorch.sh [BUILD_DIR]      (default build/release; build bench_gpt2_step first:
#                                              cmake --preset release && cmake --build --preset release)
#
# PyTorch is the distribution's (`apt-get install python3-torch libopenblas0-pthread`, for
# /usr/bin/python3), running ../shared/peers/torch_gpt2_bench.py. OPENBLAS_CORETYPE and
# OPENBLAS_L2_SIZE are left as the environment sets them (they pick OpenBLAS's kernel; see the
# peers' README).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build=${1:-build/release}
peer=../shared/peers/torch_gpt2_bench.py
bench="${build}/bench/bench_gpt2_step"
if [[ ! -x "${bench}" ]]; then
  echo "compare_pytorch.sh: ${bench} is missing; build it with:" >&2
  echo "  cmake --preset release && cmake --build --preset release --target bench_gpt2_step" >&2
  exit 1
fi
if [[ ! -f "${peer}" ]] || ! /usr/bin/python3 -c 'import torch' 2> /dev/null; then
  echo "compare_pytorch.sh: needs ${peer} and PyTorch for /usr/bin/python3:" >&2
  echo "  apt-get install -y python3-torch libopenblas0-pthread" >&2
  exit 1
fi

est_ms() {  # benchmark name -> median ms of 3 repetitions
  "${bench}" --benchmark_filter="^$1\$" --benchmark_repetitions=3 \
    --benchmark_report_aggregates_only=true --benchmark_format=json 2> /dev/null |
    python3 -c 'import json,sys; r=[b for b in json.load(sys.stdin)["benchmarks"] if b.get("aggregate_name")=="median"]; print("%.1f" % r[0]["real_time"])'
}
torch_ms() {  # peer arguments -> median step ms
  OPENBLAS_NUM_THREADS=2 /usr/bin/python3 "${peer}" "$@" | tail -n 1 |
    python3 -c 'import re,sys; print(re.search(r"median_step_ms[=: ]+([0-9.]+)", sys.stdin.read()).group(1))'
}

printf '%-34s %12s %12s %8s\n' "shape (2 threads, +AdamW)" "est ms" "PyTorch ms" "ratio"
for shape in small6 124m; do
  if [[ ${shape} == small6 ]]; then
    e=$(est_ms "gpt2_small6/B:8/T:256/threads:2/adamw:1/iterations:3/real_time")
    t=$(torch_ms --L 6 --NH 6 --C 384 --B 8 --T 256 --steps 6)
    label="6 layers, width 384, B=8, T=256"
  else
    e=$(est_ms "gpt2_124m/B:4/T:256/threads:2/adamw:1/iterations:2/real_time")
    t=$(torch_ms --L 12 --NH 12 --C 768 --B 4 --T 256 --steps 5)
    label="GPT-2 124M, B=4, T=256"
  fi
  printf '%-34s %12s %12s %7.2fx\n' "${label}" "${e}" "${t}" "$(python3 -c "print(${t}/${e})")"
done
