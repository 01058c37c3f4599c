#!/usr/bin/env python3
"""EST against the baseline on real text: runs est-train for every configuration and seed,
then writes a results table (CSV, JSON, Markdown) and plots of validation loss against training
FLOPs and against wall-clock time.

Every run is one `est-train --schedule baseline|est ... --metrics FILE` process; finished runs
are kept (their metrics files) and not run again, so adding seeds or configurations re-runs only
what is new. Wall-clock is est-train's training time (evaluation excluded), runs one at a time.

  bench/experiments.py                 # the full mode (about 40 minutes on 2 cores)
  bench/experiments.py --quick         # a tiny model for a few steps: the test-suite smoke run
  bench/experiments.py --report-only   # rebuild the tables and plots from the kept runs
"""

import argparse
import csv
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# name -> est-train options (EST configurations) or None (the baseline).
# Rates: --stage1 pL,pH,pM (layers, heads, neurons) until --stage1-end, --stage2 pH,pM until
# --stage2-end (every layer), then the full model.
CONFIGS = {
    "baseline": None,
    "est-default": ["--stage1", "0.5", "0.5", "0.5", "--stage2", "0.5", "0.5",
                    "--stage1-end", "0.25", "--stage2-end", "0.5"],
    "est-mild": ["--stage1", "0.75", "0.75", "0.75", "--stage2", "0.75", "0.75",
                 "--stage1-end", "0.25", "--stage2-end", "0.5"],
    "est-short": ["--stage1", "0.5", "0.5", "0.5", "--stage2", "0.5", "0.5",
                  "--stage1-end", "0.15", "--stage2-end", "0.3"],
    "est-long": ["--stage1", "0.5", "0.5", "0.5", "--stage2", "0.5", "0.5",
                 "--stage1-end", "0.4", "--stage2-end", "0.75"],
    "heads-only": ["--stage1", "1", "0.5", "1", "--stage2", "0.5", "1",
                   "--stage1-end", "0.25", "--stage2-end", "0.5"],
    "mlp-only": ["--stage1", "1", "1", "0.5", "--stage2", "1", "0.5",
                 "--stage1-end", "0.25", "--stage2-end", "0.5"],
    "layers-only": ["--stage1", "0.5", "1", "1", "--stage2", "1", "1",
                    "--stage1-end", "0.5", "--stage2-end", "0.5"],
    "est-default-zero-grad": ["--stage1", "0.5", "0.5", "0.5", "--stage2", "0.5", "0.5",
                              "--stage1-end", "0.25", "--stage2-end", "0.5",
                              "--inactive", "zero-grad"],
}

# corpus -> (est-train data options, steps, configurations, seeds per configuration)
def plan(args):
    shakespeare = Path(args.shakespeare)
    fortunes = ["--data", args.fortunes] if args.fortunes else []
    if args.quick:
        return {
            "quick": {"data": ["--data", str(shakespeare)] if shakespeare.exists() else fortunes,
                      "preset": "tiny", "steps": 30, "extra": ["--eval-interval", "10"],
                      "configs": {"baseline": 2, "est-default": 2, "heads-only": 1}},
        }
    ablations = {name: 1 for name in CONFIGS}
    ablations.update({"baseline": 3, "est-default": 3, "est-mild": 3})
    return {
        "fortunes": {"data": fortunes, "preset": "mini", "steps": 600, "extra": [],
                     "configs": ablations},
        "shakespeare": {"data": ["--data", str(shakespeare)], "preset": "mini", "steps": 300,
                        "extra": ["--eval-interval", "50"],
                        "configs": {"baseline": 3, "est-default": 3, "est-mild": 3}},
    }


def run_one(args, corpus, spec, config, seed, out):
    metrics = out / "runs" / corpus / f"{config}-seed{seed}.jsonl"
    if metrics.exists() and any('"val_loss"' in line and f'"step":{spec["steps"] - 1}' in line
                                for line in metrics.read_text().splitlines()):
        return metrics  # kept from an earlier invocation
    metrics.parent.mkdir(parents=True, exist_ok=True)
    options = CONFIGS[config]
    cmd = [args.est_train, "--preset", spec["preset"], "--steps", str(spec["steps"]),
           "--seed", str(1337 + seed), "--threads", str(args.threads), "--quiet",
           "--sample", "0", "--metrics", str(metrics) + ".part",
           "--schedule", "baseline" if options is None else "est"]
    cmd += spec["data"] + spec["extra"] + (options or [])
    print(f"[experiments] {corpus} {config} seed {seed}: {' '.join(cmd[1:])}", flush=True)
    started = time.time()
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"experiments.py: est-train failed ({result.returncode}) for {corpus} {config} "
                 f"seed {seed}:\n{result.stderr[-2000:]}")
    os.replace(str(metrics) + ".part", metrics)
    print(f"[experiments]   done in {time.time() - started:.0f} s", flush=True)
    return metrics


