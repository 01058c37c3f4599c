#!/usr/bin/env python3
"""Writes the Hugging Face tokenizer fixtures of tests/data_io/test_hf_tokenizer.cpp:

  tokenizer_mixed.txt    ~250 KB of mixed text, seeded: source code, words of many scripts
                         (Cyrillic, Greek, CJK, kana, Hangul, Arabic, Hebrew, Devanagari, Thai),
                         emoji (modifiers, ZWJ sequences, flags), combining marks, unusual
                         whitespace, special tokens written inline, and invalid UTF-8 bytes
  hf/tokenizer_bytelevel.json   a GPT-2-style byte-level BPE (ByteLevel pre-tokenizer with
                         GPT-2's pattern, special token <|endoftext|>), trained by the
                         `tokenizers` library on tinyshakespeare.txt + the mixed text
  hf/tokenizer_llama.json       a Llama/Mistral-style BPE with byte fallback: a sentencepiece
                         BPE model (byte_fallback, split_digits, <unk> <s> </s>) trained on the
                         same text and converted by transformers' LlamaTokenizer (Metaspace
                         pre-tokenizer, prepend_scheme "first")
  hf/tokenizer_llama_legacy.json  the same vocabulary in the older form of Llama 2 / TinyLlama
                         files (normalizer Prepend "▁" + Replace " " -> "▁", no pre-tokenizer)
  hf/tokenizer_expected.json    for each tokenizer: the ids of tricky cases, and of the mixed
                         text and of tinyshakespeare + mixed text as counts and FNV-1a checksums
                         per block of 10000 ids

Reference ids come from tokenizers.Tokenizer.from_file(...).encode(text, add_special_tokens=False).
Text is bytes decoded as UTF-8 with errors="replace" (each maximal invalid subpart becomes one
U+FFFD), which is how a Python user hands a file with invalid bytes to the library.

The source-code slices come from est's headers as they are when the script runs: rerunning it
rewrites the mixed text, the tokenizers and the expectations together.

Usage: python make_hf_tokenizers.py [SHARED_DATA_DIR]   (needs tokenizers, transformers,
sentencepiece and protobuf from PyPI)
"""
import json
import os
import pathlib
import random
import sys
import tempfile

import sentencepiece as spm
from tokenizers import Tokenizer
from tokenizers.implementations import ByteLevelBPETokenizer
from transformers import LlamaTokenizer

HERE = pathlib.Path(__file__).resolve().parent
SHARED = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parents[2] / "shared" / "data"
BLOCK = 10000


def fnv1a64(ids):
    h = 0xCBF29CE484222325
    for byte in b"".join(i.to_bytes(4, "little", signed=True) for i in ids):
        h = ((h ^ byte) * 0x100000001B3) % (1 << 64)
    return h


def summary(ids):
    return {"count": len(ids),
            "block_fnv1a64": [fnv1a64(ids[i:i + BLOCK]) for i in range(0, len(ids), BLOCK)]}


SCRIPTS = [(0x0410, 0x044F), (0x0391, 0x03C9), (0x4E00, 0x4FFF), (0x3041, 0x3096),
           (0x30A1, 0x30FA), (0xAC00, 0xAD00), (0x0627, 0x064A), (0x05D0, 0x05EA),
           (0x0915, 0x0939), (0x0E01, 0x0E2E)]
EMOJI = ["😀", "🎉", "👍🏽", "👩‍💻", "👨‍👩‍👧‍👦", "🇫🇷", "🇯🇵", "❤️", "🫠", "✈︎", "🏳️‍🌈", "🔥🔥"]
COMBINING = ["e\u0301", "n\u0303", "a\u0308\u0304", "\u0915\u093f", "\u0915\u094d\u0937"]
SPACES = [" ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u3000", "\u2028", " \n ", "\n\n\n"]
SPECIAL = ["<s>", "</s>", "<unk>", "<|endoftext|>", "<s><s>", " </s> "]
INVALID = [b"\xff", b"\xc3", b"\xe2\x82", b"\xed\xa0\x80", b"\xf0\x9f\x98", b"\x80\x80",
           b"\xc0\xaf", b"\xf5\x80\x80\x80", b"\xe0\x80\xaf", b"\xf4\x90\x80\x80"]


