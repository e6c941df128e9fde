#!/usr/bin/env python3
# Writes the tiny Hugging Face checkpoints under tests/data/hf/ (Llama, OPT, GPT-2) with float32
# reference logits and tokenizer ids from transformers, so the C++ tests need no Python at run time.
#
# Usage: python3 scripts/make_hf_fixtures.py [SHARED_DATA_DIR] [--verify-only]
# Needs torch, transformers, tokenizers, safetensors, numpy (see tests/data/hf/README.md).
# Deterministic: fixed seeds, one thread. Weights are random, rounded to bfloat16 values so the
# float32, float16 and bfloat16 files of the Llama model hold exactly the same numbers.
import argparse
import hashlib
import importlib.metadata
import json
import os
import pathlib
import platform
import shutil

os.environ.setdefault("RAYON_NUM_THREADS", "1")  # tokenizers' trainer: stable and cheap
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np
import torch
import transformers
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from tokenizers import trainers
from transformers import (GPT2Config, GPT2LMHeadModel, GPT2TokenizerFast, LlamaConfig,
                          LlamaForCausalLM, LlamaTokenizerFast, OPTConfig, OPTForCausalLM)

ROOT = pathlib.Path(__file__).resolve().parent.parent
ARGS = argparse.ArgumentParser(description="Writes the tests/data/hf fixtures.")
ARGS.add_argument("shared_data", nargs="?", default=str(ROOT.parent / "shared" / "data"),
                  help="folder holding tinystories_valid_head.txt")
ARGS.add_argument("--verify-only", action="store_true",
                  help="only reload the fixtures and check them against reference.json")
OPTS = ARGS.parse_args()
SHARED = pathlib.Path(OPTS.shared_data)
OUT = ROOT / "tests" / "data" / "hf"
CORPUS = SHARED / "tinystories_valid_head.txt"

VOCAB_SIZE = 448
SEQ_LEN = 24
INIT_STD = 0.15
SEED = 1234

# Texts for tokenizer parity tests; every fixture stores its own ids for them.
TEXTS = [
    "Once upon a time, there was a little girl named Lily.",
    "Hello world",
    " leading space",
    "trailing space ",
    "multiple   spaces  between   words",
    "   ",
    "line one\nline two\n\nline four\n",
    "tab\tseparated\tvalues",
    "carriage\r\nreturn",
    "12345 67",
    "don't, we'll; I'm! (yes?) \"quoted\" -- ok...",
    "ALL CAPS and MiXeD cAsE",
    "café naïve résumé",
    "日本",
    "emoji 🙂 and 🎉!",
    "Itâ€™s mojibake",  # non-ASCII characters that are pieces in the Llama vocabulary
    "",
]
STORY_A = (
    "One day, a little boy named Tim went to the park with his mom. He saw a big red ball "
    "under a tree and ran to get it."
)
STORY_B = "The sun was warm and the birds sang. Sue and her dog played in the garden all day long."


def corpus_lines():
    text = CORPUS.read_text(encoding="utf-8")
    return [line for line in text.split("\n") if line.strip()]


def trained_bpe_parts(tok):
    """Returns (vocab list ordered by id, merges as pairs) of a trained tokenizers BPE model."""
    model = json.loads(tok.to_str())["model"]
    vocab = sorted(model["vocab"].items(), key=lambda kv: kv[1])
    assert [i for _, i in vocab] == list(range(len(vocab)))
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    return [t for t, _ in vocab], merges


