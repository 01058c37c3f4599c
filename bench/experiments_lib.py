"""Helpers of bench/experiments.py: running est-train, reading its metrics, the measurements
(g, c, tau, the stage switches) and the tables and plots. The configurations and the plans are
in experiments.py; nothing here knows them by name.

Conventions: a run's evaluation curve is a list of (x, flops, seconds, val_loss) with x the
number of steps trained (est-train's 0-based "step" + 1), so that a stage boundary at step t
(the first step of the new stage, est's llround(fraction * T)) lies between the evaluations at
x <= t (before the switch) and x > t (after it).
"""

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

# est-train's GPT-2 byte-level presets (examples/est_train/presets.hpp): layers, heads, width,
# MLP width, context; vocabulary 256. The batch is est-train's default, the sequence the context.
PRESETS = {"tiny": (2, 2, 64, 256, 64), "mini": (4, 4, 256, 1024, 128),
           "deep": (8, 8, 128, 512, 128), "10m": (6, 6, 384, 1536, 256)}
BATCH = 16
# Stated cost of one full-model training step (seconds, 2 idle cores, release build, batch 16,
# the preset's context) and of one validation batch, in training steps; --calibrate measures
# both on the machine instead.
SECONDS_PER_STEP = {"tiny": 0.006, "mini": 0.25, "deep": 0.25, "10m": 1.5}
EVAL_BATCH_IN_STEPS = 0.45


def llround(x):
    """C's llround for x >= 0 (halves away from zero), as est resolves fractions of the run."""
    return int(math.floor(x + 0.5))


def parameter_count(preset):
    """Gpt2Config::parameter_count() of a byte-level preset (tied embeddings)."""
    L, _, C, M, context = PRESETS[preset]
    per_layer = 2 * C + 3 * C * C + 3 * C + C * C + C + 2 * C + C * M + M + M * C + C
    return 256 * C + context * C + L * per_layer + 2 * C


def tokens_per_parameter(preset, steps):
    return steps * BATCH * PRESETS[preset][4] / parameter_count(preset)


def option(options, name, default, count=1):
    """The value(s) of `name` in an est-train option list, as floats."""
    if name not in options:
        return default
    i = options.index(name)
    values = [float(v) for v in ",".join(options[i + 1:i + 1 + count]).split(",")[:count]]
    return values[0] if count == 1 else values


def stage_boundaries(options, steps):
    """(T1, T2): the first steps of stage 2 and of the full-model stage of an EST run."""
    return (llround(option(options, "--stage1-end", 0.25) * steps),
            llround(option(options, "--stage2-end", 0.5) * steps))


def flops_fraction(preset, schedule, options):
    """The expected share of the full model's FLOPs an EST run spends (for the time estimate):
    per token, attention (its projections and the T x T products) scales with pL*pH, the MLP
    with pL*pM, the LM head not at all."""
    if schedule != "est":
        return 1.0
    L, _, C, M, T = PRESETS[preset]
    attention, mlp, head = 8 * C * C + 4 * T * C, 4 * C * M, 2 * C * 256
    p1 = option(options, "--stage1", [0.5, 0.5, 0.5], 3)
    p2 = [1.0] + option(options, "--stage2", [0.5, 0.5], 2)
    e1 = option(options, "--stage1-end", 0.25)
    e2 = option(options, "--stage2-end", 0.5)

    def share(p):
        return (head + L * p[0] * (attention * p[1] + mlp * p[2])) / (head + L * (attention + mlp))

    return e1 * share(p1) + (e2 - e1) * share(p2) + (1 - e2)


# ---- running ----

def finished(path, steps):
    """A kept run: its metrics file ends with the evaluation of its last step."""
    return path.exists() and any('"val_loss"' in line and f'"step":{steps - 1},' in line
                                 for line in path.read_text().splitlines())


