#!/usr/bin/env python3
"""Writes gpt2_encodings.json: GPT-2 token ids for tricky strings, computed independently of est
by a plain Python reference of OpenAI's GPT-2 encoder, for tests/data_io/test_tokenizers.cpp.

The reference follows the algorithm of OpenAI's gpt-2 repository, src/encoder.py (MIT): the
text is split by the same pattern with the PyPI `regex` module (which provides \\p{L} and
\\p{N}, and whose \\s is Unicode White_Space); each piece's UTF-8 bytes are spelled in GPT-2's
byte alphabet (bytes_to_unicode); BPE repeatedly merges every occurrence of the adjacent pair
with the lowest merge rank, left to right, until no adjacent pair is a merge; the resulting
symbols are looked up in encoder.json. It is written here from that description, not copied.

Inputs: encoder.json and vocab.bpe of OpenAI's GPT-2 release (see ../../../shared/data/README.md;
SHA-256 in SHA256SUMS there) and the first PREFIX_BYTES bytes of tinyshakespeare.txt.

Output (compact JSON): {"source": ..., "cases": [{"name", "text", "pieces", "ids"}, ...],
"random": [{"text", "ids"}, ...], "tinyshakespeare_prefix": {"bytes", "text", "ids"},
"tinyshakespeare": {"bytes", "sha256", "token_count", "ids_fnv1a64"}}.
"pieces" are the pre-tokens; "random" holds seeded random strings drawn from a pool of
characters of many classes and scripts (assigned in Unicode 14.0, the version est's tables use,
with the same class in the `regex` module's newer Unicode; check_classes verifies it). The whole
tinyshakespeare.txt is summarised by its token count and an FNV-1a checksum of its ids.

Usage: python3 make_gpt2_encodings.py [SHARED_DATA_DIR] [OUT]
  SHARED_DATA_DIR defaults to ../../../shared/data relative to this script, OUT to
  gpt2_encodings.json beside it. Needs `pip install regex`.
"""
import functools
import hashlib
import json
import pathlib
import random
import sys
import unicodedata

import regex

