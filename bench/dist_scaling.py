#!/usr/bin/env python3
"""Data parallelism on this machine, measured, and a model of it on N = 8 ... 1024 ranks.

Measured (est-train --metrics, medians over --repeats runs, per EST stage and for the full
model, on the same global batch):
  1x2   one process, 2 threads                      (what est-train does without mpirun)
  2x1   mpirun -np 2, 1 thread each                  (data parallel)
  1x1/2 one process, 1 thread, half the batch        (one rank's compute at 2 ranks)

Modelled: N ranks, each with the per-rank batch of the 1x1/2 runs (weak scaling). A step is
one rank's compute c (the 1x1/2 median) plus a bandwidth-optimal all-reduce (reduce-scatter
and all-gather, Rabenseifner's algorithm) of the step's bytes B (measured under mpirun):
t(N) = c + 2 (N - 1) / N * B / bandwidth + 2 log2(N) * latency. The tables give t(N) and the
efficiency c / t(N) per stage: for the measured preset; for GPT-2 124M at this CPU's measured
FLOP rate; and for GPT-2 124M at an assumed accelerator rate (--accelerator-tflops, stated,
not measured), where the traffic starts to matter. GPT-2 124M's bytes come from its parameter
count under est-train's default stage rates, its FLOPs from 6 per trained parameter and token
plus attention. No overlap of the reduction with the backward pass is assumed (est does not
overlap on the CPU).

  bench/dist_scaling.py                 # mini, 40 steps, 3 repeats (about 10 minutes)
  bench/dist_scaling.py --quick         # tiny, 8 steps, 1 repeat: the test suite's smoke run

Writes OUT/runs/*.jsonl (every run's metrics), OUT/summary.json and OUT/scaling.md.
"""

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time

MPIRUN = ["mpirun", "--allow-run-as-root", "--oversubscribe", "--bind-to", "none"]
STAGES = ("stage 1", "stage 2", "full")