def mixed_text(code, seed=20261202, size=250_000):
    rng = random.Random(seed)
    out = bytearray()
    code_pos = 0
    while len(out) < size:
        kind = rng.random()
        if kind < 0.25:  # a slice of source code
            n = rng.randint(200, 1500)
            out += code[code_pos:code_pos + n]
            code_pos = (code_pos + n) % max(1, len(code) - 2000)
        elif kind < 0.65:  # words of a script
            lo, hi = rng.choice(SCRIPTS)
            words = [''.join(chr(rng.randint(lo, hi)) for _ in range(rng.randint(1, 8)))
                     for _ in range(rng.randint(3, 30))]
            out += rng.choice([" ", " ", "、", "। ", ", "]).join(words).encode()
        elif kind < 0.75:
            out += ''.join(rng.choice(EMOJI) for _ in range(rng.randint(1, 6))).encode()
        elif kind < 0.82:
            out += ''.join(rng.choice(COMBINING) for _ in range(rng.randint(1, 6))).encode()
        elif kind < 0.9:
            out += rng.choice(SPECIAL).encode()
        elif kind < 0.95:
            out += rng.choice(INVALID)
        else:
            out += ("%d" % rng.randint(0, 10**9)).encode() + rng.choice([b"", b".5", b"e-3", b"\xd9\xa3"])
        out += rng.choice(SPACES).encode()
    return bytes(out)


CASES = ["Hello world", " Hello world", "Hello  world ", "hello\n\nworld\n", "don't I'll we've",
         "<s>Hello</s>", "a<|endoftext|>b", "<unk>", "   ", "\t\ttabs", "x" * 300, "1234567890",
         "Привет, мир!", "日本語のテキスト", "안녕하세요", "مرحبا بالعالم", "नमस्ते", "👩‍💻🇫🇷👍🏽",
         "e\u0301te\u0301", "\u00a0nbsp\u3000ideographic", "café naïve", "∑ x² ≤ ∞",
         "int main() { return 0; }\n", "def f(x):\n    return x ** 2\n", "ends with space ",
         "▁already▁metaspace", "Ġbyte alphabet", "$ 3.50 + 2,000", "ALL CAPS SHOUTING",
         "mixed日本語and English", "\r\n\r\n", "a" + "\u0300" * 20]
INVALID_CASES = [b"abc\xffdef", b"\xe2\x82 euro", b"\xed\xa0\x80", b"\xf0\x9f\x98", b"\xc0\xaf"]


def main():
    shakespeare = (SHARED / "tinyshakespeare.txt").read_bytes()
    code = b"".join(p.read_bytes() for p in sorted((HERE.parents[1] / "include").rglob("*.hpp")))
    mixed = mixed_text(code)
    (HERE / "tokenizer_mixed.txt").write_bytes(mixed)
    out_dir = HERE / "hf"
    training = [shakespeare.decode("utf-8", "replace"), mixed.decode("utf-8", "replace")]

    # Byte-level BPE, GPT-2 style.
    bl = ByteLevelBPETokenizer()
    bl.train_from_iterator(training, vocab_size=3000, min_frequency=2,
                           special_tokens=["<|endoftext|>"])
    bl.save(str(out_dir / "tokenizer_bytelevel.json"))

    # Llama style: sentencepiece BPE with byte fallback, converted by transformers.
    with tempfile.TemporaryDirectory() as tmp:
        lines = [line for text in training for line in text.splitlines() if line.strip()]
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(lines), model_prefix=os.path.join(tmp, "tokenizer"),
            vocab_size=3000, model_type="bpe", byte_fallback=True, split_digits=True,
            allow_whitespace_only_pieces=True, normalization_rule_name="identity",
            add_dummy_prefix=True, remove_extra_whitespaces=False, character_coverage=0.9995,
            unk_id=0, bos_id=1, eos_id=2, pad_id=-1, num_threads=2, seed_sentencepiece_size=200000,
            minloglevel=2)
        LlamaTokenizer.from_pretrained(tmp).save_pretrained(tmp)
        llama = json.load(open(os.path.join(tmp, "tokenizer.json")))
    with open(out_dir / "tokenizer_llama.json", "w") as f:
        json.dump(llama, f, ensure_ascii=False, indent=1)
    legacy = dict(llama)
    legacy["normalizer"] = {"type": "Sequence", "normalizers": [
        {"type": "Prepend", "prepend": "\u2581"},
        {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]}
    legacy["pre_tokenizer"] = None
    with open(out_dir / "tokenizer_llama_legacy.json", "w") as f:
        json.dump(legacy, f, ensure_ascii=False, indent=1)

    expected = {}
    for name in ["bytelevel", "llama", "llama_legacy"]:
        tok = Tokenizer.from_file(str(out_dir / f"tokenizer_{name}.json"))
        enc = lambda b: tok.encode(b.decode("utf-8", "replace"), add_special_tokens=False).ids
        cases = [{"hex": c.encode().hex(), "ids": enc(c.encode())} for c in CASES]
        cases += [{"hex": c.hex(), "ids": enc(c)} for c in INVALID_CASES]
        expected[name] = {"vocab_size": tok.get_vocab_size(), "cases": cases,
                          "mixed": summary(enc(mixed)),
                          "shakespeare_mixed": summary(enc(shakespeare + mixed))}
        print(name, tok.get_vocab_size(), expected[name]["shakespeare_mixed"]["count"])
    with open(out_dir / "tokenizer_expected.json", "w") as f:
        json.dump(expected, f)
        f.write("\n")


if __name__ == "__main__":
    main()
