// dcllm._core: the pybind11 extension under the Python package (python/dcllm), a thin layer over
// the C API (include/dcllm/dcllm.h) of libdcllm.so; python/dcllm/__init__.py shapes it for users.
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <dcllm/dcllm.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace py = pybind11;

namespace {

// A failed C call becomes dcllm.DcllmError(status, code, message); the class lives in Python
// (dcllm/_errors.py) so that users can subclass-check it without importing the extension.
[[noreturn]] void raise_status(dcllm_status status) {
  const std::string message = dcllm_last_error();  // read first: it is per-thread and per-call
  py::object cls = py::module_::import("dcllm._errors").attr("DcllmError");
  py::object error = cls(static_cast<int>(status), dcllm_status_string(status), message);
  PyErr_SetObject(cls.ptr(), error.ptr());
  throw py::error_already_set();
}

void check(dcllm_status status) {
  if (status != DCLLM_OK) raise_status(status);
}

// Runs a Python callable from a C callback (with the GIL). An exception in it stops the C call
// (non-zero return) and is kept to be raised again once that call has returned.
struct Callback {
  py::object fn;
  std::optional<py::error_already_set> error;

  int call(py::object arg0, py::object arg1 = py::none(), py::object arg2 = py::none(),
           int nargs = 1) {
    try {
      py::object result = nargs == 1 ? fn(arg0) : fn(arg0, arg1, arg2);
      return PyObject_IsTrue(result.ptr()) == 1 ? 1 : 0;
    } catch (py::error_already_set& e) {
      error.emplace(std::move(e));
      return 1;
    }
  }

  void reraise() {
    if (error) {
      py::error_already_set e = std::move(*error);
      error.reset();
      throw e;
    }
  }
};

int progress_trampoline(void* user, const char* stage, int64_t done, int64_t total) {
  py::gil_scoped_acquire gil;
  return static_cast<Callback*>(user)->call(py::str(stage), py::int_(done), py::int_(total), 3);
}

// Text out by dcllm.h's rule: ask once with a guess, grow to the size the call names, ask again.
template <typename Call>
py::bytes text_out(Call call, size_t guess = 1 << 16) {
  std::string buf(guess, '\0');
  size_t len = 0;
  dcllm_status st;
  {
    py::gil_scoped_release nogil;
    st = call(buf.data(), buf.size(), &len);
    if (st == DCLLM_ERR_BUFFER_TOO_SMALL) {
      buf.assign(len + 1, '\0');
      st = call(buf.data(), buf.size(), &len);
    }
  }
  check(st);
  buf.resize(len);
  return py::bytes(buf);
}

const char* dtype_name(dcllm_dtype d) {
  switch (d) {
    case DCLLM_DTYPE_F32:
      return "float32";
    case DCLLM_DTYPE_I8:
      return "int8";
    default:
      return nullptr;
  }
}

const char* quant_name(dcllm_quant q) {
  switch (q) {
    case DCLLM_QUANT_PER_TENSOR:
      return "per-tensor";
    case DCLLM_QUANT_PER_CHANNEL:
      return "per-channel";
    case DCLLM_QUANT_GROUP:
      return "group";
    default:
      return "none";
  }
}

// Owns a dcllm_model. NumPy arrays over its tensors hold a reference to the same shared_ptr, so
// close() drops only this handle's share and never frees memory an array still shows.
class Model {
 public:
  explicit Model(dcllm_model* m) : model_(m, dcllm_model_free) {}

  dcllm_model* get() const {
    if (!model_) throw py::value_error("the model is closed");
    return model_.get();
  }
  void close() { model_.reset(); }

  py::dict info() const {
    dcllm_model_info i{};
    check(dcllm_model_get_info(get(), &i));
    py::dict d;
    d["path"] = i.path;
    d["format"] = i.format;
    d["architecture"] = i.architecture;
    d["family"] = i.family;
    d["vocab_size"] = i.vocab_size;
    d["dim"] = i.dim;
    d["hidden_dim"] = i.hidden_dim;
    d["n_layers"] = i.n_layers;
    d["n_heads"] = i.n_heads;
    d["n_kv_heads"] = i.n_kv_heads;
    d["head_dim"] = i.head_dim;
    d["context_length"] = i.context_length;
    d["parameters"] = i.parameters;
    d["stored_bytes"] = i.stored_bytes;
    d["n_tensors"] = i.n_tensors;
    d["bos_id"] = i.bos_id;
    d["eos_id"] = i.eos_id;
    d["has_tokenizer"] = i.has_tokenizer != 0;
    d["int8"] = i.int8 != 0;
    d["weights"] = static_cast<int>(i.weights);
    return d;
  }

