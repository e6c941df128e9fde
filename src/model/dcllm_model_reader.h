// Reads a compressed model (.dcllm container, docs/model-container.md) into a Model: config and
// vocabulary from the metadata JSON, f32 tensors decoded to floats, i8 tensors kept as INT8.
#pragma once

#include <string>

#include "dcllm/container.h"
#include "dcllm/status.h"
#include "model/model.h"
#include "model/model_source.h"

namespace dcllm {

// Every chunk is checksummed and decoded at load; a failure names the file, tensor and chunk.
// With opts.load_weights == false only shapes and types are read (inspect).
Expected<Model> read_dcllm_model(const std::string& path, const LoadOptions& opts = {});
// The same from an open container (fuzzers open one from memory); the Model owns its weights,
// so the container may go away afterwards.
Expected<Model> read_dcllm_model(const ModelContainer& container, const LoadOptions& opts = {});

// Gives every INT8 tensor a float32 copy and drops its INT8 form, so the Transformer runs the
// same model on the float path (the float32 baseline `bench run` compares against).
void dequantize_int8_tensors(Model& model);

}  // namespace dcllm
