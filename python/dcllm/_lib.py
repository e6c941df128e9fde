# ctypes declarations of libdcllm.so's C API (include/dcllm/dcllm.h) and where the library is
# found: $DCLLM_LIBRARY, beside this package (a pip-installed wheel), then the system's loader.
import ctypes
import os
import pathlib

c_int32_p = ctypes.POINTER(ctypes.c_int32)
c_size_p = ctypes.POINTER(ctypes.c_size_t)

PROGRESS = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int64,
                            ctypes.c_int64)
TOKEN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_int32, ctypes.c_void_p,
                         ctypes.c_size_t)

# dcllm_status
OK, INVALID_ARGUMENT, IO, CORRUPT, UNSUPPORTED, INTERNAL, BUFFER_TOO_SMALL, CANCELLED, \
    OUT_OF_MEMORY = range(9)

WEIGHTS = {"resident": 0, "compressed": 1, "stream": 2}
WEIGHT_NAMES = {v: k for k, v in WEIGHTS.items()}
DTYPE_NONE, DTYPE_F32, DTYPE_I8 = 0, 1, 2
QUANT_NAMES = {0: "none", 1: "per-tensor", 2: "per-channel", 3: "group"}
MAX_DIMS = 8
INSPECT_CHUNKS = 1


class LoadParams(ctypes.Structure):
    _fields_ = [("tokenizer_path", ctypes.c_char_p), ("weights", ctypes.c_int32),
                ("threads", ctypes.c_uint32)]


class ModelInfo(ctypes.Structure):
    _fields_ = [("path", ctypes.c_char_p), ("format", ctypes.c_char_p),
                ("architecture", ctypes.c_char_p), ("family", ctypes.c_char_p),
                ("vocab_size", ctypes.c_int64), ("dim", ctypes.c_int64),
                ("hidden_dim", ctypes.c_int64), ("n_layers", ctypes.c_int64),
                ("n_heads", ctypes.c_int64), ("n_kv_heads", ctypes.c_int64),
                ("head_dim", ctypes.c_int64), ("context_length", ctypes.c_int64),
                ("parameters", ctypes.c_int64), ("stored_bytes", ctypes.c_uint64),
                ("n_tensors", ctypes.c_size_t), ("bos_id", ctypes.c_int32),
                ("eos_id", ctypes.c_int32), ("has_tokenizer", ctypes.c_int32),
                ("int8", ctypes.c_int32), ("weights", ctypes.c_int)]


class Tensor(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("stored_type", ctypes.c_char_p),
                ("n_dims", ctypes.c_int32), ("shape", ctypes.c_int64 * MAX_DIMS),
                ("dtype", ctypes.c_int), ("data", ctypes.c_void_p), ("n_bytes", ctypes.c_size_t),
                ("n_elements", ctypes.c_int64), ("quant", ctypes.c_int),
                ("group_size", ctypes.c_int64), ("scales", ctypes.c_void_p),
                ("n_scales", ctypes.c_size_t)]


class GenerateParams(ctypes.Structure):
    _fields_ = [("max_tokens", ctypes.c_int64), ("temperature", ctypes.c_float),
                ("seed", ctypes.c_uint64), ("on_token", TOKEN), ("user_data", ctypes.c_void_p)]


class GenerateStats(ctypes.Structure):
    _fields_ = [("prompt_tokens", ctypes.c_int64), ("generated_tokens", ctypes.c_int64),
                ("prompt_seconds", ctypes.c_double), ("generate_seconds", ctypes.c_double)]


class PerplexityParams(ctypes.Structure):
    _fields_ = [("ctx", ctypes.c_int64), ("windows", ctypes.c_int64),
                ("on_progress", PROGRESS), ("user_data", ctypes.c_void_p)]


class PerplexityResult(ctypes.Structure):
    _fields_ = [("ppl", ctypes.c_double), ("nll", ctypes.c_double), ("tokens", ctypes.c_int64),
                ("windows", ctypes.c_int64), ("ctx", ctypes.c_int64)]


class CompressParams(ctypes.Structure):
    _fields_ = [("tokenizer_path", ctypes.c_char_p), ("calib_path", ctypes.c_char_p),
                ("calib_tokens", ctypes.c_int64), ("calib_ctx", ctypes.c_int64),
                ("scale", ctypes.c_char_p), ("alpha", ctypes.c_double),
                ("wquant", ctypes.c_char_p), ("aquant", ctypes.c_char_p),
                ("prune", ctypes.c_char_p), ("sparsity", ctypes.c_double),
                ("prune_group", ctypes.c_char_p), ("codec", ctypes.c_char_p),
                ("threads", ctypes.c_uint32), ("on_progress", PROGRESS),
                ("user_data", ctypes.c_void_p)]


def _find_library():
    explicit = os.environ.get("DCLLM_LIBRARY")
    if explicit:
        return explicit
    beside = pathlib.Path(__file__).with_name("libdcllm.so")
    if beside.exists():
        return str(beside)
    return "libdcllm.so.0.1"  # installed by cmake --install; the system loader's search path


def _declare(lib):
    P = ctypes.POINTER
    vp = ctypes.c_void_p
    signatures = {
        "dcllm_version": (ctypes.c_char_p, []),
        "dcllm_version_number": (ctypes.c_int, []),
        "dcllm_status_string": (ctypes.c_char_p, [ctypes.c_int]),
        "dcllm_last_error": (ctypes.c_char_p, []),
        "dcllm_load_params_default": (LoadParams, []),
        "dcllm_model_load": (ctypes.c_int, [ctypes.c_char_p, P(LoadParams), P(vp)]),
        "dcllm_model_free": (None, [vp]),
        "dcllm_model_get_info": (ctypes.c_int, [vp, P(ModelInfo)]),
        "dcllm_model_get_tensor": (ctypes.c_int, [vp, ctypes.c_size_t, P(Tensor)]),
        "dcllm_model_find_tensor": (ctypes.c_int, [vp, ctypes.c_char_p, P(Tensor)]),
        "dcllm_tokenize": (ctypes.c_int, [vp, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int,
                                          c_int32_p, ctypes.c_size_t, c_size_p]),
        "dcllm_detokenize": (ctypes.c_int, [vp, c_int32_p, ctypes.c_size_t, ctypes.c_char_p,
                                            ctypes.c_size_t, c_size_p]),
        "dcllm_generate_params_default": (GenerateParams, []),
        "dcllm_generate": (ctypes.c_int, [vp, ctypes.c_char_p, ctypes.c_size_t,
                                          P(GenerateParams), ctypes.c_char_p, ctypes.c_size_t,
                                          c_size_p, P(GenerateStats)]),
        "dcllm_perplexity_params_default": (PerplexityParams, []),
        "dcllm_perplexity": (ctypes.c_int, [vp, ctypes.c_char_p, ctypes.c_size_t,
                                            P(PerplexityParams), P(PerplexityResult)]),
        "dcllm_compress_params_default": (CompressParams, []),
        "dcllm_compress": (ctypes.c_int, [ctypes.c_char_p, ctypes.c_char_p, P(CompressParams),
                                          P(vp)]),
        "dcllm_compress_result_json": (ctypes.c_int, [vp, ctypes.c_char_p, ctypes.c_size_t,
                                                      c_size_p]),
        "dcllm_compress_result_free": (None, [vp]),
        "dcllm_inspect": (ctypes.c_int, [ctypes.c_char_p, ctypes.c_uint32, ctypes.c_char_p,
                                         ctypes.c_size_t, c_size_p]),
    }
    for name, (restype, argtypes) in signatures.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
    return lib


lib = _declare(ctypes.CDLL(_find_library()))
