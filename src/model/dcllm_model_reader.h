// Reads a compressed model (.dcllm container, docs/model-container.md) into a Model: config and
// vocabulary from the metadata JSON, f32 tensors decoded to floats, i8 tensors kept as INT8,
// decoded at load or kept coded for the runtime to decode just before use (docs/runtime.md).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "dcllm/container.h"
#include "dcllm/status.h"
#include "model/int8_tensor.h"
#include "model/model.h"
#include "model/model_source.h"

namespace dcllm {

// Where the INT8 weights of a .dcllm live while the model runs (`--weights`, docs/runtime.md):
// kResident: decoded once at load (Int8Tensor::values);
// kCompressed: the chunks' stored bytes copied into RAM, decoded just before each use;
// kStream: nothing kept; the chunks are read from the file (O_DIRECT) on each use.
// The token embedding is kept like every INT8 tensor (its rows are looked up from any home).
enum class WeightTier { kResident, kCompressed, kStream };
std::string_view weight_tier_name(WeightTier tier);  // "resident", "compressed", "stream"
Expected<WeightTier> parse_weight_tier(std::string_view name);

// Where each INT8 chunk of a .dcllm is kept while it runs: table[t][k] for chunk k of container
// tensor t (index order); rows of tensors that are not INT8 are empty and ignored.
using ChunkHomeTable = std::vector<std::vector<ChunkHome>>;
ChunkHome tier_home(WeightTier tier);  // kDecoded, kStored, kStreamed
// Every INT8 chunk at tier_home(tier).
ChunkHomeTable tier_homes(const ModelContainer& c, WeightTier tier);

// Every chunk read at load is checksummed; a failure names the file, tensor and chunk. Before
// anything is allocated, the memory the homes keep (decoded f32/i8, or stored bytes) must fit
// in the machine's physical memory, and a `raw` chunk must store exactly its raw size, so a
// crafted index cannot make the reader allocate what the file does not back.
// With opts.load_weights == false only shapes and types are read (inspect).
// An INT8 tensor whose chunks are all kDecoded gets Int8Tensor::values; any other gets
// Int8Tensor::stored (held chunks' decoded rows or stored bytes, and the index of the rest).
Expected<Model> read_dcllm_model(const std::string& path, const LoadOptions& opts = {},
                                 WeightTier tier = WeightTier::kResident);
// From an open container, with a home per chunk; chunks are read from c.path() with pread.
Expected<Model> read_dcllm_model(const ModelContainer& container, const LoadOptions& opts,
                                 const ChunkHomeTable& homes);
// The same from an open container (fuzzers open one from memory), resident tier only, chunks
// taken from the container's bytes; the Model owns its weights, so the container may go away.
Expected<Model> read_dcllm_model(const ModelContainer& container, const LoadOptions& opts = {});

// kInvalidArgument "PATH: WHAT needs a .dcllm model (this is not one; use --weights resident)"
// unless `path` is a regular file starting with the container magic.
Status require_dcllm_model(const std::string& path, std::string_view what);

// read_dcllm_model with homes, then what load_model() checks and does after reading: the layer
// tensors, and the tokenizer override of opts.tokenizer_path.
Expected<Model> load_dcllm_model(const ModelContainer& container, const LoadOptions& opts,
                                 const ChunkHomeTable& homes);

// load_model() with a weight tier: kResident is load_model() itself; the other tiers need a
// .dcllm and refuse any other model ("--weights compressed needs a .dcllm model"). The
// tokenizer override of opts.tokenizer_path applies as in load_model().
Expected<Model> load_model_with_weights(const std::string& path, const LoadOptions& opts,
                                        WeightTier tier);

// Gives every INT8 tensor a float32 copy and drops its INT8 form, so the Transformer runs the
// same model on the float path (the float32 baseline `bench run` compares against). Tensors
// kept coded (compressed, stream tiers) have no values and are left as they are.
void dequantize_int8_tensors(Model& model);

}  // namespace dcllm
