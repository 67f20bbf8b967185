#include "binding.h"

#include "threads.h"

#include <cmath>
#include <cstring>
#include <sstream>

namespace reclin {

namespace {
struct Export {
  const char* name;
  NapiFn fn;
};
struct Registry {
  std::vector<Export> fns;  // filled by static initialisers, fixed before Init hands out pointers
};
Registry& registry() {
  static Registry r;
  return r;
}
// Trampoline: every registered op goes through here so C++ exceptions become JS errors. Size and memory
// errors name the op, since the shape in them may be an intermediate the caller never wrote.
Napi::Value call_registered(const Napi::CallbackInfo& info) {
  const Export* ex = static_cast<const Export*>(info.Data());
  Napi::Env env = info.Env();
  try {
    follow_load();  // the OpenMP team for this op (threads.h)
    return ex->fn(info);
  } catch (const Napi::Error&) {
    throw;
  } catch (const SizeError& e) {
    throw Napi::RangeError::New(env, std::string(ex->name) + ": " + e.what());
  } catch (const DTypeError& e) {
    throw Napi::TypeError::New(env, std::string(ex->name) + ": " + e.what());
  } catch (const ArgError& e) {
    throw Napi::TypeError::New(env, e.what());
  } catch (const AllocError& e) {
    throw Napi::RangeError::New(env, std::string(ex->name) + ": " + e.what());
  } catch (const DeviceCheckError& e) {
    throw Napi::RangeError::New(env, e.what());
  } catch (const std::bad_alloc&) {
    throw Napi::RangeError::New(env, std::string(ex->name) + ": out of memory");
  } catch (const std::length_error& e) {
    throw Napi::RangeError::New(env, std::string(ex->name) + ": a buffer would be too large (" + e.what() + ")");
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, std::string("reclin: ") + e.what());
  }
}
Napi::FunctionReference* g_ctor = nullptr;
}  // namespace

bool register_export(const char* name, NapiFn fn) {
  registry().fns.push_back({name, fn});
  return true;
}

// ---- TensorHandle ---------------------------------------------------------------------------

Napi::Function TensorHandle::Init(Napi::Env env) {
  Napi::Function cls = DefineClass(env, "NativeTensor",
                                   {InstanceAccessor("shape", &TensorHandle::Shape, nullptr),
                                    InstanceAccessor("dtype", &TensorHandle::DTypeName, nullptr),
                                    InstanceAccessor("device", &TensorHandle::DeviceName, nullptr),
                                    InstanceAccessor("disposed", &TensorHandle::Disposed, nullptr),
                                    InstanceMethod("dispose", &TensorHandle::Dispose),
                                    InstanceMethod("toArray", &TensorHandle::ToArray)});
  g_ctor = new Napi::FunctionReference(Napi::Persistent(cls));
  return cls;
}

// liveTensors counts handles that still hold a tensor: +1 when Wrap fills one, -1 on dispose() or collection.
TensorHandle::TensorHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TensorHandle>(info) {}

TensorHandle::~TensorHandle() {
  if (t_.defined()) count_handle(-1);
}

Napi::Object TensorHandle::Wrap(Napi::Env env, Tensor t) {
  Napi::Object obj = g_ctor->New({});
  if (t.defined()) count_handle(+1);
  TensorHandle::Unwrap(obj)->t_ = std::move(t);
  return obj;
}

bool TensorHandle::IsHandle(Napi::Env env, const Napi::Value& v) {
  return v.IsObject() && v.As<Napi::Object>().InstanceOf(g_ctor->Value());
}

const Tensor& TensorHandle::tensor(const char* name) const {
  if (!t_.defined()) throw ArgError(std::string(name) + ": tensor was disposed");
  return t_;
}

Napi::Value TensorHandle::Shape(const Napi::CallbackInfo& info) {
  Napi::Array a = Napi::Array::New(info.Env(), t_.shape.size());
  for (size_t i = 0; i < t_.shape.size(); ++i) a.Set(static_cast<uint32_t>(i), static_cast<double>(t_.shape[i]));
  return a;
}
Napi::Value TensorHandle::DTypeName(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), dtype_name(t_.dtype));
}
Napi::Value TensorHandle::DeviceName(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), t_.device.name());
}
Napi::Value TensorHandle::Disposed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), !t_.defined());
}
Napi::Value TensorHandle::Dispose(const Napi::CallbackInfo& info) {
  if (t_.defined()) count_handle(-1);
  t_ = Tensor();  // idempotent: a second dispose finds nothing to drop
  return info.Env().Undefined();
}

