#!/usr/bin/env python3
"""EST against the baseline on real text: runs est-train for every configuration and seed,
then writes results tables (CSV, JSON, Markdown) and plots of validation loss against training
FLOPs, wall-clock time and steps.

Every run is one `est-train --schedule baseline|est ... --metrics FILE` process; finished runs
are kept (their metrics files) and not run again, so adding seeds, lengths or configurations
re-runs only what is new. Wall-clock is est-train's training time (evaluation excluded), runs
one at a time. Before it starts, the driver prints how long the runs still to do should take.

  bench/experiments.py                 # the full mode (about 45 minutes on 2 cores)
  bench/experiments.py --quick         # a tiny model for a few steps: the test-suite smoke run
  bench/experiments.py --report-only   # rebuild the tables and plots from the kept runs
  bench/experiments.py --sweep         # lengths x presets: baseline, EST, compute-matched
  bench/experiments.py --knobs         # EST's knobs and the controls, next to the same arms
  bench/experiments.py --sweep --knobs --estimate-only   # what it would run, and how long

Arms. "baseline" trains the full model for the run's T steps; an EST configuration trains its
subnetworks for T steps; its compute-matched arm ("matched:CONFIG", in every mode but the
full one unless --matched) trains the full model for round((1 - s) * T) steps, s the share of
the full model's FLOPs that EST run saved (its metrics' last cumulative_flops /
cumulative_full_flops), with its own warmup and decay. Per run and configuration the tables
give g = L_EST - L_baseline and c = L_EST - L_matched (final validation losses, paired by seed),
the FLOPs and time saved, tokens per parameter, the train - val gap, the catch-up time tau
and the validation loss around each stage switch (measurement.md, runs.csv).
"""

import argparse
import json
import math
import shutil
import sys
import time
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ beside the driver in the source tree
import experiments_lib as lib  # noqa: E402  (the helpers, beside this file)
from experiments_lib import llround  # noqa: E402

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

# The knobs and controls, next to CONFIGS: name -> function of the run length T giving
# (schedule, est-train options, steps). Each changes one thing of est-default.
DEFAULT = CONFIGS["est-default"]
STAGE2_END = DEFAULT[DEFAULT.index("--stage2-end") + 1]
# wsd with the decay starting at the end (never) and no warmup: the rate is --lr at every step
# (--min-lr is only reached at the end of a decay, so it does not matter here).
CONSTANT_LR = ["--lr-schedule", "wsd", "--decay-start", "1.0", "--warmup", "0"]
KNOBS = {
    "est-pinned": lambda T: ("est", DEFAULT + ["--pin-layers", "both"], T),
    "est-bernoulli": lambda T: ("est", DEFAULT + ["--layer-draw", "bernoulli"], T),
    "est-mixed": lambda T: ("est", DEFAULT + ["--inactive", "mixed"], T),
    # kept layers' residual branches scaled by 1/p (stochastic depth's convention)
    "est-rescale": lambda T: ("est", DEFAULT + ["--rescale-layers"], T),
    # warmup-stable-decay, stable until the full model trains
    "est-wsd": lambda T: ("est", DEFAULT + ["--lr-schedule", "wsd", "--decay-start",
                                            STAGE2_END], T),
    # a second warmup over 5% of the run where the full-model stage starts
    "est-rewarm": lambda T: ("est", DEFAULT + ["--rewarm", str(max(1, llround(0.05 * T)))], T),
    # heads and neurons sampled, every layer trains: stage 1 is stage 2
    "est-no-layers": lambda T: ("est", ["--stage1", "1", "0.5", "0.5", "--stage2", "0.5", "0.5",
                                        "--stage1-end", "0.25", "--stage2-end", STAGE2_END], T),
    # controls: a constant learning rate for both, and the full model trained only for the
    # steps of EST's full-model stage, from initialisation
    "est-constant-lr": lambda T: ("est", DEFAULT + CONSTANT_LR, T),
    "baseline-constant-lr": lambda T: ("baseline", CONSTANT_LR, T),
    "stage3-only": lambda T: ("baseline", [], llround((1 - float(STAGE2_END)) * T)),
}
LEGACY_PLOT = ["baseline", "est-default", "est-mild", "est-long", "heads-only"]