def read_run(path):
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    evals = [(r["step"], r["cumulative_flops"], r["elapsed"], r["val_loss"])
             for r in rows if "val_loss" in r]
    last = rows[-1]
    return {"val_loss": evals[-1][3], "train_loss": last["loss"],
            "flops": last["cumulative_flops"], "full_flops": last["cumulative_full_flops"],
            "seconds": last["elapsed"], "curve": evals}


def mean_std(values):
    return (statistics.mean(values), statistics.stdev(values) if len(values) > 1 else float("nan"))


def interpolate(curve, flops):
    """Validation loss at `flops` on a run's (step, flops, seconds, loss) evaluations."""
    points = [(f, v) for _, f, _, v in curve]
    if flops <= points[0][0]:
        return points[0][1]
    for (f0, v0), (f1, v1) in zip(points, points[1:]):
        if f0 <= flops <= f1:
            return v0 + (v1 - v0) * (flops - f0) / (f1 - f0)
    return points[-1][1]


def summarize(corpus, spec, runs):
    """runs: config -> [run dicts]. Returns one row per configuration."""
    base = runs["baseline"]
    base_loss, base_std = mean_std([r["val_loss"] for r in base])
    base_flops = statistics.mean(r["flops"] for r in base)
    base_seconds = statistics.mean(r["seconds"] for r in base)
    allowed = max(base_std if not math.isnan(base_std) else 0.0, 0.01)
    rows = []
    for config, rs in runs.items():
        loss, std = mean_std([r["val_loss"] for r in rs])
        flops = statistics.mean(r["flops"] for r in rs)
        seconds = statistics.mean(r["seconds"] for r in rs)
        # FLOPs at the first evaluation at or below the baseline's final loss (mean over seeds
        # that get there).
        reach = [next((f for _, f, _, v in r["curve"] if v <= base_loss), None) for r in rs]
        reached = [f for f in reach if f is not None]
        # The baseline's own validation loss after the same FLOPs (interpolated on its curve;
        # mid-schedule, so its learning rate has not decayed yet).
        at_equal = statistics.mean(interpolate(r["curve"], flops) for r in base)
        rows.append({
            "corpus": corpus, "config": config, "seeds": len(rs),
            "steps": spec["steps"], "preset": spec["preset"],
            "val_loss": loss, "val_loss_std": std, "delta_loss": loss - base_loss,
            "flops": flops, "flops_saved": 1 - flops / base_flops,
            "seconds": seconds, "time_saved": 1 - seconds / base_seconds,
            "baseline_loss_at_equal_flops": at_equal,
            "flops_to_baseline_loss": statistics.mean(reached) if reached else None,
            "reached_baseline_loss": f"{len(reached)}/{len(rs)}",
            "within_noise": loss - base_loss <= allowed,
            "options": " ".join(CONFIGS[config] or ["(full model)"]),
        })
    return rows


def plot(out, corpus, runs, configs):
    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        print("[experiments] gnuplot not found: no plots", flush=True)
        return []
    made = []
    for axis, index, label in (("flops", 1, "training FLOPs (TFLOP)"),
                               ("time", 2, "training wall-clock (s)")):
        series = []
        for config in configs:
            if config not in runs:
                continue
            data = out / "plots" / f"{corpus}-{config}-seed0.dat"
            data.parent.mkdir(parents=True, exist_ok=True)
            scale = 1e-12 if axis == "flops" else 1.0
            data.write_text("".join(f"{point[index] * scale} {point[3]}\n"
                                    for point in runs[config][0]["curve"]))
            series.append(f"'{data}' using 1:2 with linespoints title '{config}'")
        png = out / "plots" / f"{corpus}-val-loss-vs-{axis}.png"
        script = (f"set terminal pngcairo size 900,560 noenhanced\nset output '{png}'\n"
                  f"set title '{corpus}: validation loss (seed 0)'\nset xlabel '{label}'\n"
                  f"set ylabel 'validation loss (nats/byte)'\nset grid\nset key top right\n"
                  f"plot {', '.join(series)}\n")
        result = subprocess.run([gnuplot], input=script, text=True, capture_output=True)
        if result.returncode != 0:  # pngcairo may be missing: fall back to the png terminal
            script = script.replace("pngcairo size 900,560", "png size 900,560")
            subprocess.run([gnuplot], input=script, text=True, check=True)
        made.append(png)
    return made