def run_one(args, path, preset, steps, seed, schedule, options, data, extra, label):
    """Runs est-train unless `path` holds a finished run; returns `path`."""
    if finished(path, steps):
        return path  # kept from an earlier invocation
    path.parent.mkdir(parents=True, exist_ok=True)
    cmd = [args.est_train, "--preset", preset, "--steps", str(steps),
           "--seed", str(1337 + seed), "--threads", str(args.threads), "--quiet",
           "--sample", "0", "--metrics", str(path) + ".part", "--schedule", schedule]
    cmd += data + extra + options
    print(f"[experiments] {label} seed {seed}: {' '.join(cmd[1:])}", flush=True)
    started = time.time()
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"experiments.py: est-train failed ({result.returncode}) for {label} "
                 f"seed {seed}:\n{result.stderr[-2000:]}")
    os.replace(str(path) + ".part", path)
    print(f"[experiments]   done in {time.time() - started:.0f} s", flush=True)
    return path


def calibrate(args, preset, data):
    """Measures (seconds per full-model step, seconds per validation batch) of `preset`: a
    short baseline run, its training time from the metrics, the rest of the wall-clock (one
    evaluation and the start) charged to the evaluation."""
    steps = 40 if preset == "tiny" else 12
    scratch = Path(args.out_dir) / "calibration"
    scratch.mkdir(parents=True, exist_ok=True)
    metrics = scratch / f"{preset}.jsonl"
    cmd = [args.est_train, "--preset", preset, "--steps", str(steps), "--threads",
           str(args.threads), "--quiet", "--sample", "0", "--schedule", "baseline",
           "--eval-interval", "0", "--metrics", str(metrics)] + data
    print(f"[experiments] calibrating {preset}: {steps} steps", flush=True)
    started = time.time()
    subprocess.run(cmd, capture_output=True, text=True, check=True)
    wall = time.time() - started
    last = json.loads(metrics.read_text().splitlines()[-1])
    per_step = last["elapsed"] / steps
    return per_step, max(wall - last["elapsed"], 0.0) / 8


# ---- reading ----

def read_run(path, train_window):
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    evals = [(r["step"] + 1, r["cumulative_flops"], r["elapsed"], r["val_loss"])
             for r in rows if "val_loss" in r]
    last = rows[-1]
    losses = [r["loss"] for r in rows]
    window = losses[-max(1, min(train_window, len(losses))):]
    return {"path": str(path), "steps": len(rows), "val_loss": evals[-1][3],
            "train_loss": statistics.mean(window), "losses": losses,
            "flops": last["cumulative_flops"], "full_flops": last["cumulative_full_flops"],
            "seconds": last["elapsed"], "curve": evals}


def mean_std(values):
    values = [v for v in values if v is not None]
    if not values:
        return (None, None)
    return (statistics.mean(values), statistics.stdev(values) if len(values) > 1 else float("nan"))


def interpolate(points, x):
    """Linear interpolation on sorted (x, y) points, constant beyond the ends."""
    if x <= points[0][0]:
        return points[0][1]
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        if x0 <= x <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return points[-1][1]


def loss_at_flops(curve, flops):
    return interpolate([(f, v) for _, f, _, v in curve], flops)


def loss_at_step(curve, x):
    return interpolate([(s, v) for s, _, _, v in curve], x)


def catch_up(run, base, t2, tolerance):
    """tau: full-model steps after the last switch (step t2) until the run's validation loss
    is within `tolerance` of the baseline's at the same step (math.inf if never)."""
    for x, _, _, v in run["curve"]:
        if x >= t2 and v - loss_at_step(base["curve"], x) <= tolerance:
            return x - t2
    return math.inf


def switch(run, base, t, window=5):
    """The losses around a stage switch at step t: the validation loss at the last evaluation
    before it and the first after it, the baseline's change over the same steps, and the mean
    training loss of the `window` steps after the switch minus that of the `window` before."""
    before = [(x, v) for x, _, _, v in run["curve"] if x <= t]
    after = [(x, v) for x, _, _, v in run["curve"] if x > t]
    if not before or not after:
        return None
    (xb, vb), (xa, va) = before[-1], after[0]
    losses = run["losses"]
    k = max(1, min(window, t, len(losses) - t))
    train_jump = statistics.mean(losses[t:t + k]) - statistics.mean(losses[t - k:t])
    base_delta = None if base is None else (loss_at_step(base["curve"], xa) -
                                            loss_at_step(base["curve"], xb))
    return {"step": t, "before_step": xb, "after_step": xa, "before": vb, "after": va,
            "delta": va - vb, "baseline_delta": base_delta, "train_jump": train_jump}


