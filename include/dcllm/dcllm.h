/* dcllm.h: the C API of dcllm (libdcllm.so) — load a model, tokenize, generate, score perplexity,
 * compress to .dcllm and inspect files, through opaque handles and caller-sized buffers. */
#ifndef DCLLM_DCLLM_H
#define DCLLM_DCLLM_H

#include <stddef.h>
#include <stdint.h>

/* The one place the library's version is written; CMake's package version file reads it here. */
#define DCLLM_VERSION_MAJOR 0
#define DCLLM_VERSION_MINOR 1
#define DCLLM_VERSION_PATCH 0
#define DCLLM_VERSION_STRING "0.1.0"
#define DCLLM_VERSION_NUMBER \
  (DCLLM_VERSION_MAJOR * 10000 + DCLLM_VERSION_MINOR * 100 + DCLLM_VERSION_PATCH)

#if defined(__GNUC__)
#define DCLLM_API __attribute__((visibility("default")))
#else
#define DCLLM_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------
 * Conventions
 * - Every function that can fail returns a dcllm_status; DCLLM_OK is 0. After any call,
 *   dcllm_last_error() gives that call's one-line message on this thread ("" after a success).
 * - Text in: a pointer and a length in bytes (UTF-8, need not be NUL-terminated; NULL is
 *   allowed only with length 0). Paths are NUL-terminated.
 * - Text out: a caller buffer and its capacity in bytes. The text is written NUL-terminated and
 *   *out_len receives its length without the NUL. If capacity < length + 1 the call returns
 *   DCLLM_ERR_BUFFER_TOO_SMALL, *out_len receives the length needed (without the NUL) and the
 *   buffer holds as much as fits, NUL-terminated (nothing when capacity is 0). Passing NULL with
 *   capacity 0 is the way to ask for the size.
 * - Arrays out (token ids): the same rule, counted in elements, without a terminator.
 * - Params structs: start from the *_default() function and change the fields you need.
 * - No function keeps a pointer to caller memory after it returns. Strings and arrays the
 *   library returns (model info, tensors) live until the handle they came from is freed.
 * - A model handle may be used by several threads at once: generate and perplexity build their
 *   own context (KV cache) per call.
 * - While the major version is 0 the ABI may change with the minor version, which is why the
 *   SONAME carries both (libdcllm.so.0.1).
 * ------------------------------------------------------------------------------------------- */

typedef enum dcllm_status {
  DCLLM_OK = 0,
  DCLLM_ERR_INVALID_ARGUMENT = 1, /* NULL where a value is needed, a value out of range */
  DCLLM_ERR_IO = 2,               /* a file could not be opened, read or written */
  DCLLM_ERR_CORRUPT = 3,          /* a file's bytes violate its format */
  DCLLM_ERR_UNSUPPORTED = 4,      /* well-formed but not handled (architecture, type, ...) */
  DCLLM_ERR_INTERNAL = 5,         /* a bug in dcllm */
  DCLLM_ERR_BUFFER_TOO_SMALL = 6, /* *out_len / *out_n says how much is needed */
  DCLLM_ERR_CANCELLED = 7,        /* a progress callback returned non-zero */
  DCLLM_ERR_OUT_OF_MEMORY = 8,
  /* Not statuses: they make the type span every int, so that a value from elsewhere (a binding,
   * a newer library) is one dcllm_status_string may inspect (C++ forbids out-of-range enums). */
  DCLLM_STATUS_RANGE_MIN_ = -2147483647 - 1,
  DCLLM_STATUS_RANGE_MAX_ = 2147483647
} dcllm_status;

/* "0.1.0": the version of the library that is loaded (DCLLM_VERSION_STRING is the header's). */
DCLLM_API const char* dcllm_version(void);
/* DCLLM_VERSION_NUMBER of the loaded library. */
DCLLM_API int dcllm_version_number(void);
/* "ok", "invalid argument", ...; "unknown status" for a value not listed above. */
DCLLM_API const char* dcllm_status_string(dcllm_status status);
/* The message of the last call made on this thread: "" when it succeeded. Valid until the next
 * dcllm call on this thread. */
DCLLM_API const char* dcllm_last_error(void);

/* Progress of a long call: stage ("calibrate", "encode", "perplexity"), units done and total.
 * Called on the calling thread. Return 0 to go on, non-zero to stop the call, which then
 * returns DCLLM_ERR_CANCELLED and leaves no output file. */
