#!/usr/bin/env python3
# One-off: token ids that the SentencePiece library gives for tok512.model, written to
# tests/data/tok512_sentencepiece_ids.jsonl so the C++ tokenizer test can compare against them.
# Needs `pip install sentencepiece protobuf`. SentencePiece collapses repeated spaces by default
# and llama2.c does not, so the model is loaded with remove_extra_whitespaces off.
import json
import pathlib
import sys

import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2 as model_pb2

root = pathlib.Path(__file__).resolve().parent.parent
data = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else root.parent / "shared" / "data"
out = root / "tests" / "data" / "tok512_sentencepiece_ids.jsonl"

proto = model_pb2.ModelProto()
proto.ParseFromString((data / "tok512.model").read_bytes())
assert proto.normalizer_spec.name == "identity"
proto.normalizer_spec.remove_extra_whitespaces = False
sp = spm.SentencePieceProcessor()
sp.LoadFromSerializedProto(proto.SerializeToString())

# llama2.c and SentencePiece agree only if every piece is made of characters that are pieces
# themselves (otherwise SentencePiece may merge an unknown character, llama2.c cannot).
chars = {p.piece for p in proto.pieces if len(p.piece) == 1}
for p in proto.pieces:
    if p.type == 1:
        assert all(c in chars for c in p.piece), p.piece

texts = [
    "Once upon a time",
    "Once upon a time, there was a little girl named Lily.",
    "Hello world!",
    "a",
    " ",
    "  ",
    " leading space",
    "trailing space ",
    "two  spaces and   three",
    "tab\tand\nnewline\r\n",
    "Lily's dog said: \"Let's go!\"",
    "numbers 0123456789 and 3.14159",
    "Ünïcödé façade — naïve “quotes” … ‘single’",
    "日本語のテキスト",
    "emoji 😀🎉 mixed with text",
    "Ελληνικά και кириллица",
    "aaaaaaaaaaaaaaaaaaaaaaaa",
    "the the the the the",
    "<s> </s> <unk> <0x41>",
]
tiny = (data / "tinystories_valid_head.txt").read_text(encoding="utf-8").split("\n")
texts += [line for line in tiny if line][:150]
wiki = (data / "wikitext2_raw_test.txt").read_bytes().decode("utf-8").split("\r\n")
texts += [line for line in wiki if line][:30]

with out.open("w", encoding="utf-8") as f:
    for text in texts:
        f.write(json.dumps({"text": text, "ids": sp.encode(text)}, ensure_ascii=False) + "\n")
print(f"wrote {out}: {len(texts)} texts")
