#!/usr/bin/python3
"""Writes llama_tiny_reference.bin: a tiny Llama with grouped-query attention computed by PyTorch
in float64, independently of est, for tests/models/test_llama_peer.cpp.

The model follows Hugging Face's LlamaForCausalLM (transformers 4.4x) step by step, written here
with plain torch ops: nn.Linear weights stored (out, in) and no biases; RMSNorm as
weight * (x * rsqrt(mean(x^2) + eps)); rotary embeddings with rotate_half, whose inverse
frequencies and angles transformers forms in float32 (kept here; cos and sin are then taken in
float64); key/value heads repeated to the query heads (repeat_kv); causal softmax attention
scaled by 1/sqrt(d); SwiGLU MLP down(silu(gate(x)) * up(x)); untied LM head. Parameters are
drawn from a seeded torch generator; the file holds them, the token batch, the mean
cross-entropy and the gradient of every parameter, in the format of make_gpt2_reference.py.

Usage: /usr/bin/python3 make_llama_reference.py [OUT]   (needs python3-torch)
"""
import math
import struct
import sys

import torch

L, H, G, C, M, V, P = 2, 4, 2, 16, 24, 50, 16
THETA, EPS = 10000.0, 1e-5
B, T = 2, 6
D = C // H


def parameters(gen):
    def normal(*shape, std=0.3, mean=0.0):
        return (mean + std * torch.randn(*shape, generator=gen, dtype=torch.float64)).requires_grad_()

    p = {"model.embed_tokens.weight": normal(V, C)}
    for l in range(L):
        n = f"model.layers.{l}."
        p[n + "input_layernorm.weight"] = normal(C, mean=1.0)
        p[n + "self_attn.q_proj.weight"] = normal(H * D, C)
        p[n + "self_attn.k_proj.weight"] = normal(G * D, C)
        p[n + "self_attn.v_proj.weight"] = normal(G * D, C)
        p[n + "self_attn.o_proj.weight"] = normal(C, H * D)
        p[n + "post_attention_layernorm.weight"] = normal(C, mean=1.0)
        p[n + "mlp.gate_proj.weight"] = normal(M, C)
        p[n + "mlp.up_proj.weight"] = normal(M, C)
        p[n + "mlp.down_proj.weight"] = normal(C, M)
    p["model.norm.weight"] = normal(C, mean=1.0)
    p["lm_head.weight"] = normal(V, C)
    return p


def rms_norm(x, w):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS))


def rotary():
    inv_freq = 1.0 / (THETA ** (torch.arange(0, D, 2, dtype=torch.int64).float() / D))
    angles = torch.arange(T).float()[:, None] * inv_freq[None, :]  # float32, as transformers
    emb = torch.cat((angles, angles), dim=-1).double()
    return emb.cos(), emb.sin()


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def loss_of(p, tokens, targets):
    x = p["model.embed_tokens.weight"][tokens]
    cos, sin = rotary()
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    for l in range(L):
        n = f"model.layers.{l}."
        a = rms_norm(x, p[n + "input_layernorm.weight"])
        q = (a @ p[n + "self_attn.q_proj.weight"].T).view(B, T, H, D).transpose(1, 2)
        k = (a @ p[n + "self_attn.k_proj.weight"].T).view(B, T, G, D).transpose(1, 2)
        v = (a @ p[n + "self_attn.v_proj.weight"].T).view(B, T, G, D).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(H // G, dim=1)  # repeat_kv: head i reads group i // (H / G)
        v = v.repeat_interleave(H // G, dim=1)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(D)
        s = s.masked_fill(~causal, float("-inf")).softmax(-1)
        y = (s @ v).transpose(1, 2).reshape(B, T, H * D)
        x = x + y @ p[n + "self_attn.o_proj.weight"].T
        a = rms_norm(x, p[n + "post_attention_layernorm.weight"])
        f = torch.nn.functional.silu(a @ p[n + "mlp.gate_proj.weight"].T) * (a @ p[n + "mlp.up_proj.weight"].T)
        x = x + f @ p[n + "mlp.down_proj.weight"].T
    x = rms_norm(x, p["model.norm.weight"])
    logits = x @ p["lm_head.weight"].T
    return torch.nn.functional.cross_entropy(logits.reshape(-1, V), targets.reshape(-1))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "llama_tiny_reference.bin"
    gen = torch.Generator().manual_seed(20261127)
    p = parameters(gen)
    tokens = torch.randint(0, V, (B, T), generator=gen)
    targets = torch.randint(0, V, (B, T), generator=gen)
    loss = loss_of(p, tokens, targets)
    loss.backward()
    tensors = [("config", torch.tensor([L, H, G, C, M, V, P, THETA, EPS], dtype=torch.float64)),
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
