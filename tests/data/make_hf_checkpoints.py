#!/usr/bin/env python3
"""Writes tests/data/hf/: checkpoints saved by transformers' save_pretrained, and what
transformers computes with them, for tests/data_io/test_hf_checkpoint.cpp.

  gpt2_vocab50257/   a GPT2LMHeadModel with GPT-2's real vocabulary of 50257 (1 layer, 2 heads,
                     width 4, context 8), saved in bfloat16: the shape that needs est's internal
                     vocabulary padding, and a dtype est converts.
  llama_gqa_sharded/ a LlamaForCausalLM with grouped-query attention (4 query heads in 2 groups,
                     width 32, 2 layers, vocabulary 64, context 16), rope_theta 500000 and
                     rms_norm_eps 1e-6, saved in float32 as several shards with an index.
  expected.json      for each: the token sequence, transformers' mean next-token loss, and per
                     position the log-sum-exp of the logits and the logits of a few columns
                     (the Llama's logits whole).

Weights are random (seeded) with a larger spread than the default initialisation, so the logits
are far from uniform. Usage, with torch and transformers installed (e.g. in a virtual
environment from PyPI):  python make_hf_checkpoints.py [OUT_DIR]
"""
import json
import os
import sys

import torch
from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM


def randomise(model, seed, std):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("ln_1.weight") or name.endswith("ln_2.weight") or \
               name.endswith("ln_f.weight") or name.endswith("layernorm.weight") or \
               name.endswith("norm.weight"):
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(std * torch.randn(p.shape, generator=gen))


def expectations(model, tokens, columns):
    with torch.no_grad():
        ids = torch.tensor([tokens])
        out = model(ids, labels=ids)
        logits = out.logits[0].double()
        # transformers' loss: targets are the next tokens.
        lse = torch.logsumexp(logits, dim=-1)
        return {
            "tokens": tokens,
            "loss": float(out.loss),
            "logsumexp": [float(x) for x in lse],
            "columns": columns,
            "logits": [[float(logits[t, c]) for c in columns] for t in range(len(tokens))],
        }


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "hf")
    torch.manual_seed(0)
    expected = {}

    g = GPT2Config(n_layer=1, n_head=2, n_embd=4, n_inner=16, vocab_size=50257, n_positions=8)
    gpt2 = GPT2LMHeadModel(g).eval()
    randomise(gpt2, 1, 0.5)
    gpt2 = gpt2.to(torch.bfloat16).to(torch.float32)   # the values the bf16 file holds
    gpt2.to(torch.bfloat16).save_pretrained(os.path.join(out, "gpt2_vocab50257"))
    gpt2 = gpt2.to(torch.float32)
    tokens = [50256, 464, 2068, 7586, 21831, 50255, 0, 318]
    expected["gpt2_vocab50257"] = expectations(gpt2, tokens, [0, 1, 318, 464, 50255, 50256])

    c = LlamaConfig(hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                    num_attention_heads=4, num_key_value_heads=2, vocab_size=64,
                    max_position_embeddings=16, rope_theta=500000.0, rms_norm_eps=1e-6)
    llama = LlamaForCausalLM(c).eval()
    randomise(llama, 2, 0.3)
    llama.save_pretrained(os.path.join(out, "llama_gqa_sharded"), max_shard_size="40KB")
    tokens = [1, 5, 63, 17, 17, 0, 42, 8, 9, 30, 31, 2]
    expected["llama_gqa_sharded"] = expectations(llama, tokens, list(range(64)))

    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