def resolve(config, T):
    """(schedule, options, steps) of a configuration in a block of length T."""
    if config in KNOBS:
        return KNOBS[config](T)
    options = CONFIGS[config]
    return ("baseline", [], T) if options is None else ("est", options, T)


def arm_of(config, schedule):
    if config == "baseline":
        return "baseline"
    return "est" if schedule == "est" else "control"


def numbers(text, kind=int):
    return [kind(x) for x in text.split(",") if x.strip()]


def plan(args):
    """The blocks to run: name (the runs/ subdirectory), data, preset, T, how evaluations are
    placed (a fixed --eval-interval or `eval_points` per run), configurations -> seeds, and
    whether EST runs get their compute-matched arm."""
    shakespeare = Path(args.shakespeare)
    fortunes = ["--data", args.fortunes] if args.fortunes else []
    if args.quick:
        configs = {"baseline": 2, "est-default": 2, "heads-only": 1}
        configs.update({name: 1 for name in KNOBS})
        data = ["--data", str(shakespeare)] if shakespeare.exists() else fortunes
        return [{"name": "quick", "data": data, "data_name": "quick", "preset": "tiny",
                 "steps": 30, "eval_points": 10, "configs": configs, "matched": True,
                 "plots": None}]
    if args.sweep or args.knobs:
        data = ["--data", str(shakespeare)] if args.corpus == "shakespeare" else fortunes
        knobs = list(KNOBS) if args.knobs == "all" else numbers(args.knobs or "", str)
        unknown = [k for k in knobs if k not in KNOBS and k not in CONFIGS]
        if unknown:
            sys.exit(f"experiments.py: unknown configurations {unknown}; known: "
                     f"{', '.join(list(CONFIGS) + list(KNOBS))}")
        lengths = numbers(args.lengths) if args.sweep else []
        knob_lengths = numbers(args.knob_lengths) if knobs else []
        blocks = []
        for preset in numbers(args.presets, str):
            for T in sorted(set(lengths) | set(knob_lengths)):
                configs = {"baseline": args.seeds, "est-default": args.seeds}
                if T in knob_lengths:
                    configs.update({k: args.knob_seeds for k in knobs if k not in configs})
                blocks.append({"name": f"{args.corpus}-{preset}-T{T}", "data": data,
                               "data_name": args.corpus, "preset": preset, "steps": T,
                               "eval_points": args.eval_points, "configs": configs,
                               "matched": True, "plots": None})
        return blocks
    ablations = {name: 1 for name in CONFIGS}
    ablations.update({"baseline": 3, "est-default": 3, "est-mild": 3})
    return [
        {"name": "fortunes", "data": fortunes, "data_name": "fortunes", "preset": "mini",
         "steps": 600, "extra": [], "configs": ablations, "matched": args.matched,
         "plots": LEGACY_PLOT},
        {"name": "shakespeare", "data": ["--data", str(shakespeare)],
         "data_name": "shakespeare", "preset": "mini", "steps": 300,
         "extra": ["--eval-interval", "50"],
         "configs": {"baseline": 3, "est-default": 3, "est-mild": 3}, "matched": args.matched,
         "plots": LEGACY_PLOT},
    ]