def make_llama_tokenizer():
    # Trains with a Metaspace split so pieces never span words (as SentencePiece's), then builds
    # the final model the way Llama's tokenizer.json has it: specials, 256 byte tokens, pieces.
    trainer_tok = Tokenizer(models.BPE())
    trainer_tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    n_fixed = 3 + 256
    # 61: the 61st and 62nd most frequent characters differ in count, so ties cannot make the
    # kept alphabet depend on hash order. Rarer characters (most digits) take byte fallback.
    trainer = trainers.BpeTrainer(vocab_size=VOCAB_SIZE - n_fixed, limit_alphabet=61,
                                  show_progress=False)
    trainer_tok.train_from_iterator(corpus_lines(), trainer=trainer)
    pieces, merges = trained_bpe_parts(trainer_tok)
    for p in pieces:
        assert "▁" not in p[1:], p
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab[f"<0x{b:02X}>"] = len(vocab)
    for p in pieces:
        assert p not in vocab, p
        vocab[p] = len(vocab)
    assert len(vocab) == VOCAB_SIZE, len(vocab)

    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token="<unk>", fuse_unk=True,
                               byte_fallback=True))
    tok.add_special_tokens(["<unk>", "<s>", "</s>"])
    tok.normalizer = normalizers.Sequence(
        [normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tok.pre_tokenizer = None
    tok.decoder = decoders.Sequence([
        decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
        decoders.Strip(" ", 1, 0)
    ])
    tok.post_processor = processors.TemplateProcessing(
        single="<s>:0 $A:0", pair="<s>:0 $A:0 <s>:1 $B:1", special_tokens=[("<s>", 1)])
    return LlamaTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>",
                              unk_token="<unk>", add_bos_token=True, add_eos_token=False,
                              legacy=False, clean_up_tokenization_spaces=False,
                              model_max_length=128)


def make_byte_level_tokenizer(specials_first, specials_last, bos_prefix):
    """GPT-2 style byte-level BPE. specials_first get ids 0.., specials_last the last ids.
    bos_prefix: a token the post-processor puts before every sequence (OPT), or None (GPT-2)."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB_SIZE - len(specials_last),
                                  special_tokens=specials_first,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator([line + "\n" for line in corpus_lines()], trainer=trainer)
    tok.add_special_tokens(specials_last)
    assert tok.get_vocab_size() == VOCAB_SIZE, tok.get_vocab_size()
    if bos_prefix is None:
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
    else:
        bos_id = tok.token_to_id(bos_prefix)
        tok.post_processor = processors.TemplateProcessing(
            single=f"{bos_prefix}:0 $A:0", pair=f"{bos_prefix}:0 $A:0 {bos_prefix}:1 $B:1",
            special_tokens=[(bos_prefix, bos_id)])
    return tok


def make_opt_tokenizer():
    tok = make_byte_level_tokenizer(["<s>", "<pad>", "</s>", "<unk>"], [], "</s>")
    assert [tok.token_to_id(t) for t in ["<s>", "<pad>", "</s>", "<unk>"]] == [0, 1, 2, 3]
    return GPT2TokenizerFast(tokenizer_object=tok, bos_token="</s>", eos_token="</s>",
                             unk_token="<unk>", pad_token="<pad>", add_bos_token=True,
                             add_prefix_space=False, clean_up_tokenization_spaces=False,
                             model_max_length=128)


def make_gpt2_tokenizer():
    tok = make_byte_level_tokenizer([], ["<|endoftext|>"], None)
    assert tok.token_to_id("<|endoftext|>") == VOCAB_SIZE - 1
    return GPT2TokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>",
                             eos_token="<|endoftext|>", unk_token="<|endoftext|>",
                             add_prefix_space=False, clean_up_tokenization_spaces=False,
                             model_max_length=128)


def randomize_and_round(model, seed):
    """Random norm weights/biases and Linear biases (HF sets them to 1/0), then every parameter
    rounded to bfloat16 with |w| < 2**-14 flushed to 0, so float16 holds the values exactly."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            leaf = name.rsplit(".", 1)[-1]
            is_norm = "norm" in name or ".ln_" in name or "layernorm" in name.lower()
            if is_norm and leaf == "weight":
                param.copy_(1.0 + 0.1 * torch.randn(param.shape, generator=gen))
            elif leaf == "bias":
                param.copy_(0.1 * torch.randn(param.shape, generator=gen))
        for param in model.parameters():
            rounded = param.to(torch.bfloat16).to(torch.float32)
            rounded[rounded.abs() < 2.0**-14] = 0.0
            param.copy_(rounded)
            assert torch.equal(param.to(torch.float16).to(torch.float32), param)


def reference_sequences(tokenizer, vocab_size, seed):
    a = tokenizer(STORY_A, add_special_tokens=True).input_ids
    b = tokenizer(STORY_B, add_special_tokens=False).input_ids
    assert len(a) >= SEQ_LEN and len(b) >= SEQ_LEN, (len(a), len(b))
    rng = np.random.RandomState(seed)
    rand = rng.randint(0, vocab_size, size=SEQ_LEN).tolist()
    return [a[:SEQ_LEN], rand, b[:SEQ_LEN]]


def generator_info():
    return {
        "script": "scripts/make_hf_fixtures.py",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "tokenizers": importlib.metadata.version("tokenizers"),
        "safetensors": importlib.metadata.version("safetensors"),
        "numpy": np.__version__,
        "attn_implementation": "eager",
        "corpus": "tinystories_valid_head.txt (sha256 "
                  + hashlib.sha256(CORPUS.read_bytes()).hexdigest()[:16] + "...)",
    }


def text_entries(tokenizer, special_text):
    entries = [{"text": t, "ids": tokenizer(t).input_ids} for t in TEXTS]
    entries.append({"text": special_text, "ids": tokenizer(special_text).input_ids,
                    "special_tokens_in_text": True})
    return entries


@torch.no_grad()
def compute_logits(model, sequences):
    model.eval()
    return np.stack([
        model(torch.tensor([seq], dtype=torch.long)).logits[0].to(torch.float32).numpy()
        for seq in sequences
    ]).astype("<f4")


def write_fixture(name, model, tokenizer, special_text, seed, max_shard_size=None):
    out = OUT / name
    kwargs = {"safe_serialization": True}
    if max_shard_size is not None:
        kwargs["max_shard_size"] = max_shard_size
    model.save_pretrained(out, **kwargs)
    tokenizer.save_pretrained(out, legacy_format=False)
    vocab_size = model.config.vocab_size
    sequences = reference_sequences(tokenizer, vocab_size, seed)
    logits = compute_logits(model, sequences)
    (out / "reference_logits.bin").write_bytes(logits.tobytes(order="C"))
    ref = {
        "sequences": sequences,
        "logits_file": "reference_logits.bin",
        "shape": list(logits.shape),
        "texts": text_entries(tokenizer, special_text),
        "generator": generator_info(),
    }
    (out / "reference.json").write_text(json.dumps(ref, ensure_ascii=False, indent=1) + "\n",
                                        encoding="utf-8")
    return out


def write_string_merges(out):
    """Rewrites model.merges as "a b" strings, the form older tokenizers versions (and most
    published GPT-2/OPT files) use, so the readers see both forms: Llama keeps [a, b] pairs.
    Byte-level pieces never hold a space, so the string form is unambiguous."""
    path = out / "tokenizer.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    merges = data["model"]["merges"]
    assert all(" " not in a and " " not in b for a, b in merges)
    data["model"]["merges"] = [f"{a} {b}" for a, b in merges]
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")


def build_llama(tokenizer):
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
        rope_theta=500000.0, rms_norm_eps=1e-5, tie_word_embeddings=False,
        initializer_range=INIT_STD, hidden_act="silu", bos_token_id=1, eos_token_id=2,
        attn_implementation="eager", torch_dtype="float32")
    torch.manual_seed(SEED)
    model = LlamaForCausalLM(config)
    randomize_and_round(model, SEED + 1)
    return model


