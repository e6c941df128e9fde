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
import ctypes
import json
from typing import Callable, List, NamedTuple, Optional, Sequence

from . import _lib
from ._lib import lib as _c

__all__ = ["DcllmError", "Model", "Perplexity", "compress", "inspect", "load", "version"]
__version__ = "0.1.0"


class DcllmError(RuntimeError):
    """A failed dcllm call: .status (int), .code (its name) and the library's one-line message."""

    def __init__(self, status: int, message: str):
        self.status = status
        self.code = _c.dcllm_status_string(status).decode()
        super().__init__(f"{message} ({self.code})" if message else self.code)


def _check(status: int) -> None:
    if status != _lib.OK:
        raise DcllmError(status, _c.dcllm_last_error().decode("utf-8", "replace"))


def _bytes(s) -> bytes:
    return s.encode("utf-8") if isinstance(s, str) else bytes(s)


def _path(p) -> bytes:
    import os
    return os.fsencode(p)


def _text_out(call, size: int = 1 << 16) -> str:
    """Runs call(buf, capacity, &len) by dcllm.h's text-out rule, growing the buffer once."""
    n = ctypes.c_size_t(0)
    for _ in range(2):
        buf = ctypes.create_string_buffer(size)
        status = call(buf, size, ctypes.byref(n))
        if status == _lib.BUFFER_TOO_SMALL:
            size = n.value + 1
            continue
        _check(status)
        return buf.raw[: n.value].decode("utf-8", "replace")
    _check(status)
    return ""


def version() -> str:
    """The version of the loaded libdcllm ("0.1.0")."""
    return _c.dcllm_version().decode()


class _Callback:
    """Adapts a Python callable to a C callback; an exception in it stops the call and is
    raised again once the C call has returned (ctypes would only print it)."""

    def __init__(self):
        self.error: Optional[BaseException] = None

    def guard(self, fn, *args) -> int:
        try:
            return 1 if fn(*args) else 0
        except BaseException as e:  # noqa: BLE001 - re-raised by reraise()
            self.error = e
            return 1

    def reraise(self) -> None:
        if self.error is not None:
            raise self.error


def _progress(fn: Optional[Callable], cb: _Callback):
    """on_progress(stage, done, total) -> truthy to cancel."""
    if fn is None:
        return _lib.PROGRESS()
    return _lib.PROGRESS(lambda _u, stage, done, total: cb.guard(fn, stage.decode(), done, total))


class _Handle:
    """Owns a dcllm_model*; NumPy views keep it alive, so close() never frees memory in use."""

    def __init__(self, ptr: int):
        self.ptr = ptr

    def __del__(self):
        if self.ptr:
            _c.dcllm_model_free(self.ptr)
            self.ptr = None


class _ArrayView:
    """Exposes tensor memory to NumPy without a copy; the array's .base holds the model."""

    def __init__(self, handle: _Handle, address: int, shape, typestr: str):
        self._handle = handle
        self.__array_interface__ = {"data": (address, True), "shape": tuple(shape),
                                    "typestr": typestr, "version": 3}


class Perplexity(NamedTuple):
    ppl: float      # exp(nll)
    nll: float      # mean nats per scored token
    tokens: int     # tokens scored
    windows: int
    ctx: int


