// cuBLASLt for the CUDA matmul, loaded at run time: the addon never links it, so a machine without it still loads
// the addon and matmul falls back to our own SIMT GEMM (gemm_kernels.cuh). Which files to try is decided in
// TypeScript (src/native/cublas.ts: CUDA_HOME, LD_LIBRARY_PATH, the pip wheel nvidia-cublas found through
// RECLIN_PYTHON or python3), which hands the candidates to cublasLoad(). Types come from cublasLt.h (the CUDA
// toolkit's, or the pip wheel's; the build defines RECLIN_WITH_CUBLAS when it found one).
//   cublasLoad(candidates: string[], { allowTf32 }) -> status     gemmBackendCuda() -> status
//   status = { backend: 'cublasLt' | 'reclin' | 'unavailable', library, version, tf32, reason }
// FP32 GEMMs use CUBLAS_COMPUTE_32F (no TF32) unless allowTf32 (RECLIN_ALLOW_TF32=1), which keeps the ops
// contract's 1e-5 by default.
#include <dlfcn.h>
#include <napi.h>

#include <mutex>
#include <string>
#include <vector>

#include "cublas.cuh"
#include "cublas_plan_cache.h"
#include "cuda_util.cuh"

#if RECLIN_WITH_CUBLAS
#include <cublasLt.h>
#endif

