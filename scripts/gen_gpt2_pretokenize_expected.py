#!/usr/bin/env python3
# One-off: how the GPT-2 split regex (run by the `regex` module) cuts a set of texts, written to
# tests/data/gpt2_pretokenize_splits.jsonl for the hand-written pre-tokenizer's test.
# Needs `pip install regex`. Random texts use only characters assigned in Python's unicodedata,
# the table the C++ classification is generated from, so Unicode versions cannot disagree.
import json
import pathlib
import random
import sys
import unicodedata

import regex

root = pathlib.Path(__file__).resolve().parent.parent
data = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else root.parent / "shared" / "data"
out = root / "tests" / "data" / "gpt2_pretokenize_splits.jsonl"

GPT2 = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")

texts = [
    "Hello world",
    "Hello, world! How's it going? I'm fine; we'll see, they've 're 'd 'll",
    "  two leading spaces",
    "trailing spaces   ",
    "mixed \t\n whitespace\n\nhere",
    "numbers 12345 and 3.14 and ½ ² ٣",
    "don't DON'T 'S 's's",
    "naïve café Ελληνικά кириллица 日本語 한국어",
    "emoji 😀 🎉! ?!?",
    "\u00a0nbsp\u2003em\u3000ideographic",
    "a\u0301 combining mark",
    "<|endoftext|> special-looking",
    "",
    " ",
    "\n",
    "x",
]
wiki = (data / "wikitext2_raw_test.txt").read_bytes().decode("utf-8").split("\r\n")
texts += [line + "\n" for line in wiki if line][:40]

pool = [chr(c) for r in [(0x20, 0x7E), (0xA0, 0x24F), (0x370, 0x3FF), (0x400, 0x4FF),
                          (0x300, 0x36F), (0x660, 0x669), (0x2000, 0x206F), (0x2150, 0x218F),
                          (0x3000, 0x30FF), (0x4E00, 0x4E80), (0xAC00, 0xAC40), (0x1F600, 0x1F64F)]
        for c in range(r[0], r[1] + 1) if unicodedata.category(chr(c)) != "Cn"]
pool += [" "] * 40 + ["'"] * 10 + list("\t\n\r") * 3 + list("0123456789") * 3 + list("stremvld") * 5
rng = random.Random(1234)
for _ in range(300):
    texts.append("".join(rng.choice(pool) for _ in range(rng.randint(1, 40))))

with out.open("w", encoding="utf-8") as f:
    for text in texts:
        pieces = GPT2.findall(text)
        assert "".join(pieces) == text
        f.write(json.dumps({"text": text, "pieces": pieces}, ensure_ascii=False) + "\n")
print(f"wrote {out}: {len(texts)} texts")
