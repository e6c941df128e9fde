# The Python package end to end on stories260K: load, generate (the llama2.c reference text),
# perplexity equal to `dcllm ppl`, zero-copy tensors, compress/inspect equal to the CLI's JSON,
# weight tiers, and errors raised as DcllmError with the library's message.
import json
import subprocess

import numpy as np
import pytest

import dcllm

REFERENCE = ("Once upon a time, there was a little girl named Lily. She loved to play outside in "
             "the park. One day, she saw a big, red ball. She wanted to play with it, but it was "
             "too high")


def run_cli(cli, *args):
    out = subprocess.run([cli, *map(str, args)], check=True, capture_output=True, text=True)
    return out.stdout


def test_version_matches_the_package():
    assert dcllm.version() == dcllm.__version__


def test_info(stories, data):
    i = stories.info
    assert i["path"] == str(data / "stories260K.bin")
    assert i["format"] == "llama2.c"
    assert (i["dim"], i["n_layers"], i["n_heads"], i["n_kv_heads"]) == (64, 5, 8, 4)
    assert (i["vocab_size"], i["context_length"]) == (512, 512)
    assert i["parameters"] == 260032
    assert i["has_tokenizer"] and not i["int8"] and i["weights"] == "resident"
    assert (i["bos_id"], i["eos_id"]) == (1, 2)
    assert "stories260K.bin" in repr(stories)


def test_greedy_generation_matches_llama2c(stories):
    assert stories.generate("", max_tokens=60, temperature=0) == REFERENCE
    assert stories.last_stats["generated_tokens"] == 60
    assert stories.last_stats["prompt_tokens"] == 1


def test_sampling_is_seeded_and_streams(stories):
    seen = []
    a = stories.generate("Once upon a time", max_tokens=30, temperature=1.0, seed=5,
                         on_token=seen.append)
    b = stories.generate("Once upon a time", max_tokens=30, temperature=1.0, seed=5)
    c = stories.generate("Once upon a time", max_tokens=30, temperature=1.0, seed=6)
    assert a == b and "".join(seen) == a
    assert len(seen) == 30 and a != c


def test_callback_stops_and_raises(stories):
    seen = []
    text = stories.generate("", max_tokens=50, temperature=0,
                            on_token=lambda piece: seen.append(piece) or len(seen) == 3)
    assert len(seen) == 3 and text == "".join(seen) and REFERENCE.startswith(text)

    def boom(piece):
        raise KeyError("from the callback")

    with pytest.raises(KeyError, match="from the callback"):
        stories.generate("", max_tokens=5, on_token=boom)


def test_tokenize_roundtrip(stories):
    ids = stories.tokenize("Lily saw a big, red ball.")
    assert ids[0] == 1 and len(ids) > 5
    assert stories.detokenize(ids) == "Lily saw a big, red ball."
    assert stories.tokenize("", add_bos=False) == []
    with pytest.raises(dcllm.DcllmError, match="outside the vocabulary"):
        stories.detokenize([1, 512])


def test_perplexity_equals_the_cli(stories, data, cli):
    text = (data / "tinystories_valid_head.txt").read_text()
    r = stories.perplexity(text, ctx=256, windows=4)
    assert (r.tokens, r.windows, r.ctx) == (4 * 255, 4, 256)
    ref = json.loads(run_cli(cli, "ppl", data / "stories260K.bin", "--tokenizer",
                             data / "tok512.bin", "--text", data / "tinystories_valid_head.txt",
                             "--ctx", 256, "--chunks", 4, "--json"))
    assert r.ppl == pytest.approx(ref["ppl"], rel=1e-12)
    assert r.nll == pytest.approx(ref["nll"], rel=1e-12)
    assert r.tokens == ref["tokens"]


def test_perplexity_progress_and_cancel(stories, data):
    text = (data / "tinystories_valid_head.txt").read_text()
    seen = []
    stories.perplexity(text, ctx=128, windows=3, on_progress=lambda *a: seen.append(a))
    assert seen == [("perplexity", 1, 3), ("perplexity", 2, 3), ("perplexity", 3, 3)]
    with pytest.raises(dcllm.DcllmError) as e:
        stories.perplexity(text, ctx=128, windows=3, on_progress=lambda s, d, t: d == 2)
    assert e.value.code == "cancelled"


def test_tensors_are_zero_copy_views(stories, data):
    emb = stories.tensor("token_embd.weight")
    assert emb.shape == (512, 64) and emb.dtype == np.float32
    assert not emb.flags.writeable and not emb.flags.owndata
    # llama2.c: a 7-int32 header, then the token embeddings.
    expected = np.fromfile(data / "stories260K.bin", dtype="<f4", count=512 * 64, offset=28)
    assert np.array_equal(emb.reshape(-1), expected)
    again = stories.tensor("token_embd.weight")
    assert again.__array_interface__["data"][0] == emb.__array_interface__["data"][0]
    names = stories.tensor_names()
    assert len(names) == stories.info["n_tensors"] and "blk.4.ffn_down.weight" in names
    assert stories.tensor_info("blk.0.attn_q.weight")["shape"] == [64, 64]
    with pytest.raises(dcllm.DcllmError, match="no tensor named"):
        stories.tensor("nope")