namespace reclin {

namespace {

#if RECLIN_WITH_CUBLAS
// One cached plan (cublas_plan_cache.h): made by make_plan on the first GEMM of its key.
struct LtCached {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t lb = nullptr, la = nullptr, lc = nullptr;
  cublasLtMatmulAlgo_t algo{};
  bool ok = false;
};
// Plans kept: a model's distinct GEMM shapes (forward and backward, every layer kind) plus MoE's segment sizes,
// which change with the routing; a few hundred bytes of host memory each.
constexpr size_t kPlanCapacity = 1024;
#endif

struct LtState {
  void* lib = nullptr;
  std::string path;
  std::string reason = "cublasLoad() has not run (the TypeScript loader calls it on the first CUDA matmul)";
  size_t version = 0;
  bool tf32 = false;
  bool tried = false;
#if RECLIN_WITH_CUBLAS
  LruCache<LtCached> plans{kPlanCapacity};
  decltype(&cublasLtCreate) create = nullptr;
  decltype(&cublasLtGetVersion) get_version = nullptr;
  decltype(&cublasLtMatmulDescCreate) desc_create = nullptr;
  decltype(&cublasLtMatmulDescDestroy) desc_destroy = nullptr;
  decltype(&cublasLtMatmulDescSetAttribute) desc_set = nullptr;
  decltype(&cublasLtMatrixLayoutCreate) layout_create = nullptr;
  decltype(&cublasLtMatrixLayoutDestroy) layout_destroy = nullptr;
  decltype(&cublasLtMatrixLayoutSetAttribute) layout_set = nullptr;
  decltype(&cublasLtMatmulPreferenceCreate) pref_create = nullptr;
  decltype(&cublasLtMatmulPreferenceDestroy) pref_destroy = nullptr;
  decltype(&cublasLtMatmulPreferenceSetAttribute) pref_set = nullptr;
  decltype(&cublasLtMatmulAlgoGetHeuristic) heuristic = nullptr;
  decltype(&cublasLtMatmul) matmul = nullptr;
  cublasLtHandle_t handle[kMaxCudaDevices] = {};
  void* workspace[kMaxCudaDevices] = {};
  bool device_failed[kMaxCudaDevices] = {};
#endif
};

std::mutex g_lt_mu;
LtState g_lt;
#if RECLIN_WITH_CUBLAS
constexpr size_t kWorkspace = size_t(32) << 20;  // cuBLASLt's suggestion for Hopper
#endif

#if RECLIN_WITH_CUBLAS
template <class F>
bool sym(void* lib, const char* name, F& out, std::string& missing) {
  out = reinterpret_cast<F>(dlsym(lib, name));
  if (!out) missing += std::string(missing.empty() ? "" : ", ") + name;
  return out != nullptr;
}

// Tries one file; on success fills g_lt's function table.
bool try_load(const std::string& path, std::string& why) {
  void* lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char* e = dlerror();
    why = e ? e : "dlopen failed";
    return false;
  }
  std::string missing;
  LtState& s = g_lt;
  sym(lib, "cublasLtCreate", s.create, missing);
  sym(lib, "cublasLtGetVersion", s.get_version, missing);
  sym(lib, "cublasLtMatmulDescCreate", s.desc_create, missing);
  sym(lib, "cublasLtMatmulDescDestroy", s.desc_destroy, missing);
  sym(lib, "cublasLtMatmulDescSetAttribute", s.desc_set, missing);
  sym(lib, "cublasLtMatrixLayoutCreate", s.layout_create, missing);
  sym(lib, "cublasLtMatrixLayoutDestroy", s.layout_destroy, missing);
  sym(lib, "cublasLtMatrixLayoutSetAttribute", s.layout_set, missing);
  sym(lib, "cublasLtMatmulPreferenceCreate", s.pref_create, missing);
  sym(lib, "cublasLtMatmulPreferenceDestroy", s.pref_destroy, missing);
  sym(lib, "cublasLtMatmulPreferenceSetAttribute", s.pref_set, missing);
  sym(lib, "cublasLtMatmulAlgoGetHeuristic", s.heuristic, missing);
  sym(lib, "cublasLtMatmul", s.matmul, missing);
  if (!missing.empty()) {
    why = "missing " + missing;
    dlclose(lib);
    return false;
  }
  const size_t v = s.get_version();
  if (v / 10000 != CUBLAS_VER_MAJOR) {  // another major may lay out the structs differently
    why = "version " + std::to_string(v) + " is not the " + std::to_string(CUBLAS_VER_MAJOR) + ".x reclin was built against";
    dlclose(lib);
    return false;
  }
  s.lib = lib;
  s.path = path;
  s.version = v;
  return true;
}

// The device's handle and workspace, made on first use; false (and remembered) when the device refuses.
bool device_ready(int device) {
  LtState& s = g_lt;
  if (s.device_failed[device]) return false;
  if (s.handle[device]) return true;
  cublasLtHandle_t h = nullptr;
  if (s.create(&h) != CUBLAS_STATUS_SUCCESS) {
    s.device_failed[device] = true;
    s.reason = "cublasLtCreate failed on cuda:" + std::to_string(device);
    return false;
  }
  void* ws = nullptr;
  if (cudaMalloc(&ws, kWorkspace) != cudaSuccess) {
    (void)cudaGetLastError();
    ws = nullptr;  // cuBLASLt still works without a workspace, with fewer algorithms
  }
  s.handle[device] = h;
  s.workspace[device] = ws;
  return true;
}

void destroy_plan(LtCached& c) {
  LtState& s = g_lt;
  for (cublasLtMatrixLayout_t l : {c.lb, c.la, c.lc})
    if (l) s.layout_destroy(l);
  if (c.desc) s.desc_destroy(c.desc);
  c = LtCached{};
}

// The descriptor, layouts and the heuristic's first algorithm for one key (ok = false when any step fails or no
// algorithm fits; the handles made so far are kept for destroy_plan).
LtCached make_plan(const LtPlan& p, const LtKey& key, int device) {
  LtState& s = g_lt;
  LtCached c;
  const cublasOperation_t op1 = p.first.trans ? CUBLAS_OP_T : CUBLAS_OP_N, op2 = p.second.trans ? CUBLAS_OP_T : CUBLAS_OP_N;
  // bf16 inputs: fp32 compute and scale, f32 C/D (CUBLAS_COMPUTE_32F with CUDA_R_16BF A/B is one of cuBLASLt's
  // listed combinations); TF32 only for f32 inputs and only when asked
  const cudaDataType_t in = p.in == GemmInput::BF16 ? CUDA_R_16BF : CUDA_R_32F;
  bool ok = s.desc_create(&c.desc, key.tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F, CUDA_R_32F) == CUBLAS_STATUS_SUCCESS;
  ok = ok && s.desc_set(c.desc, CUBLASLT_MATMUL_DESC_TRANSA, &op1, sizeof op1) == CUBLAS_STATUS_SUCCESS;
  ok = ok && s.desc_set(c.desc, CUBLASLT_MATMUL_DESC_TRANSB, &op2, sizeof op2) == CUBLAS_STATUS_SUCCESS;
  ok = ok && s.layout_create(&c.lb, in, p.first.rows, p.first.cols, p.first.ld) == CUBLAS_STATUS_SUCCESS;
  ok = ok && s.layout_create(&c.la, in, p.second.rows, p.second.cols, p.second.ld) == CUBLAS_STATUS_SUCCESS;
  ok = ok && s.layout_create(&c.lc, CUDA_R_32F, p.m, p.n, p.ldd) == CUBLAS_STATUS_SUCCESS;
  if (ok && p.batch > 1) {
    const int32_t count = static_cast<int32_t>(p.batch);
    for (auto [l, stride] : {std::pair<cublasLtMatrixLayout_t, int64_t>{c.lb, p.first.stride}, {c.la, p.second.stride}, {c.lc, p.stride_d}}) {
      ok = ok && s.layout_set(l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &count, sizeof count) == CUBLAS_STATUS_SUCCESS;
      ok = ok && s.layout_set(l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride, sizeof stride) == CUBLAS_STATUS_SUCCESS;
    }
  }
  const size_t ws = s.workspace[device] ? kWorkspace : 0;
  cublasLtMatmulPreference_t pref = nullptr;
  ok = ok && s.pref_create(&pref) == CUBLAS_STATUS_SUCCESS;
  ok = ok && s.pref_set(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws) == CUBLAS_STATUS_SUCCESS;
  // the operands' real alignment (cublas_plan.h, part of the key), so the heuristic picks no algorithm that needs more
  ok = ok && s.pref_set(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &key.align_first, sizeof key.align_first) == CUBLAS_STATUS_SUCCESS;
  ok = ok && s.pref_set(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &key.align_second, sizeof key.align_second) == CUBLAS_STATUS_SUCCESS;
  ok = ok && s.pref_set(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &key.align_d, sizeof key.align_d) == CUBLAS_STATUS_SUCCESS;
  ok = ok && s.pref_set(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &key.align_d, sizeof key.align_d) == CUBLAS_STATUS_SUCCESS;
  cublasLtMatmulHeuristicResult_t heur{};
  int found = 0;
  ok = ok && s.heuristic(s.handle[device], c.desc, c.lb, c.la, c.lc, c.lc, pref, 1, &heur, &found) == CUBLAS_STATUS_SUCCESS && found > 0;
  if (pref) s.pref_destroy(pref);
  c.algo = heur.algo;
  c.ok = ok;
  return c;
}
#endif

std::string device_problem() {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    return cudaGetErrorString(e);
  }
  return n > 0 ? "" : "no CUDA device found";
}