def parse_args():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--est-train", default=os.path.join(here, "..", "build", "release", "examples",
                                                       "est-train"))
    p.add_argument("--out", default=None, help="output directory (default build/dist-scaling)")
    p.add_argument("--quick", action="store_true", help="tiny preset, 8 steps, one repeat")
    p.add_argument("--preset", default="mini")
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--batch", type=int, default=16, help="global batch (windows)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--data", default=None, help="text to train on (default: est-train's corpus)")
    p.add_argument("--bandwidths", default="25,100,400",
                   help="link bandwidths of the model, Gb/s per rank (comma list)")
    p.add_argument("--latency-us", type=float, default=10.0,
                   help="per-message latency of the model, microseconds")
    p.add_argument("--accelerator-tflops", type=float, default=300.0,
                   help="assumed per-rank rate of the accelerator row (TFLOP/s achieved)")
    a = p.parse_args()
    if a.quick:
        a.preset, a.steps, a.batch, a.repeats = "tiny", 8, 4, 1
    if a.out is None:
        a.out = os.path.join(here, "..", "build", "dist-scaling-quick" if a.quick else "dist-scaling")
    return a


def stage_of(step, steps):
    """est-train's default stages: the first quarter, the second quarter, then the full model."""
    if step < steps // 4:
        return "stage 1"
    if step < steps // 2:
        return "stage 2"
    return "full"


def run(cmd, metrics):
    if os.path.exists(metrics):
        os.remove(metrics)
    p = subprocess.run(cmd + ["--metrics", metrics], capture_output=True, text=True,
                       errors="replace")
    if p.returncode != 0:
        sys.exit(f"dist_scaling: {' '.join(cmd)} failed ({p.returncode}):\n{p.stdout}{p.stderr}")
    with open(metrics) as f:
        return [json.loads(line) for line in f]


def per_stage(lines, steps, key):
    """Median of `key` per stage, leaving out each stage's first step (warm-up, new shapes)."""
    groups = {s: [] for s in STAGES}
    first = {}
    for line in lines:
        s = stage_of(line["step"], steps)
        if s not in first:
            first[s] = line["step"]
            continue
        groups[s].append(line[key])
    return {s: statistics.median(v) for s, v in groups.items() if v}


def measure(a):
    base = [a.est_train, "--preset", a.preset, "--steps", str(a.steps), "--seed", "7",
            "--eval-interval", "0", "--sample", "0", "--quiet", "--schedule", "est"]
    if a.data:
        base += ["--data", a.data]
    arms = {
        "1x2": base + ["--threads", "2", "--batch", str(a.batch)],
        "2x1": MPIRUN + ["-np", "2"] + base + ["--threads", "1", "--batch", str(a.batch)],
        "1x1/2": base + ["--threads", "1", "--batch", str(a.batch // 2)],
    }
    runs_dir = os.path.join(a.out, "runs")
    os.makedirs(runs_dir, exist_ok=True)
    results = {arm: [] for arm in arms}
    for r in range(a.repeats):
        for arm, cmd in arms.items():  # interleaved: drift hits every arm alike
            name = arm.replace("/", "_")
            lines = run(cmd, os.path.join(runs_dir, f"{name}-{r}.jsonl"))
            results[arm].append(lines)
            print(f"[dist_scaling] {arm} repeat {r}: {sum(l['seconds'] for l in lines):.2f} s",
                  flush=True)
    summary = {"preset": a.preset, "steps": a.steps, "batch": a.batch, "repeats": a.repeats,
               "cpu": cpu_name(), "date": time.strftime("%Y-%m-%d"), "arms": {}}
    for arm, runs in results.items():
        secs = [per_stage(lines, a.steps, "seconds") for lines in runs]
        entry = {"seconds": {s: statistics.median(x[s] for x in secs) for s in secs[0]}}
        if arm == "2x1":
            red = [per_stage(lines, a.steps, "reduce_seconds") for lines in runs]
            entry["reduce_seconds"] = {s: statistics.median(x[s] for x in red) for s in red[0]}
            entry["bytes"] = per_stage(runs[0], a.steps, "reduced_bytes")
        flops = per_stage(runs[0], a.steps, "flops")
        entry["flops"] = flops
        summary["arms"][arm] = entry
    return summary


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def allreduce_seconds(nbytes, n, gbps, latency_s):
    return 2 * (n - 1) / n * nbytes / (gbps * 1e9 / 8) + 2 * math.log2(n) * latency_s


def gpt2_124m(rate, tokens):
    """Bytes and compute seconds per stage of GPT-2 124M at `rate` FLOP/s for `tokens` tokens
    per rank: est-train's default stage rates (stage 1: 1/2 of the layers, heads and neurons;
    stage 2: all layers, 1/2 of heads and neurons)."""
    L, C, V, T, M = 12, 768, 50257, 1024, 3072
    embed = V * C + T * C + 2 * C
    def layer(h_frac, m_frac):
        a = 4 * C + 4 * C * C * h_frac + 3 * C * h_frac + C
        return a + 2 * C * M * m_frac + M * m_frac + C
    def attention(layers, h_frac, seq=T):
        return layers * 12 * seq * C * h_frac  # QK^T and AV forward + backward, per token
    out = {}
    for stage, (l, h, m) in {"stage 1": (0.5, 0.5, 0.5), "stage 2": (1, 0.5, 0.5),
                             "full": (1, 1, 1)}.items():
        params = embed + l * L * layer(h, m)
        flops = tokens * (6 * params + attention(l * L, h))
        out[stage] = {"bytes": 4 * params + 8, "compute": flops / rate}
    return out


def ms(seconds):
    """Milliseconds with 3 significant digits."""
    return f"{seconds * 1e3:.3g} ms"


def report(a, summary):
    arms = summary["arms"]
    lines = [f"Measured {summary['date']} on {summary['cpu']} (2 cores): preset "
             f"`{summary['preset']}`, global batch {summary['batch']}, {summary['steps']} steps, "
             f"medians of {summary['repeats']} runs per arm, each stage's first step left out.", "",
             "| stage | 1 × 2 threads | 2 ranks × 1 thread | ratio | of which all-reduce | "
             "bytes all-reduced | 1 rank × 1 thread, half batch |", "|---|---|---|---|---|---|---|"]
    for s in STAGES:
        if s not in arms["2x1"]["seconds"]:
            continue
        one, two = arms["1x2"]["seconds"][s], arms["2x1"]["seconds"][s]
        lines.append(f"| {s} | {one * 1e3:.1f} ms | {two * 1e3:.1f} ms | {two / one:.2f} | "
                     f"{arms['2x1']['reduce_seconds'][s] * 1e3:.2f} ms | "
                     f"{arms['2x1']['bytes'][s] / 1e6:.3f} MB | "
                     f"{arms['1x1/2']['seconds'][s] * 1e3:.1f} ms |")
    lat = a.latency_us * 1e-6
    bws = [float(x) for x in a.bandwidths.split(",")]
    ns = [8, 32, 128, 512, 1024]
    # A step's flops count its whole batch, which in the 1x1/2 runs is one rank's.
    rate = statistics.median(arms["1x1/2"]["flops"][s] / arms["1x1/2"]["seconds"][s]
                             for s in arms["1x1/2"]["seconds"])
    summary["flop_rate_1_thread"] = rate
    def table(title, stages):
        out = ["", f"**{title}**", "", "| stage | compute | bandwidth | " +
               " | ".join(f"N = {n}" for n in ns) + " |", "|---|---|---|" + "---|" * len(ns)]
        for s, (nbytes, c) in stages.items():
            for bw in bws:
                cells = []
                for n in ns:
                    t = c + allreduce_seconds(nbytes, n, bw, lat)
                    cells.append(f"{ms(t)} ({100 * c / t:.0f}%)")
                out.append(f"| {s} | {ms(c)} | {bw:g} Gb/s | " + " | ".join(cells) + " |")
        return out
    measured = {s: (arms["2x1"]["bytes"][s], arms["1x1/2"]["seconds"][s])
                for s in STAGES if s in arms["2x1"]["bytes"]}
    lines += table(f"`{summary['preset']}`, per-rank batch {summary['batch'] // 2}: step time "
                   f"(efficiency c / t) on N ranks", measured)
    tokens = 8 * 1024
    big = gpt2_124m(rate, tokens)
    lines += table(f"GPT-2 124M at this CPU's measured {rate / 1e9:.0f} GFLOP/s per rank, "
                   f"{tokens} tokens per rank", {s: (v["bytes"], v["compute"]) for s, v in big.items()})
    gpu = gpt2_124m(a.accelerator_tflops * 1e12, tokens)
    lines += table(f"GPT-2 124M at an assumed {a.accelerator_tflops:g} TFLOP/s per rank (not "
                   f"measured), {tokens} tokens per rank",
                   {s: (v["bytes"], v["compute"]) for s, v in gpu.items()})
    lines += ["", f"Model: t(N) = c + 2(N-1)/N · B / bandwidth + 2 log2(N) · {a.latency_us:g} µs "
              "(reduce-scatter + all-gather; no overlap with the backward pass)."]
    return "\n".join(lines) + "\n"


def main():
    a = parse_args()
    os.makedirs(a.out, exist_ok=True)
    summary = measure(a)
    text = report(a, summary)
    with open(os.path.join(a.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    with open(os.path.join(a.out, "scaling.md"), "w") as f:
        f.write(text)
    print(text)
    print(f"wrote {os.path.join(a.out, 'scaling.md')}")


if __name__ == "__main__":
    main()