typedef int (*dcllm_progress_callback)(void* user_data, const char* stage, int64_t done,
                                       int64_t total);

/* ---------------------------------------------------------------------------------------------
 * Models
 * ------------------------------------------------------------------------------------------- */

typedef struct dcllm_model dcllm_model;

/* Where a .dcllm's INT8 weights live while it runs (docs/runtime.md): decoded once at load,
 * kept coded in RAM and decoded just before use, or read from the file on each use. The
 * last two need a .dcllm; all three give the same logits. */
typedef enum dcllm_weights {
  DCLLM_WEIGHTS_RESIDENT = 0,
  DCLLM_WEIGHTS_COMPRESSED = 1,
  DCLLM_WEIGHTS_STREAM = 2
} dcllm_weights;

typedef struct dcllm_load_params {
  /* llama2.c tokenizer.bin for a llama2.c .bin model; NULL = tokenizer.bin beside the model. */
  const char* tokenizer_path;
  /* A dcllm_weights value (an int32_t, so that any value a caller passes can be checked);
   * default DCLLM_WEIGHTS_RESIDENT. */
  int32_t weights;
  uint32_t threads; /* worker threads for loading and running; 0 (default) = all cores */
} dcllm_load_params;

DCLLM_API dcllm_load_params dcllm_load_params_default(void);

/* Loads a llama2.c .bin, a GGUF file, a Hugging Face checkpoint directory or a .dcllm.
 * params may be NULL (defaults). On success *out_model owns the model; free it with
 * dcllm_model_free. On failure *out_model is set to NULL. */
DCLLM_API dcllm_status dcllm_model_load(const char* path, const dcllm_load_params* params,
                                        dcllm_model** out_model);
/* NULL is allowed. */
DCLLM_API void dcllm_model_free(dcllm_model* model);

typedef struct dcllm_model_info {
  const char* path;
  const char* format;       /* "llama2.c", "GGUF v3", "dcllm v1", "safetensors", ... */
  const char* architecture; /* as the file names it: "llama", "qwen2", "llama2.c", ... */
  const char* family;       /* "llama", "opt", "gpt2" */
  int64_t vocab_size;
  int64_t dim;
  int64_t hidden_dim;
  int64_t n_layers;
  int64_t n_heads;
  int64_t n_kv_heads;
  int64_t head_dim;
  int64_t context_length; /* trained context (seq_len) */
  int64_t parameters;     /* elements of every tensor */
  uint64_t stored_bytes;  /* bytes of the tensors as the file stores them */
  size_t n_tensors;
  int32_t bos_id;        /* -1: none (or no tokenizer) */
  int32_t eos_id;        /* -1: none (or no tokenizer) */
  int32_t has_tokenizer; /* 1 when tokenize, generate and perplexity can run */
  int32_t int8;          /* 1 when the linear layers run W8A8 on INT8 weights (a .dcllm) */
  dcllm_weights weights;
} dcllm_model_info;

DCLLM_API dcllm_status dcllm_model_get_info(const dcllm_model* model, dcllm_model_info* out_info);

/* Type of a tensor's values in memory. */
typedef enum dcllm_dtype {
  DCLLM_DTYPE_NONE = 0, /* not in memory: a coded INT8 tensor (compressed or stream tier) */
  DCLLM_DTYPE_F32 = 1,
  DCLLM_DTYPE_I8 = 2
} dcllm_dtype;

/* How the scales of an INT8 tensor apply: real[r][c] = values[r][c] * scale (one for the tensor,
 * one per row r, or one per group_size consecutive elements of row r). */
typedef enum dcllm_quant {
  DCLLM_QUANT_NONE = 0,
  DCLLM_QUANT_PER_TENSOR = 1,
  DCLLM_QUANT_PER_CHANNEL = 2,
  DCLLM_QUANT_GROUP = 3
} dcllm_quant;

#define DCLLM_MAX_DIMS 8

typedef struct dcllm_tensor {
  const char* name;        /* canonical (GGUF) name: "blk.0.attn_q.weight", ... */
  const char* stored_type; /* as the file stores it: "F32", "Q4_1", "i8", ... */
  int32_t n_dims;
  int64_t shape[DCLLM_MAX_DIMS]; /* row-major, outermost first: a linear weight is {out, in} */
  dcllm_dtype dtype;
  const void* data; /* n_elements values of dtype, read-only; NULL when dtype is NONE */
  size_t n_bytes;   /* bytes at data */
  int64_t n_elements;
  dcllm_quant quant; /* INT8 tensors only; NONE otherwise */
  int64_t group_size;
  const float* scales; /* n_scales scales of an INT8 tensor, NULL otherwise */
  size_t n_scales;
} dcllm_tensor;