Napi::Object status_object(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
  const std::string dev = device_problem();
  const LtState& s = g_lt;
  o.Set("backend", !dev.empty() ? "unavailable" : s.lib ? "cublasLt" : "reclin");
  o.Set("library", s.lib ? Napi::Value(Napi::String::New(env, s.path)) : env.Null());
  o.Set("version", s.lib ? Napi::Value(Napi::Number::New(env, static_cast<double>(s.version))) : env.Null());
  o.Set("tf32", s.lib && s.tf32);
  o.Set("built", RECLIN_WITH_CUBLAS != 0);
  std::string reason = s.lib ? "cuBLASLt " + std::to_string(s.version) + " from " + s.path : s.reason;
  if (!dev.empty()) reason = "no usable CUDA device (" + dev + ")" + (s.lib ? "; cuBLASLt loaded from " + s.path : s.tried ? "; " + s.reason : "");
  o.Set("reason", reason);
  return o;
}

}  // namespace

bool cublas_gemm(const CublasGemm& g, int device, cudaStream_t st) {
#if RECLIN_WITH_CUBLAS
  std::lock_guard<std::mutex> lock(g_lt_mu);
  LtState& s = g_lt;
  if (!s.lib || !device_ready(device)) return false;
  const LtPlan p = lt_plan(g);  // cublas_plan.h: B's storage first, A's second, column-major
  const LtKey key = lt_key(p, device, s.tf32);
  const LtCached* c = s.plans.get(key);
  if (!c) c = s.plans.put(key, make_plan(p, key, device), [](LtCached& v) { destroy_plan(v); });
  if (!c->ok) return false;  // no algorithm for this shape (remembered): the caller runs our kernel
  const size_t ws = s.workspace[device] ? kWorkspace : 0;
  const float beta = 0.f;
  return s.matmul(s.handle[device], c->desc, &p.alpha, p.first.p, c->lb, p.second.p, c->la, &beta, p.d, c->lc, p.d, c->lc,
                  &c->algo, s.workspace[device], ws, st) == CUBLAS_STATUS_SUCCESS;
  // false: the caller runs our kernel instead (nothing was written, or it is overwritten)
#else
  (void)g, (void)device, (void)st;
  return false;
#endif
}

namespace {

// cublasLoad(candidates, { allowTf32 }): tries each file in order (once per process: a second call only updates
// allowTf32); returns the status.
Napi::Value CublasLoad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArray()) throw ArgError("candidates: expected an array of library paths");
  Napi::Array list = info[0].As<Napi::Array>();
  Napi::Object opts = arg_object(info, 1, "options");
  Napi::Value tf = opts.Get("allowTf32");
  if (!tf.IsUndefined() && !tf.IsBoolean()) throw ArgError("allowTf32: expected a boolean");
  std::lock_guard<std::mutex> lock(g_lt_mu);
  LtState& s = g_lt;
  s.tf32 = tf.IsBoolean() && tf.As<Napi::Boolean>().Value();
  if (!s.tried) {
    s.tried = true;
#if RECLIN_WITH_CUBLAS
    std::vector<std::string> tried;
    for (uint32_t i = 0; i < list.Length() && !s.lib; ++i) {
      Napi::Value v = list.Get(i);
      if (!v.IsString()) throw ArgError("candidates[" + std::to_string(i) + "]: expected a string");
      const std::string p = v.As<Napi::String>().Utf8Value();
      std::string why;
      if (!try_load(p, why)) tried.push_back(p + ": " + why);
    }
    if (!s.lib) {
      s.reason = "cuBLASLt not found";
      if (tried.empty()) s.reason += " (no candidate files)";
      else {
        s.reason += " (tried ";
        for (size_t i = 0; i < tried.size(); ++i) s.reason += (i ? "; " : "") + tried[i];
        s.reason += ")";
      }
    }
#else
    s.reason = "this binary was built without cuBLASLt headers (rebuild with the CUDA toolkit's or the pip wheel nvidia-cublas's)";
#endif
  }
  return status_object(env);
}
RECLIN_EXPORT("cublasLoad", CublasLoad)

Napi::Value GemmBackendCuda(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lock(g_lt_mu);
  return status_object(info.Env());
}
RECLIN_EXPORT("gemmBackendCuda", GemmBackendCuda)

}  // namespace
}  // namespace reclin