class Model:
    """A loaded model (dcllm.load). Safe to use from several threads: each generate/perplexity
    call has its own cache, and the C calls release the GIL."""

    def __init__(self, ptr: int):
        self._handle = _Handle(ptr)
        info = _lib.ModelInfo()
        _check(_c.dcllm_model_get_info(self._ptr, ctypes.byref(info)))
        self.info = {name: getattr(info, name) for name, _ in _lib.ModelInfo._fields_}
        for key in ("path", "format", "architecture", "family"):
            self.info[key] = self.info[key].decode("utf-8", "replace")
        self.info["weights"] = _lib.WEIGHT_NAMES.get(self.info["weights"], "?")
        self.info["has_tokenizer"] = bool(self.info["has_tokenizer"])
        self.info["int8"] = bool(self.info["int8"])

    @property
    def _ptr(self) -> int:
        if self._handle is None or not self._handle.ptr:
            raise ValueError("the model is closed")
        return self._handle.ptr

    def close(self) -> None:
        """Releases the model now (tensor arrays still alive keep its memory until they go)."""
        self._handle = None

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
        data = _bytes(text)
        n = ctypes.c_size_t(0)
        capacity = len(data) + 2
        for _ in range(2):
            arr = (ctypes.c_int32 * capacity)()
            st = _c.dcllm_tokenize(self._ptr, data, len(data), int(add_bos), arr, capacity,
                                   ctypes.byref(n))
            if st == _lib.BUFFER_TOO_SMALL:
                capacity = n.value
                continue
            _check(st)
            return list(arr[: n.value])
        _check(st)
        return []

    def detokenize(self, tokens: Sequence[int]) -> str:
        ids = (ctypes.c_int32 * len(tokens))(*tokens)
        return _text_out(lambda buf, cap, n: _c.dcllm_detokenize(self._ptr, ids, len(tokens), buf,
                                                                   cap, n))

    # -- running -----------------------------------------------------------------------------
    def generate(self, prompt: str = "", max_tokens: int = 256, temperature: float = 0.8,
                 seed: int = 42, on_token: Optional[Callable[[str], object]] = None) -> str:
        """Text generated after `prompt` (not including it). on_token(text) sees each token's
        text as it comes (whole UTF-8 characters); return True from it to stop."""
        p = _c.dcllm_generate_params_default()
        p.max_tokens = max_tokens
        p.temperature = temperature
        p.seed = seed
        cb = _Callback()
        pieces = bytearray()
        decoder = codecs.getincrementaldecoder("utf-8")("replace")

        def token(_user, _id, piece, length):
            chunk = ctypes.string_at(piece, length) if length else b""
            pieces.extend(chunk)
            if on_token is None:
                return 0
            return cb.guard(on_token, decoder.decode(chunk))

        keep = _lib.TOKEN(token)  # referenced until the call returns
        p.on_token = keep
        data = _bytes(prompt)
        stats = _lib.GenerateStats()
        st = _c.dcllm_generate(self._ptr, data, len(data), ctypes.byref(p), None, 0, None,
                               ctypes.byref(stats))
        cb.reraise()
        _check(st)
        self.last_stats = {name: getattr(stats, name) for name, _ in _lib.GenerateStats._fields_}
        return pieces.decode("utf-8", "replace")

    def perplexity(self, text: str, ctx: int = 0, windows: int = 0,
                   on_progress: Optional[Callable[[str, int, int], object]] = None) -> Perplexity:
        """`dcllm ppl`'s protocol on `text`: ctx = window length (0: min(512, context)),
        windows = how many to score (0: all). on_progress(stage, done, total) -> True cancels."""
        p = _c.dcllm_perplexity_params_default()
        p.ctx = ctx
        p.windows = windows
        cb = _Callback()
        p.on_progress = keep = _progress(on_progress, cb)  # noqa: F841 - kept alive
        data = _bytes(text)
        r = _lib.PerplexityResult()
        st = _c.dcllm_perplexity(self._ptr, data, len(data), ctypes.byref(p), ctypes.byref(r))
        cb.reraise()
        _check(st)
        return Perplexity(r.ppl, r.nll, r.tokens, r.windows, r.ctx)

    # -- tensors -----------------------------------------------------------------------------
    def _tensor(self, key) -> "_lib.Tensor":
        t = _lib.Tensor()
        if isinstance(key, int):
            _check(_c.dcllm_model_get_tensor(self._ptr, key, ctypes.byref(t)))
        else:
            _check(_c.dcllm_model_find_tensor(self._ptr, _bytes(key), ctypes.byref(t)))
        return t

    def tensor_names(self) -> List[str]:
        return [self._tensor(i).name.decode("utf-8", "replace")
                for i in range(self.info["n_tensors"])]

    def tensor(self, name: str):
        """The tensor's values as a read-only NumPy array over the model's own memory (float32,
        or int8 for a resident .dcllm's INT8 weights: see tensor_info's scales)."""
        import numpy as np
        t = self._tensor(name)
        shape = [t.shape[k] for k in range(t.n_dims)]
        if t.dtype == _lib.DTYPE_NONE:
            raise DcllmError(_lib.INVALID_ARGUMENT,
                             f"tensor {name!r} is not in memory: it is kept coded "
                             f"(weights={self.info['weights']}); load with weights='resident'")
        typestr = "<f4" if t.dtype == _lib.DTYPE_F32 else "|i1"
        return np.asarray(_ArrayView(self._handle, t.data, shape, typestr))

    def tensor_info(self, name: str) -> dict:
        """Name, shape, dtype, stored type and, for INT8 tensors, quant scheme and scales."""
        t = self._tensor(name)
        info = {"name": t.name.decode("utf-8", "replace"),
                "shape": [t.shape[k] for k in range(t.n_dims)],
                "dtype": {_lib.DTYPE_NONE: None, _lib.DTYPE_F32: "float32",
                          _lib.DTYPE_I8: "int8"}[t.dtype],
                "stored_type": t.stored_type.decode("utf-8", "replace"),
                "quant": _lib.QUANT_NAMES.get(t.quant, "?"),
                "group_size": t.group_size,
                "scales": None}
        if t.scales and t.n_scales:
            import numpy as np
            info["scales"] = np.asarray(_ArrayView(self._handle, t.scales, [t.n_scales], "<f4"))
        return info


