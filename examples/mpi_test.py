#!/usr/bin/env python3
"""est-train under mpirun: data parallelism end to end (the library's own tests use threads).

  1. 2 ranks train like 1 process with the same global batch, to float round-off, for the
     baseline and for EST across both stage changes (losses and validation losses per step);
  2. the bytes each step all-reduces are the loss and the step's active parameters, counted
     here from the preset's GPT-2 layout, not from est's slice plan;
  3. a 2-rank run repeats itself bit for bit, and a 2-rank run stopped and resumed on 2 ranks
     is bit for bit the straight one (the checkpoints' weights and optimizer state);
  4. a 2-rank checkpoint resumed on 1 process (same global batch) finishes like the 2-rank run;
  5. a batch that does not split over the ranks is refused with a clear error;
  6. an error on one rank (rank 0 cannot write --metrics) stops every rank: a non-zero exit, the
     rank and the reason printed, no hang and no checkpoint written.

Usage: mpi_test.py EST_TRAIN TEXT WORK_DIR
"""

import json
import os
import shutil
import subprocess
import sys

MPIRUN = ["mpirun", "--allow-run-as-root", "--oversubscribe", "--bind-to", "none"]
# The tiny preset (examples/est_train/presets.hpp).
TINY = {"layers": 2, "heads": 2, "width": 64, "mlp_hidden": 256, "vocab": 256, "context": 64}
# 2 ranks add each window's gradient terms in another order than 1 process does, so the runs
# differ by float32 round-off (2^-23 relative per rounding), grown by the sums over a batch and
# by AdamW over a few steps; 1e-4 relative is far above that and far below any real error.
RTOL = 1e-4


def fail(message):
    print("FAILED:", message)
    sys.exit(1)


def run(cmd, expect_ok=True, timeout=240):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=timeout)
    except subprocess.TimeoutExpired:
        fail(f"timed out (a hang?): {' '.join(cmd)}")
    out = p.stdout + p.stderr
    if expect_ok and p.returncode != 0:
        fail(f"{' '.join(cmd)} exited {p.returncode}:\n{out}")
    return p.returncode, out


def metrics(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


def close(a, b):
    return abs(a - b) <= RTOL * max(abs(a), abs(b))


def same_losses(one, two, what):
    if len(one) != len(two):
        fail(f"{what}: {len(one)} and {len(two)} metric lines")
    for x, y in zip(one, two):
        for key in ("loss", "val_loss"):
            if (key in x) != (key in y) or (key in x and not close(x[key], y[key])):
                fail(f"{what}: step {x['step']} {key}: {x.get(key)} (1 process) vs "
                     f"{y.get(key)} (2 ranks)")


def active_parameters(line):
    """GPT-2's trained parameters for a step's subnetwork, from the layout: embeddings and the
    final norm always; per active layer two norms, h heads' Q/K/V columns and output rows with
    their biases, m neurons' columns and rows with theirs."""
    c, v, t = TINY["width"], TINY["vocab"], TINY["context"]
    d = c / TINY["heads"]
    h, m = line["active_heads"], line["active_neurons"]
    layer = 2 * c + (c * 3 * h * d + 3 * h * d) + (h * d * c + c) + 2 * c + (c * m + m) + (m * c + c)
    return v * c + t * c + 2 * c + line["active_layers"] * layer


def same_files(a, b):
    for name in ("model.safetensors", "optimizer.safetensors"):
        with open(os.path.join(a, name), "rb") as fa, open(os.path.join(b, name), "rb") as fb:
            if fa.read() != fb.read():
                return False
    return True


def main():
    est_train, text, work = sys.argv[1:4]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    args = [est_train, "--preset", "tiny", "--steps", "12", "--batch", "4", "--seq", "32",
            "--eval-interval", "4", "--eval-batches", "3", "--threads", "1", "--sample", "0",
            "--quiet", "--data", text]
    two = MPIRUN + ["-np", "2"]
    final = "step-00000012"

    # 1 and 2: equivalence with one process, and the traffic.
    for schedule in ("baseline", "est"):
        m1, m2 = (os.path.join(work, f"{schedule}-{n}.jsonl") for n in (1, 2))
        run(args + ["--schedule", schedule, "--metrics", m1])
        run(two + args + ["--schedule", schedule, "--metrics", m2])
        one_lines, two_lines = metrics(m1), metrics(m2)
        same_losses(one_lines, two_lines, schedule)
        for line in two_lines:
            expected = active_parameters(line) * 4 + 8
            if abs(line["reduced_bytes"] - expected) > 0.05 * expected:
                fail(f"{schedule} step {line['step']}: {line['reduced_bytes']} bytes all-reduced, "
                     f"the active parameters and the loss are {expected:.0f}")
        if schedule == "est":
            sizes = sorted({line["reduced_bytes"] for line in two_lines})
            if len(sizes) < 2 or sizes[0] >= sizes[-1]:
                fail(f"EST's traffic does not change with its stages: {sizes}")
            print(f"bytes all-reduced per step over the stages: {sizes}")
    print("2 ranks train like 1 process; the traffic is the active parameters")

    # 3. Bit for bit: twice, and stopped and resumed.
    ck = lambda name: os.path.join(work, name)
    est_args = args + ["--schedule", "est"]
    run(two + est_args + ["--checkpoint-dir", ck("a")])
    run(two + est_args + ["--checkpoint-dir", ck("b")])
    if not same_files(os.path.join(ck("a"), final), os.path.join(ck("b"), final)):
        fail("two 2-rank runs ended with different weights or optimizer state")
    run(two + est_args + ["--checkpoint-dir", ck("r"), "--stop-after", "5"])
    run(two + [est_train, "--checkpoint-dir", ck("r"), "--resume", "--quiet"])
    if not same_files(os.path.join(ck("a"), final), os.path.join(ck("r"), final)):
        fail("a 2-rank run resumed on 2 ranks differs from the straight run")
    print("2 ranks repeat themselves and resume bit for bit")

    # 4. Another world size: the 2-rank checkpoint finished by one process.
    run(two + est_args + ["--checkpoint-dir", ck("w"), "--stop-after", "5",
                          "--metrics", ck("w.jsonl")])
    run([est_train, "--checkpoint-dir", ck("w"), "--resume", "--quiet", "--metrics", ck("w.jsonl")])
    same_losses(metrics(os.path.join(work, "est-2.jsonl")), metrics(ck("w.jsonl")),
                "resumed on another world size")
    print("a 2-rank run resumed on 1 process finishes like the 2-rank run")

    # 5. A batch the ranks cannot share.
    odd = [a if prev != "--batch" else "3" for prev, a in zip([None] + args, args)]
    rc, out = run(two + odd, expect_ok=False)
    if rc == 0 or "does not split evenly over 2 ranks" not in out:
        fail(f"--batch 3 on 2 ranks: exit {rc}:\n{out}")

    # 6. A failure on rank 0 only stops both ranks.
    rc, out = run(two + est_args + ["--checkpoint-dir", ck("f"),
                                    "--metrics", os.path.join(work, "no-such-dir", "m.jsonl")],
                  expect_ok=False, timeout=120)
    if rc == 0 or "(rank 0 of 2)" not in out or "--metrics" not in out:
        fail(f"rank 0 failing: exit {rc}, output:\n{out}")
    left = os.listdir(ck("f")) if os.path.isdir(ck("f")) else []
    if any(name.startswith("step-") for name in left):
        fail(f"a failed run left checkpoints: {left}")
    print("an error on one rank stops every rank, naming it")
    print("mpi_test: all passed")


if __name__ == "__main__":
    main()