  std::vector<int32_t> tokenize(const std::string& text, bool add_bos) const {
    std::vector<int32_t> ids(text.size() + 2);
    size_t n = 0;
    dcllm_status st;
    {
      py::gil_scoped_release nogil;
      st = dcllm_tokenize(get(), text.data(), text.size(), add_bos, ids.data(), ids.size(), &n);
      if (st == DCLLM_ERR_BUFFER_TOO_SMALL) {
        ids.resize(n);
        st = dcllm_tokenize(get(), text.data(), text.size(), add_bos, ids.data(), ids.size(), &n);
      }
    }
    check(st);
    ids.resize(n);
    return ids;
  }

  py::bytes detokenize(const std::vector<int32_t>& ids) const {
    dcllm_model* m = get();
    return text_out([&](char* buf, size_t cap, size_t* len) {
      return dcllm_detokenize(m, ids.data(), ids.size(), buf, cap, len);
    });
  }

  // Returns (text bytes, stats dict); on_token(piece bytes) -> truthy stops. The text is
  // gathered from the token callback (dcllm.h allows no output buffer then), so its length
  // needs no guess and a stop keeps what came before it.
  py::tuple generate(const std::string& prompt, int64_t max_tokens, float temperature,
                     uint64_t seed, py::object on_token) const {
    struct Gather {
      std::string text;
      Callback user;
    } g{std::string(), Callback{on_token, std::nullopt}};
    auto trampoline = [](void* u, int32_t, const char* piece, size_t len) -> int {
      auto* g = static_cast<Gather*>(u);
      g->text.append(piece, len);
      if (g->user.fn.is_none()) return 0;
      py::gil_scoped_acquire gil;
      return g->user.call(py::bytes(piece, len));
    };
    dcllm_model* m = get();
    dcllm_generate_params p = dcllm_generate_params_default();
    p.max_tokens = max_tokens;
    p.temperature = temperature;
    p.seed = seed;
    p.on_token = trampoline;
    p.user_data = &g;
    dcllm_generate_stats stats{};
    dcllm_status st;
    {
      py::gil_scoped_release nogil;
      st = dcllm_generate(m, prompt.data(), prompt.size(), &p, nullptr, 0, nullptr, &stats);
    }
    g.user.reraise();
    check(st);
    py::dict s;
    s["prompt_tokens"] = stats.prompt_tokens;
    s["generated_tokens"] = stats.generated_tokens;
    s["prompt_seconds"] = stats.prompt_seconds;
    s["generate_seconds"] = stats.generate_seconds;
    return py::make_tuple(py::bytes(g.text), s);
  }

  // Returns (ppl, nll, tokens, windows, ctx).
  py::tuple perplexity(const std::string& text, int64_t ctx, int64_t windows,
                       py::object on_progress) const {
    dcllm_model* m = get();
    dcllm_perplexity_params p = dcllm_perplexity_params_default();
    p.ctx = ctx;
    p.windows = windows;
    Callback cb{on_progress, std::nullopt};
    if (!on_progress.is_none()) {
      p.on_progress = progress_trampoline;
      p.user_data = &cb;
    }
    dcllm_perplexity_result r{};
    dcllm_status st;
    {
      py::gil_scoped_release nogil;
      st = dcllm_perplexity(m, text.data(), text.size(), &p, &r);
    }
    cb.reraise();
    check(st);
    return py::make_tuple(r.ppl, r.nll, r.tokens, r.windows, r.ctx);
  }

  // The tensor by index or name: a dict whose "data" and "scales" are read-only NumPy arrays
  // over the model's memory (None where the tier keeps the tensor coded).
  py::dict tensor(const py::object& key) const {
    dcllm_tensor t{};
    if (py::isinstance<py::int_>(key)) {
      check(dcllm_model_get_tensor(get(), key.cast<size_t>(), &t));
    } else {
      check(dcllm_model_find_tensor(get(), key.cast<std::string>().c_str(), &t));
    }
    py::dict d;
    d["name"] = t.name;
    d["stored_type"] = t.stored_type;
    std::vector<py::ssize_t> shape(t.shape, t.shape + t.n_dims);
    d["shape"] = shape;
    const char* dtype = dtype_name(t.dtype);
    d["dtype"] = dtype ? py::object(py::str(dtype)) : py::object(py::none());
    d["quant"] = quant_name(t.quant);
    d["group_size"] = t.group_size;
    d["data"] = py::none();
    d["scales"] = py::none();
    if (t.data) {
      py::dtype dt = t.dtype == DCLLM_DTYPE_F32 ? py::dtype::of<float>() : py::dtype::of<int8_t>();
      d["data"] = view(dt, shape, t.data);
    }
    if (t.scales && t.n_scales) {
      d["scales"] = view(py::dtype::of<float>(), {static_cast<py::ssize_t>(t.n_scales)}, t.scales);
    }
    return d;
  }