#if RECLIN_WITH_CUDA
void cuda_copy_to_host(void* dst, const void* src, size_t n, int device);  // cuda/runtime.cu
#endif

// Copies the data out into a new Float32Array (f32, bf16 widened) or Int32Array (i32). Node-API passes only
// Napi::Error through an ObjectWrap method, so anything else thrown here is turned into one.
Napi::Value TensorHandle::ToArray(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!t_.defined()) throw Napi::TypeError::New(env, "tensor was disposed");
  try {
    return CopyOut(env);
  } catch (const Napi::Error&) {
    throw;
  } catch (const DeviceCheckError& e) {
    throw Napi::RangeError::New(env, e.what());
  } catch (const std::bad_alloc&) {
    throw Napi::RangeError::New(env, "toArray: out of memory copying " + t_.shape_str() + " " + dtype_name(t_.dtype));
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, std::string("reclin: toArray: ") + e.what());
  }
}

Napi::Value TensorHandle::CopyOut(Napi::Env env) {
  // A JS typed array holds at most 2^32 elements (V8's limit on 64-bit builds).
  if (t_.numel() > (int64_t(1) << 32))
    throw Napi::RangeError::New(env, "toArray: " + t_.shape_str() + " has " + std::to_string(t_.numel()) +
                                         " elements, more than a JS typed array can hold (2^32)");
  size_t n = static_cast<size_t>(t_.numel());
  std::vector<uint8_t> staging;
  const void* src = t_.raw();
  if (t_.device.kind != DeviceKind::CPU) {
#if RECLIN_WITH_CUDA
    staging.resize(t_.nbytes());
    cuda_copy_to_host(staging.data(), t_.raw(), t_.nbytes(), t_.device.index);
    src = staging.data();
#endif
  }
  if (t_.dtype == DType::I32) {
    Napi::Int32Array out = Napi::Int32Array::New(env, n);
    if (n) std::memcpy(out.Data(), src, n * 4);
    return out;
  }
  Napi::Float32Array out = Napi::Float32Array::New(env, n);
  if (t_.dtype == DType::F32) {
    if (n) std::memcpy(out.Data(), src, n * 4);
  } else {  // bf16 -> f32: the bf16 bits are the high half of the f32 bits
    const uint16_t* s = static_cast<const uint16_t*>(src);
    for (size_t i = 0; i < n; ++i) {
      uint32_t bits = static_cast<uint32_t>(s[i]) << 16;
      std::memcpy(&out.Data()[i], &bits, 4);
    }
  }
  return out;
}

// ---- argument readers -----------------------------------------------------------------------

static std::string describe(const Napi::Value& v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsNumber()) return "number";
  if (v.IsString()) return "string";
  if (v.IsArray()) return "array";
  return "object";
}

static Tensor tensor_from_value(Napi::Env env, const Napi::Value& v, const char* name) {
  if (!TensorHandle::IsHandle(env, v))
    throw ArgError(std::string(name) + ": expected a Tensor, got " + describe(v));
  return TensorHandle::Unwrap(v.As<Napi::Object>())->tensor(name);
}

Tensor arg_tensor(const Napi::CallbackInfo& info, size_t i, const char* name) {
  return tensor_from_value(info.Env(), info[i], name);
}

bool arg_is_undefined(const Napi::CallbackInfo& info, size_t i) {
  return info.Length() <= i || info[i].IsUndefined() || info[i].IsNull();
}

Tensor opt_tensor(const Napi::Object& opts, const char* key) {
  Napi::Value v = opts.Get(key);
  if (v.IsUndefined() || v.IsNull()) return Tensor();
  return tensor_from_value(opts.Env(), v, key);
}

double opt_number(const Napi::Object& opts, const char* key, double fallback) {
  Napi::Value v = opts.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsNumber()) throw ArgError(std::string(key) + ": expected a number, got " + describe(v));
  return v.As<Napi::Number>().DoubleValue();
}

bool opt_bool(const Napi::Object& opts, const char* key, bool fallback) {
  Napi::Value v = opts.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsBoolean()) throw ArgError(std::string(key) + ": expected a boolean");
  return v.As<Napi::Boolean>().Value();
}

static std::string number_text(double d) {
  std::ostringstream s;
  s.precision(17);
  s << d;
  return s.str();
}

int64_t int_value(const Napi::Value& v, const std::string& name) {
  if (!v.IsNumber()) throw ArgError(name + ": expected an integer, got " + describe(v));
  const double d = v.As<Napi::Number>().DoubleValue();
  // Range first: casting NaN or a double beyond int64 to an integer is undefined behaviour.
  if (!(std::fabs(d) <= kMaxSafeInteger) || d != std::trunc(d))
    throw ArgError(name + ": expected an integer within +-(2^53-1), got " + number_text(d));
  return static_cast<int64_t>(d);
}