def build_opt(tokenizer, proj):
    config = OPTConfig(
        vocab_size=len(tokenizer), hidden_size=64, ffn_dim=128, num_hidden_layers=2,
        num_attention_heads=4, max_position_embeddings=128,
        word_embed_proj_dim=32 if proj else 64, do_layer_norm_before=not proj,
        activation_function="relu", init_std=INIT_STD, dropout=0.0, attention_dropout=0.0,
        pad_token_id=1, bos_token_id=2, eos_token_id=2, enable_bias=True,
        layer_norm_elementwise_affine=True, attn_implementation="eager", torch_dtype="float32")
    torch.manual_seed(SEED + (20 if proj else 10))
    model = OPTForCausalLM(config)
    randomize_and_round(model, SEED + (21 if proj else 11))
    return model


def build_gpt2(tokenizer):
    eot = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    config = GPT2Config(
        vocab_size=len(tokenizer), n_embd=64, n_layer=2, n_head=4, n_positions=128,
        activation_function="gelu_new", layer_norm_epsilon=1e-5, initializer_range=INIT_STD,
        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=eot, eos_token_id=eot,
        tie_word_embeddings=True, attn_implementation="eager", torch_dtype="float32")
    torch.manual_seed(SEED + 30)
    model = GPT2LMHeadModel(config)
    randomize_and_round(model, SEED + 31)
    return model