/* The tensor at index (0 <= index < info.n_tensors), or by name (DCLLM_ERR_INVALID_ARGUMENT
 * when there is none). The pointers live as long as the model. */
DCLLM_API dcllm_status dcllm_model_get_tensor(const dcllm_model* model, size_t index,
                                              dcllm_tensor* out_tensor);
DCLLM_API dcllm_status dcllm_model_find_tensor(const dcllm_model* model, const char* name,
                                               dcllm_tensor* out_tensor);

/* ---------------------------------------------------------------------------------------------
 * Tokens
 * ------------------------------------------------------------------------------------------- */

/* Token ids of text; add_bos non-zero puts BOS first when the vocabulary has one. */
DCLLM_API dcllm_status dcllm_tokenize(const dcllm_model* model, const char* text, size_t text_len,
                                      int add_bos, int32_t* tokens, size_t capacity,
                                      size_t* out_n_tokens);
/* Text of token ids, the first decoded as if it followed BOS (so detokenize(tokenize(t)) == t);
 * BOS, EOS and control tokens give "". An id outside [0, vocab_size) is
 * DCLLM_ERR_INVALID_ARGUMENT. */
DCLLM_API dcllm_status dcllm_detokenize(const dcllm_model* model, const int32_t* tokens,
                                        size_t n_tokens, char* text, size_t capacity,
                                        size_t* out_len);

/* ---------------------------------------------------------------------------------------------
 * Generation
 * ------------------------------------------------------------------------------------------- */

/* Called with each generated token and its text as soon as it is sampled. Return 0 to go on,
 * non-zero to stop after this token (a normal end: dcllm_generate still returns DCLLM_OK). */
typedef int (*dcllm_token_callback)(void* user_data, int32_t token, const char* piece,
                                    size_t piece_len);

typedef struct dcllm_generate_params {
  int64_t max_tokens;            /* tokens to generate at most; default 256 */
  float temperature;             /* 0 = greedy; default 0.8 */
  uint64_t seed;                 /* sampling seed; default 42 */
  dcllm_token_callback on_token; /* NULL = none */
  void* user_data;
} dcllm_generate_params;

DCLLM_API dcllm_generate_params dcllm_generate_params_default(void);

typedef struct dcllm_generate_stats {
  int64_t prompt_tokens; /* including BOS */
  int64_t generated_tokens;
  double prompt_seconds;
  double generate_seconds;
} dcllm_generate_stats;

/* Generates from prompt (BOS first when the vocabulary asks for it; an empty prompt starts from
 * BOS) until max_tokens, EOS/BOS, the end of the context, or the callback says stop. The
 * generated text (without the prompt) goes to out by the text-out rule; out may be NULL with
 * capacity 0 when the callback takes the text, and the call then returns DCLLM_OK. params and
 * stats may be NULL. */
DCLLM_API dcllm_status dcllm_generate(const dcllm_model* model, const char* prompt,
                                      size_t prompt_len, const dcllm_generate_params* params,
                                      char* out, size_t capacity, size_t* out_len,
                                      dcllm_generate_stats* stats);

/* ---------------------------------------------------------------------------------------------
 * Perplexity (the protocol of `dcllm ppl`, docs/models.md)
 * ------------------------------------------------------------------------------------------- */

typedef struct dcllm_perplexity_params {
  int64_t ctx;     /* window length in tokens, BOS included; 0 (default) = min(512, context) */
  int64_t windows; /* score only the first K windows; 0 (default) = all */
  dcllm_progress_callback on_progress; /* stage "perplexity", windows done / total; NULL = none */
  void* user_data;
} dcllm_perplexity_params;

DCLLM_API dcllm_perplexity_params dcllm_perplexity_params_default(void);

typedef struct dcllm_perplexity_result {
  double ppl;      /* exp(nll) */
  double nll;      /* mean negative log-likelihood, nats per scored token */
  int64_t tokens;  /* tokens scored */
  int64_t windows; /* windows evaluated */
  int64_t ctx;     /* window length used */
} dcllm_perplexity_result;

