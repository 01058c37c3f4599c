#!/usr/bin/env python3
"""The round trip a user makes between transformers and est, end to end:

  a tiny transformers GPT-2 and Llama with random weights (save_pretrained: the GPT-2 sharded in
  float32, the Llama in bfloat16)
  -> est-train --init-from (the preset chosen from config.json), a few training steps, a
     checkpoint
  -> transformers loads the checkpoint (from_pretrained) and computes the same loss on the same
     text as est-eval does with est.

It also checks that est-eval of the untouched transformers weights gives transformers' loss, and
that training changed the weights. Needs torch and transformers; without them it prints why and
exits with 77, which ctest reports as skipped.

Usage: hf_roundtrip.py --est-train BIN --est-eval BIN --data TEXT --work DIR
"""
import argparse
import os
import re
import shutil
import subprocess
import sys

SKIP = 77

try:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM
except ImportError as e:  # pragma: no cover - depends on the machine
    print(f"skipped: this Python has no torch/transformers ({e}); configure with "
          "-DEST_HF_PYTHON=<a python with them> to run the round trip")
    sys.exit(SKIP)

SEQ = 32


def randomise(model, seed):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("weight") and ("ln_" in name or "norm" in name):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))


def transformers_loss(model, data, max_windows=None):
    """est-eval's loss: windows of SEQ + 1 bytes, the last SEQ of each predicted."""
    tokens = list(open(data, "rb").read())
    windows = (len(tokens) - 1) // SEQ
    if max_windows:
        windows = min(windows, max_windows)
    total = 0.0
    with torch.no_grad():
        for w in range(windows):
            window = tokens[w * SEQ: w * SEQ + SEQ + 1]
            logits = model(torch.tensor([window[:-1]])).logits[0].double()
            total += float(torch.nn.functional.cross_entropy(logits, torch.tensor(window[1:])))
    return total / windows


def est_eval_loss(args, weights, max_windows=None):
    extra = ["--max-windows", str(max_windows)] if max_windows else []
    out = subprocess.run([args.est_eval, weights, "--data", args.data, "--seq", str(SEQ),
                          "--threads", "2"] + extra, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"est-eval {weights} failed:\n{out.stdout}{out.stderr}")
    return float(re.search(r"loss ([-+0-9.eE]+)", out.stdout).group(1))


def check_close(what, est_value, reference, tolerance=2e-5):
    print(f"{what}: est {est_value:.9f}, transformers {reference:.9f}")
    if abs(est_value - reference) > tolerance * max(1.0, abs(reference)):
        sys.exit(f"FAILED: {what} differs by {abs(est_value - reference):.3g}")


def round_trip(args, name, model, cls, expected_preset, save_kwargs, steps=6, windows=None):
    source = os.path.join(args.work, name + "-transformers")
    model.save_pretrained(source, **save_kwargs)
    # The untouched weights: est and transformers agree on the loss.
    reference = cls.from_pretrained(source, dtype=torch.float32).eval()
    check_close(f"{name}: loss of the transformers weights", est_eval_loss(args, source, windows),
                transformers_loss(reference, args.data, windows))

    runs = os.path.join(args.work, name + "-est")
    out = subprocess.run([args.est_train, "--init-from", source, "--schedule", "est", "--steps",
                          str(steps), "--batch", "2", "--seq", str(SEQ), "--eval-interval", "0",
                          "--eval-batches", "1", "--threads", "2", "--sample", "0",
                          "--data", args.data, "--checkpoint-dir", runs],
                         capture_output=True, text=True)
    print(out.stdout[-2000:])
    if out.returncode != 0:
        sys.exit(f"est-train failed:\n{out.stderr}")
    if f"] {expected_preset}:" not in out.stdout or "weights from" not in out.stdout:
        sys.exit(f"FAILED: est-train did not start preset {expected_preset} from the weights")
    checkpoint = os.path.join(runs, "step-%08d" % steps)
    trained = cls.from_pretrained(checkpoint, dtype=torch.float32).eval()
    check_close(f"{name}: loss of est's trained checkpoint", est_eval_loss(args, checkpoint, windows),
                transformers_loss(trained, args.data, windows))
    before = dict(reference.named_parameters())
    changed = sum(not torch.equal(p, before[n]) for n, p in trained.named_parameters())
    print(f"{name}: {changed} of {len(before)} tensors changed by training")
    if changed == 0:
        sys.exit("FAILED: training changed no weight")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--est-train", required=True)
    parser.add_argument("--est-eval", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--gpt2-124m", action="store_true",
                        help="also GPT-2 small (124M, vocabulary 50257): slower, about 2 GB")
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    torch.manual_seed(0)
    torch.set_num_threads(1)  # est-train runs beside it; CTest may run other tests too

    # est-train's "tiny" preset and "llama-tiny" preset, as transformers configurations.
    gpt2 = GPT2LMHeadModel(GPT2Config(n_layer=2, n_head=2, n_embd=64, n_inner=256,
                                      vocab_size=256, n_positions=64)).eval()
    randomise(gpt2, 1)
    round_trip(args, "gpt2", gpt2, GPT2LMHeadModel, "tiny", {"max_shard_size": "60KB"})

    llama = LlamaForCausalLM(LlamaConfig(hidden_size=64, intermediate_size=176,
                                         num_hidden_layers=2, num_attention_heads=4,
                                         num_key_value_heads=2, vocab_size=256,
                                         max_position_embeddings=64, rms_norm_eps=1e-5,
                                         rope_theta=10000.0)).eval()
    randomise(llama, 2)
    round_trip(args, "llama", llama.to(torch.bfloat16), LlamaForCausalLM, "llama-tiny", {})

    if args.gpt2_124m:
        # GPT-2 small's shape with its real vocabulary of 50257, which est pads internally: the
        # preset gpt2-124m, a few windows (the bytes of the text are GPT-2 token ids too).
        gpt2 = GPT2LMHeadModel(GPT2Config()).eval()
        round_trip(args, "gpt2-124m", gpt2, GPT2LMHeadModel, "gpt2-124m", {}, steps=2, windows=4)
    print("round trip OK")


if __name__ == "__main__":
    main()