def safetensors_dtypes(d):
    dtypes = set()
    for path in sorted(d.glob("*.safetensors")):
        raw = path.read_bytes()
        header = json.loads(raw[8:8 + int.from_bytes(raw[:8], "little")])
        dtypes |= {v["dtype"] for k, v in header.items() if k != "__metadata__"}
    return dtypes


@torch.no_grad()
def verify():
    """Reloads every fixture the way a user would and checks it against what was written."""
    from tokenizers import Tokenizer as RawTokenizer
    from transformers import AutoModelForCausalLM, AutoTokenizer

    def load(d, dtype=torch.float32):
        return AutoModelForCausalLM.from_pretrained(d, torch_dtype=dtype,
                                                    attn_implementation="eager")

    for name in ["llama", "opt", "opt-proj", "gpt2"]:
        d = OUT / name
        ref = json.loads((d / "reference.json").read_text(encoding="utf-8"))
        want = np.fromfile(d / ref["logits_file"], dtype="<f4").reshape(ref["shape"])
        got = compute_logits(load(d), ref["sequences"])
        assert got.shape == want.shape and np.array_equal(got, want), name
        assert np.isfinite(want).all() and want.std() > 0.5, (name, want.std())
        assert safetensors_dtypes(d) == {"F32"}, name
        tokenizer = AutoTokenizer.from_pretrained(d)
        raw = RawTokenizer.from_file(str(d / "tokenizer.json"))
        assert ref["sequences"][0] == tokenizer(STORY_A).input_ids[:SEQ_LEN], name
        for t in ref["texts"]:
            assert tokenizer(t["text"]).input_ids == t["ids"], (name, t)
            assert raw.encode(t["text"]).ids == t["ids"], (name, t)
        print(f"ok {name}: logits {list(want.shape)} std {want.std():.3f}, "
              f"{len(ref['texts'])} texts")
    shards = sorted((OUT / "gpt2").glob("model-*.safetensors"))
    assert len(shards) >= 2 and (OUT / "gpt2" / "model.safetensors.index.json").exists()

    base = load(OUT / "llama").state_dict()
    for name, dtype in [("llama-f16", "F16"), ("llama-bf16", "BF16")]:
        assert safetensors_dtypes(OUT / name) == {dtype}, name
        other = load(OUT / name).state_dict()
        assert other.keys() == base.keys(), name
        for k, v in base.items():
            assert other[k].dtype == torch.float32 and torch.equal(other[k], v), (name, k)
        print(f"ok {name}: same float32 values as llama")
    total = sum(f.stat().st_size for f in OUT.rglob("*") if f.is_file())
    print(f"tests/data/hf: {total} bytes")


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    if OUT.exists():
        for child in OUT.iterdir():
            if child.is_dir():
                shutil.rmtree(child)
    OUT.mkdir(parents=True, exist_ok=True)

    llama_tok = make_llama_tokenizer()
    llama = build_llama(llama_tok)
    write_fixture("llama", llama, llama_tok, "Hi</s><s> there<unk>", SEED + 2)
    for dtype, name in [(torch.float16, "llama-f16"), (torch.bfloat16, "llama-bf16")]:
        half = build_llama(llama_tok).to(dtype)
        half.save_pretrained(OUT / name, safe_serialization=True)
        llama_tok.save_pretrained(OUT / name, legacy_format=False)

    opt_tok = make_opt_tokenizer()
    assert opt_tok("hi").input_ids[0] == opt_tok.convert_tokens_to_ids("</s>") == 2
    for name, proj, seed in [("opt", False, SEED + 12), ("opt-proj", True, SEED + 22)]:
        out = write_fixture(name, build_opt(opt_tok, proj), opt_tok, "Hi</s> there<pad>", seed)
        write_string_merges(out)

    gpt2_tok = make_gpt2_tokenizer()
    assert gpt2_tok("hi").input_ids[0] != gpt2_tok.convert_tokens_to_ids("<|endoftext|>")
    out = write_fixture("gpt2", build_gpt2(gpt2_tok), gpt2_tok, "Hi<|endoftext|> there",
                        SEED + 32, max_shard_size="200KB")
    write_string_merges(out)
    print("wrote", OUT)
    verify()


if __name__ == "__main__":
    if OPTS.verify_only:
        verify()
    else:
        main()