/* The text (CRLF read as LF) is tokenized with BOS; the tokens after it are cut into windows of
 * ctx-1 tokens, each scored as [BOS] + window from an empty cache. params may be NULL. */
DCLLM_API dcllm_status dcllm_perplexity(const dcllm_model* model, const char* text, size_t text_len,
                                        const dcllm_perplexity_params* params,
                                        dcllm_perplexity_result* out_result);

/* ---------------------------------------------------------------------------------------------
 * Compression (`dcllm compress`, docs/compress.md)
 * ------------------------------------------------------------------------------------------- */

typedef struct dcllm_compress_params {
  const char* tokenizer_path;          /* llama2.c tokenizer.bin; NULL = the loader's default */
  const char* calib_path;              /* UTF-8 calibration text; NULL only with scale "none",
                                        * prune "none" (nothing else reads it) */
  int64_t calib_tokens;                /* calibration tokens */
  int64_t calib_ctx;                   /* calibration window length */
  const char* scale;                   /* "dc" | "smoothquant" | "none" */
  double alpha;                        /* scaling exponent, >= 0 */
  const char* wquant;                  /* "per-tensor" | "per-channel" | "group:N" */
  const char* aquant;                  /* "per-token" | "per-tensor" (run-time activations) */
  const char* prune;                   /* "dc" | "wanda" | "magnitude" | "none" */
  double sparsity;                     /* share of linear weights zeroed, in [0, 1) */
  const char* prune_group;             /* "row" | "tensor" */
  const char* codec;                   /* codec for INT8 tensors: "rans", ... */
  uint32_t threads;                    /* 0 = all cores */
  dcllm_progress_callback on_progress; /* stages "calibrate", "encode"; NULL = none */
  void* user_data;
} dcllm_compress_params;

/* The defaults of `dcllm compress`; the strings are the library's own (static). A NULL string
 * in params also means the default. */
DCLLM_API dcllm_compress_params dcllm_compress_params_default(void);

typedef struct dcllm_compress_result dcllm_compress_result;

/* Compresses model_path (.bin, .gguf or a Hugging Face directory) into output_path (written
 * atomically, never one of the inputs). Every option and input is checked before work starts;
 * the output appears only when everything succeeded. out_result may be NULL; otherwise it
 * receives the report (free it with dcllm_compress_result_free), or NULL on failure. */
DCLLM_API dcllm_status dcllm_compress(const char* model_path, const char* output_path,
                                      const dcllm_compress_params* params,
                                      dcllm_compress_result** out_result);

typedef struct dcllm_compress_summary {
  uint64_t file_bytes;   /* size of the .dcllm */
  int64_t parameters;    /* elements of every tensor */
  uint64_t int8_bytes;   /* INT8 weights, one byte each */
  uint64_t stored_bytes; /* their coded chunks as stored */
  uint64_t scale_bytes;  /* their quantization scales */
  double cr_vs_fp16;     /* 2 * parameters / file_bytes */
  double cr_vs_int8;     /* int8_bytes / (stored_bytes + scale_bytes) */
  double bits_per_weight;
  double seconds;
} dcllm_compress_summary;

DCLLM_API dcllm_status dcllm_compress_result_summary(const dcllm_compress_result* result,
                                                     dcllm_compress_summary* out_summary);
/* The report as JSON (`dcllm compress --json`'s schema), by the text-out rule. */
DCLLM_API dcllm_status dcllm_compress_result_json(const dcllm_compress_result* result, char* json,
                                                  size_t capacity, size_t* out_len);
/* NULL is allowed. */
DCLLM_API void dcllm_compress_result_free(dcllm_compress_result* result);

/* ---------------------------------------------------------------------------------------------
 * Inspection
 * ------------------------------------------------------------------------------------------- */

/* Also list every chunk of a .dcllm ("chunk_list" per tensor). */
#define DCLLM_INSPECT_CHUNKS 1u

/* `dcllm inspect FILE --json` as a string (schema: docs/cli.md): a .dcllm's metadata, tensors,
 * codecs and ratios, or a model file's config, metadata and tensors. flags: 0 or
 * DCLLM_INSPECT_CHUNKS. By the text-out rule. */
DCLLM_API dcllm_status dcllm_inspect(const char* path, uint32_t flags, char* json, size_t capacity,
                                     size_t* out_len);

#ifdef __cplusplus
}
#endif

#endif /* DCLLM_DCLLM_H */