def test_arrays_outlive_close(data):
    m = dcllm.load(data / "stories260K.gguf", threads=1)
    w = m.tensor("output_norm.weight")
    before = w.copy()
    m.close()
    with pytest.raises(ValueError, match="closed"):
        m.generate("", max_tokens=1)
    assert np.array_equal(w, before)  # the view still holds the model


def test_compress_inspect_and_tiers(compressed, stories, data, cli):
    out, report = compressed
    assert report["output"] == str(out)
    assert report["file_bytes"] == out.stat().st_size
    assert report["totals"]["int8_bytes"] > 0

    info = dcllm.inspect(out)
    assert info == json.loads(run_cli(cli, "inspect", out, "--json"))
    assert info["format"] == "dcllm" and info["totals"]["file_bytes"] == out.stat().st_size
    with_chunks = dcllm.inspect(out, chunks=True)
    assert "chunk_list" in with_chunks["tensors"][0]

    resident = dcllm.load(out, threads=1)
    assert resident.info["int8"] and resident.info["format"].startswith("dcllm")
    q = resident.tensor("blk.0.attn_q.weight")
    assert q.dtype == np.int8 and q.shape == (64, 64)
    t = resident.tensor_info("blk.0.attn_q.weight")
    assert t["quant"] == "per-channel" and t["scales"].shape == (64,)
    assert q.base is not None and not q.flags.writeable and np.abs(q).max() == 127
    greedy = resident.generate("", max_tokens=20, temperature=0)
    for tier in ("compressed", "stream"):
        m = dcllm.load(out, weights=tier, threads=1)
        assert m.info["weights"] == tier
        assert m.generate("", max_tokens=20, temperature=0) == greedy
        with pytest.raises(dcllm.DcllmError, match="not in memory"):
            m.tensor("blk.0.attn_q.weight")


def test_inspect_model_file_equals_the_cli(data, cli):
    for name in ("stories260K.gguf", "stories260K.bin"):
        assert dcllm.inspect(data / name) == json.loads(run_cli(cli, "inspect", data / name,
                                                                "--json"))


def test_errors(data, tmp_path):
    with pytest.raises(dcllm.DcllmError) as e:
        dcllm.load(tmp_path / "missing.gguf")
    assert "missing.gguf" in str(e.value) and e.value.code == "I/O error"
    with pytest.raises(ValueError, match="weights"):
        dcllm.load(data / "stories260K.gguf", weights="bogus")
    with pytest.raises(dcllm.DcllmError, match="needs a .dcllm"):
        dcllm.load(data / "stories260K.gguf", weights="compressed")
    m = dcllm.load(data / "stories260K.gguf", threads=1)
    with pytest.raises(dcllm.DcllmError, match="exceeds the model's context"):
        m.perplexity("some text", ctx=4096)
    out = tmp_path / "never.dcllm"
    with pytest.raises(dcllm.DcllmError):
        dcllm.compress(data / "stories260K.gguf", out, calib=tmp_path / "no-calib.txt")
    assert not out.exists()
    with pytest.raises(dcllm.DcllmError) as e:
        dcllm.compress(data / "stories260K.gguf", out, calib=data / "tinystories_valid_head.txt",
                       calib_tokens=512, calib_ctx=128, threads=1,
                       on_progress=lambda stage, done, total: stage == "encode")
    assert e.value.code == "cancelled" and not out.exists()
    with pytest.raises(dcllm.DcllmError):
        dcllm.inspect(tmp_path / "missing.dcllm")


def test_the_binding_is_the_compiled_extension():
    # pybind11's dcllm._core over libdcllm.so, not a pure-Python fallback.
    assert dcllm._core.__file__.endswith(".so")
    assert dcllm._core.version() == dcllm.version()


def test_threads_generate_on_one_model(stories):
    import threading
    texts = [None] * 4

    def work(i):
        texts[i] = stories.generate("", max_tokens=30, temperature=0)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(texts)) == 1 and REFERENCE.startswith(texts[0])


def test_compress_callback_error_is_raised_and_leaves_no_output(data, tmp_path):
    out = tmp_path / "never.dcllm"

    def boom(stage, done, total):
        raise ArithmeticError(f"stop at {stage}")

    with pytest.raises(ArithmeticError, match="stop at calibrate"):
        dcllm.compress(data / "stories260K.gguf", out, calib=data / "tinystories_valid_head.txt",
                       calib_tokens=512, calib_ctx=128, threads=1, on_progress=boom)
    assert not out.exists()


def test_compress_without_calibration_text(data, tmp_path):
    out = tmp_path / "unscaled.dcllm"
    report = dcllm.compress(data / "stories260K.bin", out, tokenizer=data / "tok512.bin",
                            scale="none", prune="none", threads=1)
    assert report["calib_windows"] == 0 and out.exists()
    with pytest.raises(dcllm.DcllmError, match="no calibration text"):
        dcllm.compress(data / "stories260K.bin", tmp_path / "scaled.dcllm",
                       tokenizer=data / "tok512.bin")
