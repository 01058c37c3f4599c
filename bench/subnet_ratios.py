#!/usr/bin/env python3
"""Time of each sampled-layer benchmark relative to its full counterpart, from bench_subnet's or
bench_llama's JSON output (medians): prints FLOPs fraction, time fraction and, for the half-block
rows (GPT-2's attention and MLP, Llama's grouped-query attention and SwiGLU), whether the time
fraction is within the target frac + 0.05.

    bench/subnet_ratios.py build/release/bench-results/bench_subnet.json
    bench/subnet_ratios.py build/release/bench-results/bench_llama.json
"""
import json
import sys


def main(path):
    with open(path) as f:
        runs = json.load(f)["benchmarks"]
    medians = {}
    for r in runs:
        if r.get("aggregate_name", "median") != "median" or r["name"].startswith("smoke/"):
            continue
        name = r["run_name"]
        medians[name] = (r["real_time"], r.get("frac", 1.0))
    full = {}
    for name, (time, frac) in medians.items():
        # The full counterpart is the plain full run (not the one after masked steps).
        if frac == 1.0 and "after_masked:1" not in name:
            full[name.split("/")[0]] = time
    print(f"{'benchmark':60} {'ms':>9} {'FLOPs':>6} {'time':>6}  target")
    for name, (time, frac) in medians.items():
        group = name.split("/")[0]
        if group not in full:
            print(f"{name:60} {time:9.1f} {frac:6.3f} {'-':>6}  (no full run)")
            continue
        ratio = time / full[group]
        # The target is set for the attention and MLP halves; other rows are for information.
        if group in ("attention", "mlp", "gqa_attention", "gqa_attention_groups", "swiglu"):
            verdict = "ok" if ratio <= frac + 0.05 else "MISSED"
        else:
            verdict = "-"
        print(f"{name:60} {time:9.1f} {frac:6.3f} {ratio:6.3f}  {verdict}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "build/release/bench-results/bench_subnet.json")
