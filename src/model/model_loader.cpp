// Format dispatch: a directory with config.json (or a file inside one: config.json, *.safetensors)
// is a Hugging Face checkpoint; GGUF files announce themselves with "GGUF"; llama2.c checkpoints
// have no magic, so any other file is read as one when it ends in .bin. The mapping is shared
// with the Model, so F32 tensors stay views into it.
#include "model/model_loader.h"

#include <unistd.h>

#include <cstring>
#include <memory>

#include "core/mapped_file.h"
#include "dcllm/container.h"
#include "model/dcllm_model_reader.h"
#include "model/gguf_reader.h"
#include "model/hf_reader.h"
#include "model/llama2c_reader.h"
#include "model/tokenizer.h"

namespace dcllm {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The checkpoint directory `path` names, or "" when it is not a Hugging Face checkpoint.
std::string hf_checkpoint_dir(const std::string& path) {
  if (is_hf_checkpoint_dir(path)) return path;
  if (ends_with(path, "config.json") || ends_with(path, ".safetensors") ||
      ends_with(path, ".safetensors.index.json")) {
    const auto slash = path.find_last_of('/');
    const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
    if (is_hf_checkpoint_dir(dir)) return dir;
  }
  return "";
}

}  // namespace

Expected<Model> load_model(const std::string& path, const LoadOptions& opts) {
  Expected<Model> model = Unsupported("");
  bool carries_vocab = true;  // else a tokenizer.bin beside the file is looked for
  if (const std::string dir = hf_checkpoint_dir(path); !dir.empty()) {
    model = read_hf_checkpoint(dir, opts);
  } else {
    DCLLM_ASSIGN_OR_RETURN(MappedFile mapped, MappedFile::open(path));
    auto file = std::make_shared<MappedFile>(std::move(mapped));
    const ModelSource src{path, file->bytes(), file};
    if (has_container_magic(file->bytes())) {
      model = read_dcllm_model(path, opts);
    } else if (file->size() >= 4 && std::memcmp(file->data(), "GGUF", 4) == 0) {
      model = read_gguf(src, opts);
    } else if (ends_with(path, ".bin")) {
      model = read_llama2c(src, opts);
      carries_vocab = false;
    } else {
      return Unsupported(path +
                         ": unknown model format (expected a .gguf file, a llama2.c .bin or a "
                         "Hugging Face directory with config.json)");
    }
  }
  if (!model.ok()) return model.status();
  // Whatever the format, n_layers from a header or metadata must be backed by tensors before
  // a caller sizes anything by it (the Transformer allocates per layer).
  DCLLM_RETURN_IF_ERROR(check_layer_tensors(*model));

  std::string tokenizer_path = opts.tokenizer_path;
  if (tokenizer_path.empty() && !carries_vocab) {
    const auto slash = path.find_last_of('/');
    const std::string beside =
        (slash == std::string::npos ? "" : path.substr(0, slash + 1)) + "tokenizer.bin";
    if (::access(beside.c_str(), R_OK) == 0) tokenizer_path = beside;
  }
  if (!tokenizer_path.empty()) {
    // An explicit tokenizer file overrides whatever the model carries.
    DCLLM_ASSIGN_OR_RETURN(
        Vocab vocab,
        load_llama2c_vocab(tokenizer_path, static_cast<int32_t>(model->config.vocab_size)));
    model->vocab = std::move(vocab);
  }
  return model;
}

Expected<Tokenizer> tokenizer_for(const Model& model) {
  if (!model.vocab && !model.vocab_unsupported.empty()) {
    return Unsupported(model.vocab_unsupported);
  }
  if (!model.vocab) {
    return InvalidArgument(model.path +
                           ": the model carries no vocabulary (no tokenizer.json); pass "
                           "--tokenizer FILE (a llama2.c tokenizer.bin)");
  }
  auto tok = Tokenizer::create(*model.vocab);
  if (!tok.ok()) return Status(tok.status().code(), model.path + ": " + tok.status().message());
  return tok;
}

}  // namespace dcllm
