// cuBLASLt INT8 GEMM through dlopen: the header gives the function types, the library is found
// at run time (libcublasLt.so.13, then any libcublasLt.so).
#include "codec/cuda/gpu_cublaslt.h"

#include <cublasLt.h>
#include <cuda_runtime.h>
#include <dlfcn.h>

#include <utility>

#include "codec/cuda/gpu_runtime.h"

namespace dcllm::gpu {
namespace {

struct Api {
  void* lib = nullptr;
  std::string name;
  decltype(&cublasLtCreate) create;
  decltype(&cublasLtDestroy) destroy;
  decltype(&cublasLtGetStatusString) status_string;
  decltype(&cublasLtMatmulDescCreate) desc_create;
  decltype(&cublasLtMatmulDescDestroy) desc_destroy;
  decltype(&cublasLtMatmulDescSetAttribute) desc_set;
  decltype(&cublasLtMatrixLayoutCreate) layout_create;
  decltype(&cublasLtMatrixLayoutDestroy) layout_destroy;
  decltype(&cublasLtMatmulPreferenceCreate) pref_create;
  decltype(&cublasLtMatmulPreferenceDestroy) pref_destroy;
  decltype(&cublasLtMatmulPreferenceSetAttribute) pref_set;
  decltype(&cublasLtMatmulAlgoGetHeuristic) heuristic;
  decltype(&cublasLtMatmul) matmul;
};

Expected<const Api*> api() {
  static Api a;
  static std::string error;
  static bool tried = false;
  if (!tried) {
    tried = true;
    for (const char* name : {"libcublasLt.so.13", "libcublasLt.so"}) {
      a.lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
      if (a.lib) {
        a.name = name;
        break;
      }
    }
    if (!a.lib) {
      error = std::string("cublasLt: cannot open libcublasLt.so.13: ") + dlerror();
    } else {
      bool ok = true;
      auto get = [&](auto& fn, const char* sym) {
        fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(a.lib, sym));
        ok = ok && fn != nullptr;
      };
      get(a.create, "cublasLtCreate");
      get(a.destroy, "cublasLtDestroy");
      get(a.status_string, "cublasLtGetStatusString");
      get(a.desc_create, "cublasLtMatmulDescCreate");
      get(a.desc_destroy, "cublasLtMatmulDescDestroy");
      get(a.desc_set, "cublasLtMatmulDescSetAttribute");
      get(a.layout_create, "cublasLtMatrixLayoutCreate");
      get(a.layout_destroy, "cublasLtMatrixLayoutDestroy");
      get(a.pref_create, "cublasLtMatmulPreferenceCreate");
      get(a.pref_destroy, "cublasLtMatmulPreferenceDestroy");
      get(a.pref_set, "cublasLtMatmulPreferenceSetAttribute");
      get(a.heuristic, "cublasLtMatmulAlgoGetHeuristic");
      get(a.matmul, "cublasLtMatmul");
      if (!ok) error = "cublasLt: " + a.name + " lacks a cublasLt function";
    }
  }
  if (!error.empty()) return Unsupported(error);
  return &a;
}

constexpr size_t kWorkspaceBytes = size_t{32} << 20;

}  // namespace

struct CublasLtInt8Gemm::State {
  const Api* api = nullptr;
  cublasLtHandle_t handle = nullptr;
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
  cublasLtMatmulAlgo_t algo{};
  void* workspace = nullptr;
  size_t workspace_bytes = 0;

  ~State() {
    if (!api) return;
    if (workspace) cudaFree(workspace);
    if (a) api->layout_destroy(a);
    if (b) api->layout_destroy(b);
    if (c) api->layout_destroy(c);
    if (desc) api->desc_destroy(desc);
    if (handle) api->destroy(handle);
  }
};

CublasLtInt8Gemm::CublasLtInt8Gemm() = default;
CublasLtInt8Gemm::CublasLtInt8Gemm(CublasLtInt8Gemm&&) noexcept = default;
CublasLtInt8Gemm& CublasLtInt8Gemm::operator=(CublasLtInt8Gemm&&) noexcept = default;
CublasLtInt8Gemm::~CublasLtInt8Gemm() = default;

const std::string& CublasLtInt8Gemm::library() const {
  return s_->api->name;
}

