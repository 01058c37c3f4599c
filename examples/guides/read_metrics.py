#!/usr/bin/env python3
"""Reads est-train's --metrics file (one JSON object per line, docs/manual/guides/
metrics-and-plots.md) and prints, per run, its final validation loss, training FLOPs and
training time; with a baseline and an EST run in the file (est-train --schedule compare, the
default), also the compute-matched comparison: the baseline's validation
loss after as many training FLOPs as the EST run spent, interpolated between its evaluations.
With --curve, every evaluation as well (one line each: run, steps, FLOPs, seconds, loss).

Every line must have exactly the fields the guide documents, so that a change of est-train's
metrics shows here (the test examples.guide.read-metrics runs this script) and in the guide.

Usage: python3 examples/guides/read_metrics.py run.jsonl
       python3 examples/guides/read_metrics.py run.jsonl --curve
"""

import json
import sys

# The fields of a metrics line (examples/est_train/train_run.hpp, metrics_line); val_loss only
# on the lines of steps that ended with an evaluation.
FIELDS = {"run", "step", "loss", "lr", "grad_norm", "skipped", "active_layers", "active_heads",
          "active_neurons", "flops", "full_flops", "cumulative_flops", "cumulative_full_flops",
          "seconds", "elapsed", "reduced_bytes", "reduce_seconds"}
OPTIONAL = {"val_loss"}


# [read]
def read_runs(path):
    """run label ("baseline", "est") -> its lines, in step order."""
    runs = {}
    with open(path) as f:
        for number, text in enumerate(f, 1):
            if not text.strip():
                continue
            line = json.loads(text)
            keys = set(line)
            if not FIELDS <= keys <= FIELDS | OPTIONAL:
                sys.exit(f"{path}:{number}: fields {sorted((keys ^ FIELDS) - OPTIONAL)} differ "
                         "from those docs/manual/guides/metrics-and-plots.md documents")
            runs.setdefault(line["run"], []).append(line)
    for lines in runs.values():
        lines.sort(key=lambda line: line["step"])
    return runs


def evaluations(lines):
    """(steps done, cumulative training FLOPs, training seconds, validation loss) at every
    evaluation of a run. "step" is the 0-based index of the step just taken."""
    return [(line["step"] + 1, line["cumulative_flops"], line["elapsed"], line["val_loss"])
            for line in lines if "val_loss" in line and line["val_loss"] is not None]
# [read]


# [compute-matched]
def loss_at_flops(curve, flops):
    """A run's validation loss after `flops` training FLOPs, interpolated linearly between two
    of its evaluations; None outside them."""
    for (_, f0, _, v0), (_, f1, _, v1) in zip(curve, curve[1:]):
        if f0 <= flops <= f1:
            return v0 + (v1 - v0) * (flops - f0) / (f1 - f0)
    return None
# [compute-matched]


def main(argv):
    if len(argv) not in (2, 3) or (len(argv) == 3 and argv[2] != "--curve"):
        sys.exit(__doc__)
    runs = read_runs(argv[1])
    print(f"{'run':<10} {'steps':>6} {'val loss':>9} {'training FLOPs':>15} {'saved':>7} "
          f"{'seconds':>8} {'skipped':>8}")
    for label, lines in runs.items():
        last = lines[-1]
        curve = evaluations(lines)
        saved = 1 - last["cumulative_flops"] / last["cumulative_full_flops"]
        val = f"{curve[-1][3]:.4f}" if curve else "-"
        skipped = sum(1 for line in lines if line["skipped"])
        print(f"{label:<10} {last['step'] + 1:>6} {val:>9} {last['cumulative_flops']:>15.4g} "
              f"{100 * saved:>6.1f}% {last['elapsed']:>8.1f} {skipped:>8}")
    if len(argv) == 3:
        print("\nevaluations: run, steps done, cumulative FLOPs, training seconds, val loss")
        for label, lines in runs.items():
            for steps, flops, seconds, loss in evaluations(lines):
                print(f"{label} {steps} {flops:.6g} {seconds:.3f} {loss:.4f}")
    if "baseline" in runs and "est" in runs:
        base, est = evaluations(runs["baseline"]), evaluations(runs["est"])
        spent = runs["est"][-1]["cumulative_flops"]
        matched = loss_at_flops(base, spent)
        if matched is None:
            print(f"\ncompute-matched: EST spent {spent:.4g} FLOPs, outside the baseline's "
                  "evaluations (evaluate more often: --eval-interval)")
        else:
            print(f"\ncompute-matched: after EST's {spent:.4g} training FLOPs the baseline's val "
                  f"loss was {matched:.4f}; EST ends at {est[-1][3]:.4f} "
                  f"({est[-1][3] - matched:+.4f})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
