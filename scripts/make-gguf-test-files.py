#!/usr/bin/env python3
# Writes the GGUF test files of the model readers. Needs `pip install gguf numpy`.
#  tests/data/gguf_quant_vectors.gguf: for each GGML type dcllm reads, 512 values of random
#    blocks ("q.TYPE") and their float32 values as decoded by the `gguf` Python package
#    ("ref.TYPE"), an implementation independent of ours.
#  fuzz/seeds/gguf_reader_fuzz/tiny_llama.gguf and fuzz/seeds/llama2c_reader_fuzz/tiny.bin:
#    small valid models (every tensor type, a llama vocabulary) to start the fuzzers from.
import os
import struct
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T

N = 512
# (type, byte offsets of float16 scale/min fields inside a block)
QUANT_TYPES = [
    (T.Q8_0, [0]), (T.Q4_0, [0]), (T.Q4_1, [0, 2]), (T.Q5_0, [0]), (T.Q5_1, [0, 2]),
    (T.Q4_K, [0, 2]), (T.Q5_K, [0, 2]), (T.Q6_K, [208]),
]


def random_blocks(rng, qtype, scale_offsets, n):
    block_elems, block_bytes = gguf.GGML_QUANT_SIZES[qtype]
    raw = rng.integers(0, 256, size=(n // block_elems, block_bytes), dtype=np.uint8)
    for b in range(raw.shape[0]):
        for off in scale_offsets:
            scale = np.float16(rng.uniform(0.001, 0.5) * rng.choice([-1, 1]))
            raw[b, off:off + 2] = np.frombuffer(scale.tobytes(), dtype=np.uint8)
    return raw.reshape(-1)


def quant_vectors(out_path):
    rng = np.random.default_rng(1234)
    w = gguf.GGUFWriter(out_path, "dcllm-test-vectors")
    f16 = (rng.standard_normal(N) * 3).astype(np.float16)
    w.add_tensor("q.F16", f16, raw_dtype=T.F16)
    w.add_tensor("ref.F16", f16.astype(np.float32))
    f32 = rng.standard_normal(N).astype(np.float32)
    bf16 = (f32.view(np.uint32) >> 16).astype(np.uint16)
    w.add_tensor("q.BF16", bf16.view(np.uint8), raw_dtype=T.BF16)
    w.add_tensor("ref.BF16", (bf16.astype(np.uint32) << 16).view(np.float32))
    for qtype, scale_offsets in QUANT_TYPES:
        raw = random_blocks(rng, qtype, scale_offsets, N)
        ref = gguf.quants.dequantize(raw, qtype).astype(np.float32).reshape(-1)
        assert ref.size == N and np.all(np.isfinite(ref))
        w.add_tensor("q." + qtype.name, raw, raw_dtype=qtype)
        w.add_tensor("ref." + qtype.name, ref)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def tiny_llama_gguf(out_path):
    rng = np.random.default_rng(7)
    dim, hidden, vocab = 32, 64, 8
    w = gguf.GGUFWriter(out_path, "llama")
    w.add_context_length(16)
    w.add_embedding_length(dim)
    w.add_block_count(1)
    w.add_feed_forward_length(hidden)
    w.add_head_count(2)
    w.add_head_count_kv(1)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_tokenizer_model("llama")
    w.add_token_list(["<unk>", "<s>", "</s>", "<0x41>", "\u2581a", "b", "\u2581ab", "c"])
    w.add_token_scores([0.0, 0.0, 0.0, 0.0, -1.0, -2.0, -0.5, -3.0])
    w.add_token_types([2, 3, 3, 6, 1, 1, 1, 1])
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)

    def f32(shape):
        return (rng.standard_normal(shape) * 0.2).astype(np.float32)

    def quant(name, qtype, scale_offsets, rows, cols):
        raw = random_blocks(rng, qtype, scale_offsets, rows * cols)
        w.add_tensor(name, raw.reshape(rows, -1), raw_dtype=qtype)

    w.add_tensor("token_embd.weight", f32((vocab, dim)).astype(np.float16), raw_dtype=T.F16)
    w.add_tensor("output_norm.weight", np.ones(dim, dtype=np.float32))
    w.add_tensor("blk.0.attn_norm.weight", np.ones(dim, dtype=np.float32))
    quant("blk.0.attn_q.weight", T.Q8_0, [0], dim, dim)
    quant("blk.0.attn_k.weight", T.Q4_0, [0], 16, dim)
    quant("blk.0.attn_v.weight", T.Q4_1, [0, 2], 16, dim)
    quant("blk.0.attn_output.weight", T.Q5_0, [0], dim, dim)
    w.add_tensor("blk.0.ffn_norm.weight", np.ones(dim, dtype=np.float32))
    quant("blk.0.ffn_gate.weight", T.Q5_1, [0, 2], hidden, dim)
    w.add_tensor("blk.0.ffn_up.weight", f32((hidden, dim)))
    bf16 = (f32((dim, hidden)).view(np.uint32) >> 16).astype(np.uint16)
    w.add_tensor("blk.0.ffn_down.weight", bf16.view(np.uint8), raw_dtype=T.BF16)
    # Unused extras so the fuzzer starts with every K-quant block in reach.
    quant("extra.q4_k", T.Q4_K, [0, 2], 1, 256)
    quant("extra.q5_k", T.Q5_K, [0, 2], 1, 256)
    quant("extra.q6_k", T.Q6_K, [208], 1, 256)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def tiny_llama2c(out_path):
    # dim 8, hidden 12, 1 layer, 2 heads, 1 kv head, vocab -4 (unshared classifier), seq_len 4.
    dim, hidden, layers, heads, kv_heads, vocab, seq = 8, 12, 1, 2, 1, 4, 4
    hd = dim // heads
    kv = kv_heads * hd
    n = (vocab * dim + layers * (dim + dim * dim + 2 * kv * dim + dim * dim + dim + 3 * hidden * dim)
         + dim + seq * hd + vocab * dim)
    rng = np.random.default_rng(3)
    with open(out_path, "wb") as f:
        f.write(struct.pack("<7i", dim, hidden, layers, heads, kv_heads, -vocab, seq))
        f.write((rng.standard_normal(n) * 0.2).astype("<f4").tobytes())


if __name__ == "__main__":
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    quant_vectors(os.path.join(root, "tests/data/gguf_quant_vectors.gguf"))
    for d in ("gguf_reader_fuzz", "llama2c_reader_fuzz"):
        os.makedirs(os.path.join(root, "fuzz/seeds", d), exist_ok=True)
    tiny_llama_gguf(os.path.join(root, "fuzz/seeds/gguf_reader_fuzz/tiny_llama.gguf"))
    tiny_llama2c(os.path.join(root, "fuzz/seeds/llama2c_reader_fuzz/tiny.bin"))