Expected<CublasLtInt8Gemm> CublasLtInt8Gemm::create(int64_t rows, int64_t cols, int n) {
  DCLLM_ASSIGN_OR_RETURN(const Api* a, api());
  CublasLtInt8Gemm g;
  g.s_ = std::make_unique<State>();
  State& s = *g.s_;
  s.api = a;
  auto check = [&](cublasStatus_t st, const char* what) -> Status {
    if (st == CUBLAS_STATUS_SUCCESS) return Status::Ok();
    return Unsupported(std::string("cublasLt: ") + what + ": " + a->status_string(st));
  };
  DCLLM_RETURN_IF_ERROR(check(a->create(&s.handle), "cublasLtCreate"));
  DCLLM_RETURN_IF_ERROR(
      check(a->desc_create(&s.desc, CUBLAS_COMPUTE_32I, CUDA_R_32I), "cublasLtMatmulDescCreate"));
  // Row-major W[rows][cols] is the column-major cols x rows matrix A; op(A) = A^T (the "TN"
  // layout cuBLASLt's INT8 kernels want), B = x as cols x n, C = rows x n.
  const cublasOperation_t trans_a = CUBLAS_OP_T, trans_b = CUBLAS_OP_N;
  DCLLM_RETURN_IF_ERROR(check(
      a->desc_set(s.desc, CUBLASLT_MATMUL_DESC_TRANSA, &trans_a, sizeof trans_a), "set TRANSA"));
  DCLLM_RETURN_IF_ERROR(check(
      a->desc_set(s.desc, CUBLASLT_MATMUL_DESC_TRANSB, &trans_b, sizeof trans_b), "set TRANSB"));
  const auto r = static_cast<uint64_t>(rows), k = static_cast<uint64_t>(cols);
  const auto nn = static_cast<uint64_t>(n);
  DCLLM_RETURN_IF_ERROR(
      check(a->layout_create(&s.a, CUDA_R_8I, k, r, static_cast<int64_t>(k)), "layout A"));
  DCLLM_RETURN_IF_ERROR(
      check(a->layout_create(&s.b, CUDA_R_8I, k, nn, static_cast<int64_t>(k)), "layout B"));
  DCLLM_RETURN_IF_ERROR(
      check(a->layout_create(&s.c, CUDA_R_32I, r, nn, static_cast<int64_t>(r)), "layout C"));
  cublasLtMatmulPreference_t pref = nullptr;
  DCLLM_RETURN_IF_ERROR(check(a->pref_create(&pref), "cublasLtMatmulPreferenceCreate"));
  size_t ws = kWorkspaceBytes;
  a->pref_set(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws);
  cublasLtMatmulHeuristicResult_t result{};
  int found = 0;
  const cublasStatus_t hs =
      a->heuristic(s.handle, s.desc, s.a, s.b, s.c, s.c, pref, 1, &result, &found);
  a->pref_destroy(pref);
  DCLLM_RETURN_IF_ERROR(check(hs, "cublasLtMatmulAlgoGetHeuristic"));
  if (found == 0)
    return Unsupported("cublasLt: no INT8 algorithm for " + std::to_string(rows) + "x" +
                       std::to_string(cols) + " times " + std::to_string(n));
  s.algo = result.algo;
  s.workspace_bytes = result.workspaceSize;
  if (s.workspace_bytes > 0)
    DCLLM_RETURN_IF_ERROR(cuda_status(cudaMalloc(&s.workspace, s.workspace_bytes),
                                      "cudaMalloc (cublasLt workspace)"));
  return g;
}

Status CublasLtInt8Gemm::run(const int8_t* d_w, const int8_t* d_x, int32_t* d_y,
                             StreamHandle stream) const {
  const State& s = *s_;
  const int32_t alpha = 1, beta = 0;
  const cublasStatus_t st =
      s.api->matmul(s.handle, s.desc, &alpha, d_w, s.a, d_x, s.b, &beta, d_y, s.c, d_y, s.c,
                    &s.algo, s.workspace, s.workspace_bytes, stream);
  if (st != CUBLAS_STATUS_SUCCESS)
    return Internal(std::string("cublasLt: cublasLtMatmul: ") + s.api->status_string(st));
  return Status::Ok();
}

}  // namespace dcllm::gpu