int64_t arg_int(const Napi::CallbackInfo& info, size_t i, const char* name) { return int_value(info[i], name); }

int64_t opt_int(const Napi::Object& opts, const char* key, int64_t fallback) {
  Napi::Value v = opts.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  return int_value(v, key);
}

double arg_number(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsNumber()) throw ArgError(std::string(name) + ": expected a number, got " + describe(info[i]));
  return info[i].As<Napi::Number>().DoubleValue();
}

bool arg_bool(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsBoolean()) throw ArgError(std::string(name) + ": expected a boolean, got " + describe(info[i]));
  return info[i].As<Napi::Boolean>().Value();
}

std::vector<int64_t> arg_shape(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsArray()) throw ArgError(std::string(name) + ": expected an array of dimensions, got " + describe(info[i]));
  Napi::Array a = info[i].As<Napi::Array>();
  if (a.Length() > kMaxShapeDims)
    throw SizeError(std::string(name) + ": " + std::to_string(a.Length()) + " dimensions, more than the " +
                   std::to_string(kMaxShapeDims) + " allowed");
  std::vector<int64_t> shape(a.Length());
  for (uint32_t j = 0; j < a.Length(); ++j) {
    Napi::Value v = a.Get(j);
    const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
    if (!(d >= 0 && d <= kMaxSafeInteger) || d != std::trunc(d))
      throw SizeError(std::string(name) + ": dimension " + std::to_string(j) +
                      " must be a non-negative integer at most 2^53-1, got " + (v.IsNumber() ? number_text(d) : describe(v)));
    shape[j] = static_cast<int64_t>(d);
  }
  check_numel(shape, name);  // the byte size, which needs the dtype, is checked where a tensor is made
  return shape;
}

std::vector<Tensor> arg_tensor_list(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsArray()) throw ArgError(std::string(name) + ": expected an array of Tensors, got " + describe(info[i]));
  Napi::Array a = info[i].As<Napi::Array>();
  std::vector<Tensor> out;
  out.reserve(a.Length());
  for (uint32_t j = 0; j < a.Length(); ++j) {
    std::string nm = std::string(name) + "[" + std::to_string(j) + "]";
    out.push_back(tensor_from_value(info.Env(), a.Get(j), nm.c_str()));
  }
  return out;
}

Napi::Object arg_object(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (arg_is_undefined(info, i)) return Napi::Object::New(info.Env());
  if (!info[i].IsObject()) throw ArgError(std::string(name) + ": expected an options object, got " + describe(info[i]));
  return info[i].As<Napi::Object>();
}

void expect_dtype(const Tensor& t, DType d, const char* name) {
  if (t.dtype != d)
    throw DTypeError(std::string(name) + ": expected dtype " + dtype_name(d) + ", got " + dtype_name(t.dtype));
}

void expect_shape(const Tensor& t, const std::vector<int64_t>& shape, const char* name, const char* layout) {
  if (t.shape != shape) {
    Tensor want;
    want.shape = shape;
    throw ArgError(std::string(name) + ": expected shape " + layout + " = " + want.shape_str() + ", got " +
                   t.shape_str());
  }
}

void expect_ndim(const Tensor& t, int ndim, const char* name, const char* layout) {
  if (t.ndim() != ndim)
    throw ArgError(std::string(name) + ": expected " + std::to_string(ndim) + " dimensions " + layout + ", got " +
                   t.shape_str());
}

void expect_same_device(const Tensor& a, const Tensor& b, const char* name_a, const char* name_b) {
  if (a.device != b.device)
    throw ArgError(std::string(name_b) + ": on " + b.device.name() + " but " + name_a + " is on " + a.device.name());
}

Napi::Value wrap(Napi::Env env, Tensor t) {
  if (!t.defined()) return env.Null();
  return TensorHandle::Wrap(env, std::move(t));
}

// ---- module init ----------------------------------------------------------------------------

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeTensor", TensorHandle::Init(env));
  for (const Export& ex : registry().fns)
    exports.Set(ex.name, Napi::Function::New(env, call_registered, ex.name, const_cast<Export*>(&ex)));
  return exports;
}

}  // namespace reclin

static Napi::Object InitReclin(Napi::Env env, Napi::Object exports) { return reclin::Init(env, exports); }
NODE_API_MODULE(reclin, InitReclin)