HERE = pathlib.Path(__file__).resolve().parent
PREFIX_BYTES = 2000
PATTERN = regex.compile(
    r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")


def byte_alphabet():
    """GPT-2's bytes_to_unicode: printable Latin-1 bytes keep their value, the rest get
    256, 257, ... in increasing byte order."""
    printable = set(range(0x21, 0x7F)) | set(range(0xA1, 0xAD)) | set(range(0xAE, 0x100))
    alphabet, extra = {}, 256
    for b in range(256):
        if b in printable:
            alphabet[b] = chr(b)
        else:
            alphabet[b] = chr(extra)
            extra += 1
    return alphabet


class ReferenceEncoder:
    def __init__(self, encoder_path, merges_path):
        self.encoder = json.loads(encoder_path.read_text(encoding="utf-8"))
        lines = merges_path.read_text(encoding="utf-8").split("\n")
        assert lines[0].startswith("#version")
        merges = [tuple(line.split(" ")) for line in lines[1:] if line]
        self.rank = {pair: r for r, pair in enumerate(merges)}
        self.alphabet = byte_alphabet()

    @functools.lru_cache(maxsize=None)  # speed only: a piece's BPE depends on the piece alone
    def bpe(self, symbols):
        symbols = list(symbols)
        while len(symbols) > 1:
            ranked = [(self.rank[p], p) for p in zip(symbols, symbols[1:]) if p in self.rank]
            if not ranked:
                break
            _, (a, b) = min(ranked)
            merged, i = [], 0
            while i < len(symbols):
                if i + 1 < len(symbols) and symbols[i] == a and symbols[i + 1] == b:
                    merged.append(a + b)
                    i += 2
                else:
                    merged.append(symbols[i])
                    i += 1
            symbols = merged
        return symbols

    def pieces(self, text):
        return PATTERN.findall(text)

    def encode(self, text):
        ids = []
        for piece in self.pieces(text):
            spelled = tuple(self.alphabet[b] for b in piece.encode("utf-8"))
            ids.extend(self.encoder[s] for s in self.bpe(spelled))
        return ids


CASES = [
    ("readme hello", "Hello world"),
    ("readme spaces and snowman", " hello  world\n\nfoo123 \u2603"),
    ("end of text as text", "<|endoftext|>"),
    ("contractions", "don't I'll we've they're she'd he's I'm"),
    ("upper-case contractions are not contractions", "DON'T IT'S We'Re"),
    ("apostrophe runs", "''s 's '' rock'n'roll ’tis don’t"),
    ("cyrillic", "Привет мир"),
    ("cjk", "日本語のテキスト"),
    ("emoji with skin tone", "👍🏽 ok"),
    ("emoji zwj sequence", "family: 👨‍👩‍👧 done"),
    ("digits", "12345 3.14 1,000,000 2024-01-01"),
    ("other numbers", "x² + ½ = Ⅻ and ٣٤ and ①"),
    ("spaces tabs newlines", "a  \t\n b"),
    ("trailing spaces", "end   "),
    ("leading spaces", "   start"),
    ("newline runs", "\n\n\n   \n x\r\n"),
    ("punctuation runs", "!!!??? ... --- (a)[b]{c}"),
    ("latin-1 accents", "café naïve"),
    ("combining marks", "e\u0301te\u0301 nai\u0308ve"),
    ("devanagari", "नमस्ते दुनिया"),
    ("arabic", "مرحبا بالعالم"),
    ("unicode spaces", "a\u00a0b\u3000c\u2028d\u2009e \u00a0f"),
    ("information separators are not space", "a\x1cb\x1d \x1f c"),
    ("controls and nul", "\x00NUL\x00 \x07bell\x7f"),
    ("long word and long runs", "supercalifragilisticexpialidocious " + "=" * 80 + " " * 40 + "x"),
    ("code", "def f(x):\n    return x**2  # square\n"),
    ("mixed letters and digits", "abc123def GPT2 3rd 4th"),
    ("empty", ""),
]

POOL = (
    list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
    + list("      \t\n\r'''!?.,;:-_()\"#$%&*+/<=>@[]^`{|}~\\")
    + list("sstmdlrev")  # letters that follow an apostrophe in contractions
    + list("éüñßøœÆ²½ⅫПриветжЖ日本語の中文한국어ÄÖ")
    + ["\u00a0", "\u3000", "\u2003", "\u0301", "\u0308", "\u200d", "\x0b", "\x0c", "\x85",
       "\x1c", "\x00", "\x7f", "👍", "🏽", "☃", "€", "—", "’", "٣", "४", "𝟘", "𝒜"]
)


def fnv1a64(ids):
    """FNV-1a (64-bit) over the ids as little-endian int32: a checksum of a long encoding."""
    h = 0xCBF29CE484222325
    for byte in b"".join(i.to_bytes(4, "little", signed=True) for i in ids):
        h = ((h ^ byte) * 0x100000001B3) % (1 << 64)
    return h


def check_classes(texts):
    """Every character used must have the same class in the `regex` module's Unicode as in
    Python's unicodedata (the data of est's tables), or the expected ids would test a version
    difference instead of the tokenizer."""
    white_space = {0x85} | set(range(0x09, 0x0E))
    for ch in set("".join(texts)):
        category = unicodedata.category(ch)
        ours = ("L" if category[0] == "L" else "N" if category[0] == "N" else
                "s" if category in ("Zs", "Zl", "Zp") or ord(ch) in white_space else "o")
        theirs = ("L" if regex.match(r"\p{L}", ch) else "N" if regex.match(r"\p{N}", ch) else
                  "s" if regex.match(r"\s", ch) else "o")
        assert ours == theirs, f"U+{ord(ch):04X}: unicodedata says {ours}, regex says {theirs}"


def random_strings(count, seed):
    rng = random.Random(seed)
    return ["".join(rng.choice(POOL) for _ in range(rng.randint(0, 32))) for _ in range(count)]


def main():
    shared = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parents[2] / "shared" / "data"
    out = pathlib.Path(sys.argv[2]) if len(sys.argv) > 2 else HERE / "gpt2_encodings.json"
    ref = ReferenceEncoder(shared / "gpt2" / "encoder.json", shared / "gpt2" / "vocab.bpe")
    assert ref.encode("Hello world") == [15496, 995]

    randoms = random_strings(120, 2024)
    check_classes([text for _, text in CASES] + randoms + POOL)
    shakespeare = (shared / "tinyshakespeare.txt").read_bytes()
    prefix = shakespeare[:PREFIX_BYTES].decode("utf-8")
    full_ids = ref.encode(shakespeare.decode("utf-8"))
    doc = {
        "source": "tests/data/make_gpt2_encodings.py: a Python reference of OpenAI's GPT-2 "
                  f"encoder.py with regex {regex.__version__}, on shared/data/gpt2",
        "cases": [{"name": name, "text": text, "pieces": ref.pieces(text), "ids": ref.encode(text)}
                  for name, text in CASES],
        "random": [{"text": text, "ids": ref.encode(text)} for text in randoms],
        "tinyshakespeare_prefix": {"bytes": PREFIX_BYTES, "text": prefix,
                                   "ids": ref.encode(prefix)},
        "tinyshakespeare": {"bytes": len(shakespeare),
                            "sha256": hashlib.sha256(shakespeare).hexdigest(),
                            "token_count": len(full_ids), "ids_fnv1a64": fnv1a64(full_ids)},
    }
    # One case per line: compact, yet a diff shows which case changed.
    def compact(value):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    lines = ["{", f'"source": {json.dumps(doc["source"])},', '"cases": [']
    lines += [compact(c) + "," for c in doc["cases"]]
    lines[-1] = lines[-1][:-1]
    lines += ["],", '"random": [']
    lines += [compact(c) + "," for c in doc["random"]]
    lines[-1] = lines[-1][:-1]
    lines += ["],", '"tinyshakespeare_prefix": ' + compact(doc["tinyshakespeare_prefix"]) + ",",
              '"tinyshakespeare": ' + compact(doc["tinyshakespeare"]), "}"]
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert json.loads(out.read_text(encoding="utf-8")) == doc
    print(f"wrote {out}: {len(doc['cases'])} cases, {len(doc['random'])} random strings, "
          f"{len(doc['tinyshakespeare_prefix']['ids'])} ids for the tinyshakespeare prefix")


if __name__ == "__main__":
    main()