# ---- the measurements of one block ----

def measure_runs(block, runs, tolerance):
    """One row per run: runs is a list of dicts (config, arm, seed, schedule, options, run,
    matched: the run of its compute-matched arm or None). The block's baseline is the arm
    "baseline"; EST runs are compared with the baseline run of the same seed (same weights
    and batches), or with the baseline's first seed when that one is missing."""
    baselines = {r["seed"]: r["run"] for r in runs if r["config"] == "baseline"}
    rows = []
    for entry in runs:
        run, seed = entry["run"], entry["seed"]
        base = baselines.get(seed) or (next(iter(baselines.values())) if baselines else None)
        steps = run["steps"]
        row = {"block": block["name"], "config": entry["config"], "arm": entry["arm"],
               "seed": seed, "preset": block["preset"], "steps": steps,
               "tokens_per_param": tokens_per_parameter(block["preset"], steps),
               "val_loss": run["val_loss"], "train_loss": run["train_loss"],
               "train_val_gap": run["train_loss"] - run["val_loss"],
               "flops": run["flops"], "seconds": run["seconds"],
               "g": None if base is None else run["val_loss"] - base["val_loss"],
               "flops_saved": None if base is None else 1 - run["flops"] / base["flops"],
               "time_saved": None if base is None else 1 - run["seconds"] / base["seconds"],
               "c": None, "matched_steps": None, "matched_val_loss": None, "tau": None}
        matched = entry.get("matched")
        if matched is not None:
            row.update(c=run["val_loss"] - matched["val_loss"], matched_steps=matched["steps"],
                       matched_val_loss=matched["val_loss"])
        if entry["schedule"] == "est":
            t1, t2 = stage_boundaries(entry["options"], steps)
            if base is not None:
                row["tau"] = catch_up(run, base, t2, tolerance)
            for name, t in (("switch1", t1), ("switch2", t2)):
                if 0 < t < steps and not (name == "switch1" and t1 == t2):
                    row[name] = switch(run, base, t)
        row["path"] = run["path"]
        rows.append(row)
    return rows