 private:
  // A read-only array over model memory; its base capsule holds a share of the model.
  py::array view(const py::dtype& dt, const std::vector<py::ssize_t>& shape,
                 const void* data) const {
    auto* keep = new std::shared_ptr<dcllm_model>(model_);
    py::capsule base(keep, [](void* p) { delete static_cast<std::shared_ptr<dcllm_model>*>(p); });
    py::array a(dt, shape, {}, data, base);
    a.attr("setflags")(py::arg("write") = false);
    return a;
  }

  std::shared_ptr<dcllm_model> model_;
};

Model load(const std::string& path, int32_t weights, std::optional<std::string> tokenizer,
           uint32_t threads) {
  dcllm_load_params p = dcllm_load_params_default();
  p.tokenizer_path = tokenizer ? tokenizer->c_str() : nullptr;
  p.weights = weights;
  p.threads = threads;
  dcllm_model* m = nullptr;
  dcllm_status st;
  {
    py::gil_scoped_release nogil;
    st = dcllm_model_load(path.c_str(), &p, &m);
  }
  check(st);
  return Model(m);
}

// `dcllm compress`; options: a dict of dcllm_compress_params' field names (missing = default).
// Returns the report as JSON bytes.
py::bytes compress(const std::string& model, const std::string& output, const py::dict& options,
                   py::object on_progress) {
  dcllm_compress_params p = dcllm_compress_params_default();
  // Keeps the option strings alive for the call.
  std::vector<std::string> strings;
  strings.reserve(options.size());
  auto str = [&](const char* key, const char*& field) {
    if (!options.contains(key) || options[key].is_none()) return;
    strings.push_back(options[key].cast<std::string>());
    field = strings.back().c_str();
  };
  auto num = [&](const char* key, auto& field) {
    if (options.contains(key) && !options[key].is_none())
      field = options[key].cast<std::remove_reference_t<decltype(field)>>();
  };
  str("tokenizer_path", p.tokenizer_path);
  str("calib_path", p.calib_path);
  num("calib_tokens", p.calib_tokens);
  num("calib_ctx", p.calib_ctx);
  str("scale", p.scale);
  num("alpha", p.alpha);
  str("wquant", p.wquant);
  str("aquant", p.aquant);
  str("prune", p.prune);
  num("sparsity", p.sparsity);
  str("prune_group", p.prune_group);
  str("codec", p.codec);
  num("threads", p.threads);
  Callback cb{on_progress, std::nullopt};
  if (!on_progress.is_none()) {
    p.on_progress = progress_trampoline;
    p.user_data = &cb;
  }
  dcllm_compress_result* result = nullptr;
  dcllm_status st;
  {
    py::gil_scoped_release nogil;
    st = dcllm_compress(model.c_str(), output.c_str(), &p, &result);
  }
  std::unique_ptr<dcllm_compress_result, void (*)(dcllm_compress_result*)> owned(
      result, dcllm_compress_result_free);
  cb.reraise();
  check(st);
  return text_out([&](char* buf, size_t cap, size_t* len) {
    return dcllm_compress_result_json(owned.get(), buf, cap, len);
  });
}

py::bytes inspect(const std::string& path, bool chunks) {
  return text_out([&](char* buf, size_t cap, size_t* len) {
    return dcllm_inspect(path.c_str(), chunks ? DCLLM_INSPECT_CHUNKS : 0u, buf, cap, len);
  });
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "dcllm's C API (libdcllm.so) for the dcllm package; use dcllm, not this module";
  m.def("version", [] { return std::string(dcllm_version()); });
  m.attr("WEIGHTS_RESIDENT") = static_cast<int>(DCLLM_WEIGHTS_RESIDENT);
  m.attr("WEIGHTS_COMPRESSED") = static_cast<int>(DCLLM_WEIGHTS_COMPRESSED);
  m.attr("WEIGHTS_STREAM") = static_cast<int>(DCLLM_WEIGHTS_STREAM);

  py::class_<Model>(m, "Model")
      .def("close", &Model::close)
      .def("info", &Model::info)
      .def("tokenize", &Model::tokenize, py::arg("text"), py::arg("add_bos"))
      .def("detokenize", &Model::detokenize, py::arg("ids"))
      .def("generate", &Model::generate, py::arg("prompt"), py::arg("max_tokens"),
           py::arg("temperature"), py::arg("seed"), py::arg("on_token"))
      .def("perplexity", &Model::perplexity, py::arg("text"), py::arg("ctx"), py::arg("windows"),
           py::arg("on_progress"))
      .def("tensor", &Model::tensor, py::arg("key"));

  m.def("load", &load, py::arg("path"), py::arg("weights"), py::arg("tokenizer"),
        py::arg("threads"));
  m.def("compress", &compress, py::arg("model"), py::arg("output"), py::arg("options"),
        py::arg("on_progress"));
  m.def("inspect", &inspect, py::arg("path"), py::arg("chunks"));
}