def eval_options(block, steps):
    if block.get("eval_points"):
        return ["--eval-interval", str(max(1, steps // block["eval_points"]))]
    return block["extra"]


def run_path(out, block, config, schedule, options, steps, seed):
    """Full-model runs of another length than the block's (compute-matched arms, stage3-only)
    are named by their steps, so that arms of the same length share one run."""
    if schedule == "baseline" and not options and steps != block["steps"]:
        return out / "runs" / block["name"] / f"baseline-{steps}steps-seed{seed}.jsonl"
    return out / "runs" / block["name"] / f"{config}-seed{seed}.jsonl"


def runs_of(block, out):
    """Every run of a block, in order, with its compute-matched arm after each EST run:
    (config, seed, schedule, options, steps, path, parent) with parent the EST run's path for a
    compute-matched arm (its steps then come from that run's metrics: None while it is not
    there)."""
    T = block["steps"]
    for config, seeds in block["configs"].items():
        schedule, options, steps = resolve(config, T)
        for seed in range(seeds):
            path = run_path(out, block, config, schedule, options, steps, seed)
            yield config, seed, schedule, options, steps, path, None
            if schedule == "est" and block["matched"]:
                yield f"matched:{config}", seed, "baseline", [], None, None, (path, options)


def matched_steps(parent_path, T):
    """round((1 - s) * T), s the FLOPs the EST run saved; None while it has not finished."""
    if not lib.finished(parent_path, T):
        return None
    last = json.loads(parent_path.read_text().splitlines()[-1])
    return max(1, llround(last["cumulative_flops"] / last["cumulative_full_flops"] * T))


# ---- the time estimate ----

def step_costs(args, blocks, out):
    """preset -> (seconds per full-model step, seconds per validation batch, source)."""
    presets = sorted({b["preset"] for b in blocks})
    stored = out / "calibration.json"
    measured = json.loads(stored.read_text()) if stored.exists() else {}
    if args.calibrate and not args.report_only:
        data = blocks[0]["data"]
        for preset in presets:
            per_step, per_batch = lib.calibrate(args, preset, data)
            measured[preset] = {"seconds_per_step": per_step, "seconds_per_eval_batch": per_batch,
                                "threads": args.threads, "date": time.strftime("%Y-%m-%d %H:%M")}
        out.mkdir(parents=True, exist_ok=True)
        stored.write_text(json.dumps(measured, indent=1) + "\n")
    given = dict(item.split("=") for item in numbers(args.seconds_per_step or "", str))
    costs = {}
    for preset in presets:
        if preset in given:
            s = float(given[preset])
            costs[preset] = (s, lib.EVAL_BATCH_IN_STEPS * s, "given")
        elif preset in measured:
            m = measured[preset]
            costs[preset] = (m["seconds_per_step"], m["seconds_per_eval_batch"],
                             f"measured {m['date']}")
        else:
            s = lib.SECONDS_PER_STEP.get(preset, 0.5)
            costs[preset] = (s, lib.EVAL_BATCH_IN_STEPS * s, "stated")
    return costs


def estimate(args, blocks, out):
    """Prints the runs still to do and their estimated time; returns it (seconds)."""
    costs = step_costs(args, blocks, out)
    total, lines, counts, seen = 0.0, [], [0, 0], set()
    for block in blocks:
        per_step, per_batch, _ = costs[block["preset"]]
        seconds, todo = 0.0, 0
        for config, seed, schedule, options, steps, path, parent in runs_of(block, out):
            if parent is not None:
                steps = matched_steps(parent[0], block["steps"]) or llround(
                    lib.flops_fraction(block["preset"], "est", parent[1]) * block["steps"])
                path = run_path(out, block, config, "baseline", [], steps, seed)
            if path in seen:  # a full-model run of the same length serves several arms
                continue
            seen.add(path)
            counts[0] += 1
            if lib.finished(path, steps):
                continue
            todo += 1
            interval = int((eval_options(block, steps) or ["", "100"])[1])
            evals = math.ceil(steps / interval) if interval else 1
            seconds += (steps * lib.flops_fraction(block["preset"], schedule, options) * per_step
                        + evals * 8 * per_batch)
        counts[1] += todo
        total += seconds
        if todo:
            lines.append(f"  {block['name']}: {todo} runs, {seconds / 3600:.1f} h")
    sources = ", ".join(f"{p} {c[0]:.3f} s/step ({c[2]})" for p, c in costs.items())
    print(f"[experiments] {counts[0]} runs planned, {counts[0] - counts[1]} kept, {counts[1]} to "
          f"run: about {total / 3600:.1f} h at {sources}, one run at a time", flush=True)
    for line in lines:
        print(line, flush=True)
    return total


# ---- running and reporting ----

def run_block(args, block, out):
    """Runs (or, with --report-only, finds) a block's runs; returns its entries."""
    entries, T = [], block["steps"]
    extra_of = {}
    for config, seed, schedule, options, steps, path, parent in runs_of(block, out):
        label = f"{block['name']} {config}"
        if parent is not None:
            steps = matched_steps(parent[0], T)
            if steps is None:
                continue
            path = run_path(out, block, config, schedule, options, steps, seed)
        if not args.report_only:
            lib.run_one(args, path, block["preset"], steps, seed, schedule, options,
                        block["data"], eval_options(block, steps), label)
        if not lib.finished(path, steps):
            continue
        run = lib.read_run(path, args.train_window)
        entry = {"config": config, "arm": "compute-matched" if parent else arm_of(config, schedule),
                 "seed": seed, "schedule": schedule, "options": options, "run": run,
                 "label_options": " ".join(options) if options else
                 f"(full model{f', {steps} steps' if steps != T else ''})"}
        if parent is not None:
            owner = extra_of.get((config.split(":", 1)[1], seed))
            if owner is not None:
                owner["matched"] = run
        extra_of[(config, seed)] = entry
        entries.append(entry)
    return entries


def plots_of(block, entries, out):
    seed0 = {e["config"]: e["run"]["curve"] for e in entries if e["seed"] == 0}
    if block["plots"] is not None:  # the full mode: the first driver's two plots
        return lib.plot(out, block["name"], {c: seed0[c] for c in block["plots"] if c in seed0})
    t1, t2 = lib.stage_boundaries(DEFAULT, block["steps"])
    arms = ["baseline", "est-default", "matched:est-default", "stage3-only"]
    made = lib.plot(out, block["name"], {c: seed0[c] for c in arms if c in seed0}, (t1, t2))
    others = [c for c in seed0 if c not in arms and not c.startswith("matched:")]
    if others:
        made += lib.plot(out, f"{block['name']}-knobs",
                         {c: seed0[c] for c in ["baseline", "est-default"] + others if c in seed0},
                         (t1, t2))
    return made


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--est-train", default=str(REPO / "build/release/examples/est-train"),
                        help="the est-train program (default: the release build's)")
    parser.add_argument("--out", default=None,
                        help="output directory (default: build/experiments, "
                             "build/experiments-sweep with --sweep/--knobs, or "
                             "build/experiments-quick with --quick)")
    parser.add_argument("--quick", action="store_true",
                        help="tiny model, 30 steps: every arm and every knob once")
    parser.add_argument("--fresh", action="store_true",
                        help="delete the output directory first (no kept runs)")
    parser.add_argument("--report-only", action="store_true",
                        help="no new runs: tables and plots from the kept ones (give the same "
                             "mode options as the runs had)")
    parser.add_argument("--threads", type=int, default=0, help="threads per run (0: all cores)")
    parser.add_argument("--shakespeare",
                        default=str(REPO.parent / "shared/data/tinyshakespeare.txt"),
                        help="tinyshakespeare.txt (the char-rnn corpus)")
    parser.add_argument("--fortunes", default="",
                        help="the default corpus (default: est-train's, Debian's fortunes)")
    parser.add_argument("--matched", action="store_true",
                        help="full mode: also run the compute-matched arm of every EST run")
    sweep = parser.add_argument_group("the sweep (--sweep) and the knobs (--knobs)")
    sweep.add_argument("--sweep", action="store_true",
                       help="baseline, est-default and its compute-matched arm for every "
                            "--presets x --lengths")
    sweep.add_argument("--knobs", nargs="?", const="all", default=None, metavar="LIST",
                       help="the knob and control configurations (all, or a comma list of "
                            f"{', '.join(KNOBS)}; CONFIGS' names work too) at --knob-lengths, "
                            "each EST one with its compute-matched arm")
    sweep.add_argument("--presets", default="mini,deep", help="comma list (default mini,deep)")
    sweep.add_argument("--lengths", default="600,2400,4800",
                       help="run lengths T of the sweep (default 600,2400,4800)")
    sweep.add_argument("--knob-lengths", default="2400", help="T of the knobs (default 2400)")
    sweep.add_argument("--seeds", type=int, default=3,
                       help="seeds of the baseline, est-default and its compute-matched arm "
                            "(default 3)")
    sweep.add_argument("--knob-seeds", type=int, default=1,
                       help="seeds of each knob configuration and its arm (default 1)")
    sweep.add_argument("--corpus", choices=["fortunes", "shakespeare"], default="fortunes",
                       help="the text of the sweep (default fortunes)")
    sweep.add_argument("--eval-points", type=int, default=60,
                       help="evaluations per run: --eval-interval = steps // this (default 60)")
    parser.add_argument("--train-window", type=int, default=50,
                        help="train loss = the mean loss of the last this many steps (default 50)")
    parser.add_argument("--tau-tolerance", type=float, default=0.01,
                        help="tau: steps after the last switch until EST's validation loss is "
                             "within this of the baseline's (default 0.01)")
    parser.add_argument("--estimate-only", action="store_true",
                        help="print the runs to do and their estimated time, and stop")
    parser.add_argument("--calibrate", action="store_true",
                        help="measure the per-step cost of each preset first (a 12-step run; "
                             "kept in OUT/calibration.json for later estimates)")
    parser.add_argument("--seconds-per-step", default=None, metavar="PRESET=S,...",
                        help="per-step cost for the estimate (default: calibration.json if "
                             "there, else the stated costs in experiments_lib.py)")
    args = parser.parse_args()
    default_out = ("build/experiments-quick" if args.quick else
                   "build/experiments-sweep" if args.sweep or args.knobs else "build/experiments")
    out = Path(args.out or REPO / default_out)
    args.out_dir = out
    if args.fresh and out.exists():
        shutil.rmtree(out)
    if not args.report_only and not Path(args.est_train).exists():
        sys.exit(f"experiments.py: est-train not found at {args.est_train}; build it with "
                 "`cmake --preset release && cmake --build --preset release --target est-train` "
                 "or pass --est-train")
    needs_shakespeare = not args.quick and (not (args.sweep or args.knobs)
                                            or args.corpus == "shakespeare")
    if needs_shakespeare and not Path(args.shakespeare).exists():
        sys.exit(f"experiments.py: --shakespeare {args.shakespeare} does not exist (expected "
                 "tinyshakespeare.txt, 1,115,394 bytes)")

    blocks = plan(args)
    bad = sorted({b["preset"] for b in blocks} - set(lib.PRESETS))
    if bad:
        sys.exit(f"experiments.py: presets {bad} are not among {', '.join(lib.PRESETS)}")
    if not args.report_only:
        estimate(args, blocks, out)
        if args.estimate_only:
            return
    summary, per_run, plots = [], [], []
    for block in blocks:
        entries = run_block(args, block, out)
        if not any(e["config"] == "baseline" for e in entries):
            continue
        rows = lib.measure_runs(block, entries, args.tau_tolerance)
        per_run += rows
        summary += lib.summarize(block, entries, rows)
        plots += plots_of(block, entries, out)
    if not summary:
        sys.exit("experiments.py: no finished runs with a baseline to report")

    out.mkdir(parents=True, exist_ok=True)
    lib.write_csv(out / "results.csv", summary)
    (out / "results.json").write_text(json.dumps(summary, indent=1, default=str) + "\n")
    (out / "results.md").write_text(lib.markdown(summary))
    flat = [lib.flatten(r) for r in per_run]
    lib.write_csv(out / "runs.csv", flat)
    (out / "runs.json").write_text(json.dumps(flat, indent=1, default=str) + "\n")
    measurement = ("# EST against the baseline and the compute-matched baseline\n\n"
                   + lib.markdown_measurement(summary) + "\n## Every run\n\n"
                   + lib.markdown_runs(per_run))
    (out / "measurement.md").write_text(measurement)
    print(lib.markdown(summary))
    print(lib.markdown_measurement(summary))
    print(f"[experiments] wrote {out / 'results.csv'}, results.json, results.md, runs.csv, "
          f"runs.json, measurement.md and {len(plots)} plots", flush=True)


if __name__ == "__main__":
    main()