def summarize(block, runs, run_rows):
    """One row per configuration (and compute-matched arm) of a block: the columns of the
    first driver (legacy names first) and the new ones, means and standard deviations over
    the seeds."""
    by_config = {}
    for entry, row in zip(runs, run_rows):
        by_config.setdefault(entry["config"], []).append((entry, row))
    base = [e["run"] for e, _ in by_config.get("baseline", [])]
    if not base:
        return []
    base_loss, base_std = mean_std([r["val_loss"] for r in base])
    base_flops = statistics.mean(r["flops"] for r in base)
    base_seconds = statistics.mean(r["seconds"] for r in base)
    allowed = max(base_std if not math.isnan(base_std) else 0.0, 0.01)
    out = []
    for config, pairs in by_config.items():
        rs = [e["run"] for e, _ in pairs]
        rows = [r for _, r in pairs]
        loss, std = mean_std([r["val_loss"] for r in rs])
        flops = statistics.mean(r["flops"] for r in rs)
        seconds = statistics.mean(r["seconds"] for r in rs)
        reach = [next((f for _, f, _, v in r["curve"] if v <= base_loss), None) for r in rs]
        reached = [f for f in reach if f is not None]
        g, g_std = mean_std([r["g"] for r in rows])
        c, c_std = mean_std([r["c"] for r in rows])
        gap, gap_std = mean_std([r["train_val_gap"] for r in rows])
        steps = statistics.mean(r["steps"] for r in rows)
        summary = {
            "corpus": block["name"], "config": config, "seeds": len(rs),
            "steps": round(steps), "preset": block["preset"],
            "val_loss": loss, "val_loss_std": std, "delta_loss": loss - base_loss,
            "flops": flops, "flops_saved": 1 - flops / base_flops,
            "seconds": seconds, "time_saved": 1 - seconds / base_seconds,
            "baseline_loss_at_equal_flops": statistics.mean(loss_at_flops(r["curve"], flops)
                                                            for r in base),
            "flops_to_baseline_loss": statistics.mean(reached) if reached else None,
            "reached_baseline_loss": f"{len(reached)}/{len(rs)}",
            "within_noise": loss - base_loss <= allowed,
            "options": pairs[0][0]["label_options"],
            # the issue's measurement
            "data": block["data_name"], "arm": pairs[0][0]["arm"], "T": block["steps"],
            "tokens_per_param": tokens_per_parameter(block["preset"], round(steps)),
            "g": g, "g_std": g_std, "c": c, "c_std": c_std,
            "matched_steps": "/".join(str(r["matched_steps"]) for r in rows
                                      if r["matched_steps"] is not None),
            "train_val_gap": gap, "train_val_gap_std": gap_std,
            "tau": "/".join(fmt_tau(r["tau"]) for r in rows if r["tau"] is not None),
        }
        for name in ("switch1", "switch2"):
            sw = [r[name] for r in rows if r.get(name)]
            summary[f"{name}_step"] = sw[0]["step"] if sw else None
            summary[f"{name}_delta"] = mean_std([s["delta"] for s in sw])[0]
            summary[f"{name}_baseline_delta"] = mean_std([s["baseline_delta"] for s in sw])[0]
            summary[f"{name}_train_jump"] = mean_std([s["train_jump"] for s in sw])[0]
        out.append(summary)
    return out


# ---- output ----

def fmt_tau(tau):
    return "inf" if tau == math.inf else str(tau)


def fmt(value, spec, signed=False, percent=False):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if percent:
        return f"{100 * value:.1f}%"
    return f"{value:+{spec}}" if signed else f"{value:{spec}}"


def pm(value, std, spec=".4f", signed=True):
    if value is None:
        return "—"
    text = fmt(value, spec, signed)
    return text if std is None or math.isnan(std) else f"{text} ± {std:.4f}"


def markdown(rows):
    """The first driver's table, row for row (the columns results.md shows)."""
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


def switch_cell(delta, baseline_delta):
    if delta is None:
        return "—"
    word = "jump" if delta > 0 else "drop"
    base = "" if baseline_delta is None else f" (baseline {baseline_delta:+.3f})"
    return f"{delta:+.3f} {word}{base}"


def markdown_measurement(rows):
    """Per configuration: g, c and the other columns of the issue's measurement."""
    lines = ["| block | configuration | seeds | steps | tokens/param | val loss | g = L − L_base | "
             "c = L − L_matched | matched steps | FLOPs saved | time saved | train − val | "
             "τ (steps, per seed) | switch 1→2 (Δ val) | switch 2→3 (Δ val) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['corpus']} | {r['config']} | {r['seeds']} | {r['steps']} | "
            f"{r['tokens_per_param']:.2f} | {pm(r['val_loss'], r['val_loss_std'], signed=False)} | "
            f"{pm(r['g'], r['g_std'])} | {pm(r['c'], r['c_std'])} | {r['matched_steps'] or '—'} | "
            f"{fmt(r['flops_saved'], '', percent=True)} | {fmt(r['time_saved'], '', percent=True)} | "
            f"{pm(r['train_val_gap'], r['train_val_gap_std'])} | {r['tau'] or '—'} | "
            f"{switch_cell(r['switch1_delta'], r['switch1_baseline_delta'])} | "
            f"{switch_cell(r['switch2_delta'], r['switch2_baseline_delta'])} |")
    return "\n".join(lines) + "\n"


