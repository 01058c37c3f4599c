#!/usr/bin/python3
"""Writes gpt2_tiny_reference.bin: a tiny GPT-2 computed by PyTorch in float64, independently
of est, for tests/models/test_gpt2_peer.cpp.

The model follows Hugging Face's GPT2LMHeadModel exactly (Conv1D weights stored (in, out),
fused c_attn split into q, k, v in that order, pre-LayerNorm blocks with eps 1e-5, tanh GELU,
LM head tied to wte), written here with plain torch ops. Parameters are drawn from a seeded
torch generator; the file holds them, the token batch, the mean cross-entropy and the gradient
of every parameter.

File layout (little endian): magic b"ESTREF01"; u32 count; then per tensor: u32 name length,
name (utf-8), u32 rank, rank x u32 extents, float64 values. Order: config (as a float64 tensor
"config" = layers, heads, width, mlp_hidden, vocab, context), "tokens" (B, T), "targets" (B, T),
"loss" (1), then every parameter name, then "grad:" + every parameter name.

Usage: /usr/bin/python3 make_gpt2_reference.py [OUT]   (needs python3-torch)
"""
import math
import struct
import sys

import torch

L, H, C, M, V, P = 2, 2, 16, 64, 50, 16
B, T = 2, 5


def parameters(gen):
    def normal(*shape, std=0.3, mean=0.0):
        return (mean + std * torch.randn(*shape, generator=gen, dtype=torch.float64)).requires_grad_()

    p = {"wte.weight": normal(V, C), "wpe.weight": normal(P, C)}
    for l in range(L):
        h = f"h.{l}."
        p[h + "ln_1.weight"] = normal(C, mean=1.0)
        p[h + "ln_1.bias"] = normal(C)
        p[h + "attn.c_attn.weight"] = normal(C, 3 * C)
        p[h + "attn.c_attn.bias"] = normal(3 * C)
        p[h + "attn.c_proj.weight"] = normal(C, C)
        p[h + "attn.c_proj.bias"] = normal(C)
        p[h + "ln_2.weight"] = normal(C, mean=1.0)
        p[h + "ln_2.bias"] = normal(C)
        p[h + "mlp.c_fc.weight"] = normal(C, M)
        p[h + "mlp.c_fc.bias"] = normal(M)
        p[h + "mlp.c_proj.weight"] = normal(M, C)
        p[h + "mlp.c_proj.bias"] = normal(C)
    p["ln_f.weight"] = normal(C, mean=1.0)
    p["ln_f.bias"] = normal(C)
    return p


def conv1d(x, w, b):  # Hugging Face Conv1D: weight (in, out)
    return x @ w + b


def loss_of(p, tokens, targets):
    x = p["wte.weight"][tokens] + p["wpe.weight"][:T]
    d = C // H
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    for l in range(L):
        h = f"h.{l}."
        a = torch.nn.functional.layer_norm(x, (C,), p[h + "ln_1.weight"], p[h + "ln_1.bias"], 1e-5)
        q, k, v = conv1d(a, p[h + "attn.c_attn.weight"], p[h + "attn.c_attn.bias"]).split(C, dim=2)
        q, k, v = (t.view(B, T, H, d).transpose(1, 2) for t in (q, k, v))
        s = (q @ k.transpose(-1, -2)) / math.sqrt(d)
        s = s.masked_fill(~causal, float("-inf")).softmax(-1)
        y = (s @ v).transpose(1, 2).reshape(B, T, C)
        x = x + conv1d(y, p[h + "attn.c_proj.weight"], p[h + "attn.c_proj.bias"])
        a = torch.nn.functional.layer_norm(x, (C,), p[h + "ln_2.weight"], p[h + "ln_2.bias"], 1e-5)
        f = torch.nn.functional.gelu(conv1d(a, p[h + "mlp.c_fc.weight"], p[h + "mlp.c_fc.bias"]),
                                     approximate="tanh")
        x = x + conv1d(f, p[h + "mlp.c_proj.weight"], p[h + "mlp.c_proj.bias"])
    x = torch.nn.functional.layer_norm(x, (C,), p["ln_f.weight"], p["ln_f.bias"], 1e-5)
    logits = x @ p["wte.weight"].T
    return torch.nn.functional.cross_entropy(logits.view(-1, V), targets.view(-1))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "gpt2_tiny_reference.bin"
    gen = torch.Generator().manual_seed(20261127)
    p = parameters(gen)
    tokens = torch.randint(0, V, (B, T), generator=gen)
    targets = torch.randint(0, V, (B, T), generator=gen)
    loss = loss_of(p, tokens, targets)
    loss.backward()
    tensors = [("config", torch.tensor([L, H, C, M, V, P], dtype=torch.float64)),
               ("tokens", tokens.double()), ("targets", targets.double()),
               ("loss", loss.detach().reshape(1))]
    tensors += [(n, t.detach()) for n, t in p.items()]
    tensors += [("grad:" + n, t.grad) for n, t in p.items()]
    with open(out, "wb") as f:
        f.write(b"ESTREF01")
        f.write(struct.pack("<I", len(tensors)))
        for name, t in tensors:
            raw = name.encode()
            f.write(struct.pack("<I", len(raw)) + raw)
            f.write(struct.pack("<I", t.dim()) + struct.pack(f"<{t.dim()}I", *t.shape))
            f.write(t.contiguous().numpy().astype("<f8").tobytes())
    print(f"wrote {out}: loss {loss.item():.12f}, {len(tensors)} tensors")


if __name__ == "__main__":
    main()
