#!/usr/bin/env bash
# Draws docs/manual/images/stages.png from a real est-train run: the share of layers, heads and
# MLP neurons the subnetwork of each step trained, and the step's FLOPs against the full
# model's, under est-train's default three-stage schedule.
#   docs/manual/images/make_stages.sh BUILD_DIR     (BUILD_DIR/examples/est-train must exist)
set -euo pipefail
build="${1:?usage: make_stages.sh BUILD_DIR}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "${here}/../../.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT

# The mini preset (4 layers, 4 heads, 1024 neurons) over 200 short steps of the README's text.
"${build}/examples/est-train" --preset mini --schedule est --steps 200 --batch 2 --seq 32 \
  --eval-interval 0 --sample 0 --quiet --data "${root}/README.md" --metrics "${work}/run.jsonl"

python3 - "${work}/run.jsonl" > "${work}/stages.tsv" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    print(r["step"], r["active_layers"] / 4, r["active_heads"] / 4, r["active_neurons"] / 1024,
          r["flops"] / r["full_flops"])
PY

gnuplot <<GP
set terminal pngcairo size 900,420 font "DejaVu Sans,11"
set output "${here}/stages.png"
set title "est-train --schedule est (mini preset, 200 steps): the subnetwork of each step"
set xlabel "step"
set ylabel "fraction of the full model"
set yrange [0:1.08]
set key bottom right
set grid
plot "${work}/stages.tsv" using 1:2 with steps lw 2 title "layers", \
     "" using 1:3 with steps lw 2 dt 2 title "heads per active layer", \
     "" using 1:4 with steps lw 2 dt 3 title "neurons per active layer", \
     "" using 1:5 with lines lw 1 lc rgb "#777777" title "FLOPs of the step"
GP
echo "wrote ${here}/stages.png"
