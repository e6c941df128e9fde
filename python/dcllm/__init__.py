"""dcllm: load, run, score, compress and inspect LLMs through libdcllm's C API.

    import dcllm
    m = dcllm.load("stories260K.bin", tokenizer="tok512.bin")   # or .gguf, HF dir, .dcllm
    print(m.generate("Once upon a time", max_tokens=40, temperature=0))
    print(m.perplexity(open("valid.txt").read(), ctx=256, windows=4).ppl)
    w = m.tensor("blk.0.attn_q.weight")      # NumPy view of the model's memory, no copy
    report = dcllm.compress("model.gguf", "model.dcllm", calib="calib.txt")
    info = dcllm.inspect("model.dcllm")

Errors raise DcllmError (.code: the dcllm_status name, e.g. "invalid argument").
"""
import codecs
import json
import os
from typing import Callable, List, NamedTuple, Optional, Sequence

from . import _core
from ._errors import DcllmError

__all__ = ["DcllmError", "Model", "Perplexity", "compress", "inspect", "load", "version"]
__version__ = "0.1.0"

_WEIGHTS = {"resident": _core.WEIGHTS_RESIDENT, "compressed": _core.WEIGHTS_COMPRESSED,
            "stream": _core.WEIGHTS_STREAM}
_WEIGHT_NAMES = {v: k for k, v in _WEIGHTS.items()}


def _bytes(s) -> bytes:
    return s.encode("utf-8") if isinstance(s, str) else bytes(s)


def _path(p) -> bytes:
    return os.fsencode(p)


def _text(b: bytes) -> str:
    return b.decode("utf-8", "replace")


def version() -> str:
    """The version of the loaded libdcllm ("0.1.0")."""
    return _core.version()


class Perplexity(NamedTuple):
    ppl: float      # exp(nll)
    nll: float      # mean nats per scored token
    tokens: int     # tokens scored
    windows: int
    ctx: int


class Model:
    """A loaded model (dcllm.load). Safe to use from several threads: each generate/perplexity
    call has its own cache, and the C calls release the GIL."""

    def __init__(self, core: "_core.Model"):
        self._core = core
        self.info = core.info()
        self.info["weights"] = _WEIGHT_NAMES.get(self.info["weights"], "?")

    @property
    def _m(self) -> "_core.Model":
        if self._core is None:
            raise ValueError("the model is closed")
        return self._core

    def close(self) -> None:
        """Releases the model now (tensor arrays still alive keep its memory until they go)."""
        if self._core is not None:
            self._core.close()
        self._core = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        i = self.info
        return (f"<dcllm.Model {i['path']!r} {i['format']} {i['architecture']} "
                f"{i['n_layers']} layers, {i['parameters']} parameters, weights={i['weights']}>")

    # -- tokens -------------------------------------------------------------------------------
    def tokenize(self, text: str, add_bos: bool = True) -> List[int]:
        return self._m.tokenize(_bytes(text), bool(add_bos))

    def detokenize(self, tokens: Sequence[int]) -> str:
        return _text(self._m.detokenize(list(tokens)))

    # -- running -----------------------------------------------------------------------------
    def generate(self, prompt: str = "", max_tokens: int = 256, temperature: float = 0.8,
                 seed: int = 42, on_token: Optional[Callable[[str], object]] = None) -> str:
        """Text generated after `prompt` (not including it). on_token(text) sees each token's
        text as it comes (whole UTF-8 characters); return True from it to stop."""
        callback = None
        if on_token is not None:
            decoder = codecs.getincrementaldecoder("utf-8")("replace")

            def callback(piece: bytes):
                return on_token(decoder.decode(piece))

        text, self.last_stats = self._m.generate(_bytes(prompt), max_tokens, temperature, seed,
                                                 callback)
        return _text(text)

    def perplexity(self, text: str, ctx: int = 0, windows: int = 0,
                   on_progress: Optional[Callable[[str, int, int], object]] = None) -> Perplexity:
        """`dcllm ppl`'s protocol on `text`: ctx = window length (0: min(512, context)),
        windows = how many to score (0: all). on_progress(stage, done, total) -> True cancels."""
        return Perplexity(*self._m.perplexity(_bytes(text), ctx, windows, on_progress))

    # -- tensors -----------------------------------------------------------------------------
    def tensor_names(self) -> List[str]:
        return [self._m.tensor(i)["name"] for i in range(self.info["n_tensors"])]

    def tensor(self, name: str):
        """The tensor's values as a read-only NumPy array over the model's own memory (float32,
        or int8 for a resident .dcllm's INT8 weights: see tensor_info's scales)."""
        t = self._m.tensor(name)
        if t["data"] is None:
            raise DcllmError(1, "invalid argument",
                             f"tensor {name!r} is not in memory: it is kept coded "
                             f"(weights={self.info['weights']}); load with weights='resident'")
        return t["data"]

    def tensor_info(self, name: str) -> dict:
        """Name, shape, dtype, stored type and, for INT8 tensors, quant scheme and scales."""
        t = self._m.tensor(name)
        del t["data"]
        return t


def load(path, weights: str = "resident", tokenizer=None, threads: int = 0) -> Model:
    """Loads a llama2.c .bin (tokenizer: its tokenizer.bin), a GGUF file, a Hugging Face
    directory or a .dcllm. weights: "resident" | "compressed" | "stream" (.dcllm only for the
    last two). threads: 0 = all cores."""
    if weights not in _WEIGHTS:
        raise ValueError(f"weights must be one of {sorted(_WEIGHTS)}, not {weights!r}")
    tok = _path(tokenizer) if tokenizer is not None else None
    return Model(_core.load(_path(path), _WEIGHTS[weights], tok, threads))


def compress(model, output, calib=None, tokenizer=None, *, calib_tokens: Optional[int] = None,
             calib_ctx: Optional[int] = None, scale: Optional[str] = None,
             alpha: Optional[float] = None, wquant: Optional[str] = None,
             aquant: Optional[str] = None, prune: Optional[str] = None,
             sparsity: Optional[float] = None, prune_group: Optional[str] = None,
             codec: Optional[str] = None, threads: int = 0,
             on_progress: Optional[Callable[[str, int, int], object]] = None) -> dict:
    """`dcllm compress MODEL -o OUTPUT --calib CALIB ...`; options left None keep the CLI's
    defaults. calib may be None only with scale="none", prune="none" (nothing else reads it). Returns the report (`compress --json`'s schema, docs/compress.md).
    on_progress(stage, done, total) -> True cancels (no output is left)."""
    options = {"tokenizer_path": _path(tokenizer) if tokenizer is not None else None,
               "calib_path": _path(calib) if calib is not None else None, "calib_tokens": calib_tokens, "calib_ctx": calib_ctx,
               "scale": scale, "alpha": alpha, "wquant": wquant, "aquant": aquant,
               "prune": prune, "sparsity": sparsity, "prune_group": prune_group, "codec": codec,
               "threads": threads}
    report = _core.compress(_path(model), _path(output), options, on_progress)
    return json.loads(report)


def inspect(path, chunks: bool = False) -> dict:
    """`dcllm inspect PATH --json` as a dict (schema: docs/cli.md)."""
    return json.loads(_core.inspect(_path(path), bool(chunks)))