def markdown(rows):
    lines = ["| corpus | configuration | seeds | val loss (mean ± std) | Δ vs baseline | "
             "FLOPs saved | time saved | baseline at equal FLOPs | FLOPs to baseline's loss | "
             "within noise |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        std = "" if math.isnan(r["val_loss_std"]) else f" ± {r['val_loss_std']:.4f}"
        reach = ("—" if r["flops_to_baseline_loss"] is None else
                 f"{r['flops_to_baseline_loss'] / 1e12:.2f} TFLOP ({r['reached_baseline_loss']})")
        lines.append(f"| {r['corpus']} | {r['config']} | {r['seeds']} | {r['val_loss']:.4f}{std} | "
                     f"{r['delta_loss']:+.4f} | {100 * r['flops_saved']:.1f}% | "
                     f"{100 * r['time_saved']:.1f}% | {r['baseline_loss_at_equal_flops']:.4f} | "
                     f"{reach} | "
                     f"{'yes' if r['within_noise'] else 'no'} |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--est-train", default=str(REPO / "build/release/examples/est-train"),
                        help="the est-train program (default: the release build's)")
    parser.add_argument("--out", default=None,
                        help="output directory (default: build/experiments, or "
                             "build/experiments-quick with --quick)")
    parser.add_argument("--quick", action="store_true", help="tiny model, 30 steps")
    parser.add_argument("--fresh", action="store_true",
                        help="delete the output directory first (no kept runs)")
    parser.add_argument("--report-only", action="store_true",
                        help="no new runs: tables and plots from the kept ones")
    parser.add_argument("--threads", type=int, default=0, help="threads per run (0: all cores)")
    parser.add_argument("--shakespeare",
                        default=str(REPO.parent / "shared/data/tinyshakespeare.txt"),
                        help="tinyshakespeare.txt (the char-rnn corpus)")
    parser.add_argument("--fortunes", default="",
                        help="the default corpus (default: est-train's, Debian's fortunes)")
    args = parser.parse_args()
    out = Path(args.out or REPO / ("build/experiments-quick" if args.quick else "build/experiments"))
    if args.fresh and out.exists():
        shutil.rmtree(out)
    if not args.report_only and not Path(args.est_train).exists():
        sys.exit(f"experiments.py: est-train not found at {args.est_train}; build it with "
                 "`cmake --preset release && cmake --build --preset release --target est-train` "
                 "or pass --est-train")
    if not args.quick and not Path(args.shakespeare).exists():
        sys.exit(f"experiments.py: --shakespeare {args.shakespeare} does not exist (expected "
                 "tinyshakespeare.txt, 1,115,394 bytes)")

    all_rows, plots = [], []
    for corpus, spec in plan(args).items():
        runs = {}
        for config, seeds in spec["configs"].items():
            for seed in range(seeds):
                path = out / "runs" / corpus / f"{config}-seed{seed}.jsonl"
                if not args.report_only:
                    path = run_one(args, corpus, spec, config, seed, out)
                if path.exists():
                    runs.setdefault(config, []).append(read_run(path))
        if "baseline" not in runs:
            continue
        all_rows += summarize(corpus, spec, runs)
        plots += plot(out, corpus, runs,
                      ["baseline", "est-default", "est-mild", "est-long", "heads-only"])

    out.mkdir(parents=True, exist_ok=True)
    with open(out / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(all_rows[0].keys()))
        writer.writeheader()
        writer.writerows(all_rows)
    (out / "results.json").write_text(json.dumps(all_rows, indent=1, default=str) + "\n")
    (out / "results.md").write_text(markdown(all_rows))
    print(markdown(all_rows))
    print(f"[experiments] wrote {out / 'results.csv'}, results.json, results.md and "
          f"{len(plots)} plots", flush=True)


if __name__ == "__main__":
    main()