def markdown_runs(rows):
    """Per run (seed): the same measurement, and the validation losses around each switch."""
    def sw(s):
        if not s:
            return "—"
        return (f"{s['before']:.4f} @{s['before_step']} → {s['after']:.4f} @{s['after_step']} "
                f"({'jump' if s['delta'] > 0 else 'drop'})")

    lines = ["| block | configuration | seed | steps | val loss | g | c | matched steps | "
             "FLOPs saved | time saved | tokens/param | train − val | τ | switch 1→2 | "
             "switch 2→3 |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['block']} | {r['config']} | {r['seed']} | {r['steps']} | {r['val_loss']:.4f} | "
            f"{fmt(r['g'], '.4f', True)} | {fmt(r['c'], '.4f', True)} | "
            f"{r['matched_steps'] or '—'} | {fmt(r['flops_saved'], '', percent=True)} | "
            f"{fmt(r['time_saved'], '', percent=True)} | {r['tokens_per_param']:.2f} | "
            f"{r['train_val_gap']:+.4f} | "
            f"{'—' if r['tau'] is None else fmt_tau(r['tau'])} | "
            f"{sw(r.get('switch1'))} | {sw(r.get('switch2'))} |")
    return "\n".join(lines) + "\n"


def flatten(row):
    """A per-run row with its switch dicts spread into columns (for CSV)."""
    out = {k: v for k, v in row.items() if not isinstance(v, dict) and k not in ("switch1",
                                                                               "switch2")}
    for name in ("switch1", "switch2"):
        s = row.get(name) or {}
        for key in ("step", "before_step", "after_step", "before", "after", "delta",
                    "baseline_delta", "train_jump"):
            out[f"{name}_{key}"] = s.get(key)
    if out.get("tau") == math.inf:
        out["tau"] = "inf"
    return out


def write_csv(path, rows):
    fields = []
    for r in rows:
        fields += [k for k in r if k not in fields]
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def plot(out, block, curves, boundaries=()):
    """Validation loss against FLOPs, wall-clock and steps for `curves` (label -> curve);
    `boundaries`: stage switches (steps) drawn on the steps plot."""
    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        print("[experiments] gnuplot not found: no plots", flush=True)
        return []
    made = []
    axes = [("flops", 1, "training FLOPs (TFLOP)"), ("time", 2, "training wall-clock (s)")]
    if boundaries:
        axes.append(("steps", 0, "steps"))
    for axis, index, label in axes:
        series = []
        for name, curve in curves.items():
            data = out / "plots" / f"{block}-{name.replace(':', '-')}-seed0.dat"
            data.parent.mkdir(parents=True, exist_ok=True)
            scale = 1e-12 if axis == "flops" else 1.0
            # the .dat files keep the first driver's columns (step, flops, seconds, val loss)
            data.write_text("".join(f"{p[0] - 1} {p[1]} {p[2]} {p[3]}\n" for p in curve))
            column = {"flops": f"($2*{scale})", "time": "3", "steps": "($1+1)"}[axis]
            series.append(f"'{data}' using {column}:4 with linespoints title '{name}'")
        png = out / "plots" / f"{block}-val-loss-vs-{axis}.png"
        arrows = "".join(f"set arrow from {t}, graph 0 to {t}, graph 1 nohead dashtype 2\n"
                         for t in (boundaries if axis == "steps" else ()))
        script = (f"set terminal pngcairo size 900,560 noenhanced\nset output '{png}'\n"
                  f"set title '{block}: validation loss (seed 0)'\nset xlabel '{label}'\n"
                  f"set ylabel 'validation loss (nats/byte)'\nset grid\nset key top right\n"
                  f"{arrows}plot {', '.join(series)}\n")
        result = subprocess.run([gnuplot], input=script, text=True, capture_output=True)
        if result.returncode != 0:  # pngcairo may be missing: fall back to the png terminal
            script = script.replace("pngcairo size 900,560", "png size 900,560")
            subprocess.run([gnuplot], input=script, text=True, check=True)
        made.append(png)
    return made