def load(path, weights: str = "resident", tokenizer=None, threads: int = 0) -> Model:
    """Loads a llama2.c .bin (tokenizer: its tokenizer.bin), a GGUF file, a Hugging Face
    directory or a .dcllm. weights: "resident" | "compressed" | "stream" (.dcllm only for the
    last two). threads: 0 = all cores."""
    if weights not in _lib.WEIGHTS:
        raise ValueError(f"weights must be one of {sorted(_lib.WEIGHTS)}, not {weights!r}")
    p = _c.dcllm_load_params_default()
    p.tokenizer_path = _path(tokenizer) if tokenizer is not None else None
    p.weights = _lib.WEIGHTS[weights]
    p.threads = threads
    ptr = ctypes.c_void_p()
    _check(_c.dcllm_model_load(_path(path), ctypes.byref(p), ctypes.byref(ptr)))
    return Model(ptr.value)


def compress(model, output, calib, tokenizer=None, *, calib_tokens: Optional[int] = None,
             calib_ctx: Optional[int] = None, scale: Optional[str] = None,
             alpha: Optional[float] = None, wquant: Optional[str] = None,
             aquant: Optional[str] = None, prune: Optional[str] = None,
             sparsity: Optional[float] = None, prune_group: Optional[str] = None,
             codec: Optional[str] = None, threads: int = 0,
             on_progress: Optional[Callable[[str, int, int], object]] = None) -> dict:
    """`dcllm compress MODEL -o OUTPUT --calib CALIB ...`; options left None keep the CLI's
    defaults. Returns the report (`compress --json`'s schema, docs/compress.md).
    on_progress(stage, done, total) -> True cancels (no output is left)."""
    p = _c.dcllm_compress_params_default()
    p.tokenizer_path = _path(tokenizer) if tokenizer is not None else None
    p.calib_path = _path(calib)
    for field, value in (("calib_tokens", calib_tokens), ("calib_ctx", calib_ctx),
                         ("alpha", alpha), ("sparsity", sparsity)):
        if value is not None:
            setattr(p, field, value)
    for field, value in (("scale", scale), ("wquant", wquant), ("aquant", aquant),
                         ("prune", prune), ("prune_group", prune_group), ("codec", codec)):
        if value is not None:
            setattr(p, field, _bytes(value))
    p.threads = threads
    cb = _Callback()
    p.on_progress = keep = _progress(on_progress, cb)  # noqa: F841 - kept alive
    result = ctypes.c_void_p()
    st = _c.dcllm_compress(_path(model), _path(output), ctypes.byref(p), ctypes.byref(result))
    cb.reraise()
    _check(st)
    try:
        text = _text_out(lambda buf, cap, n: _c.dcllm_compress_result_json(result, buf, cap, n))
    finally:
        _c.dcllm_compress_result_free(result)
    return json.loads(text)


def inspect(path, chunks: bool = False) -> dict:
    """`dcllm inspect PATH --json` as a dict (schema: docs/cli.md)."""
    flags = _lib.INSPECT_CHUNKS if chunks else 0
    return json.loads(_text_out(lambda buf, cap, n: _c.dcllm_inspect(_path(path), flags, buf,
                                                                       cap, n)))
