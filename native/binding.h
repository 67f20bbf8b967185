// Node-API glue shared by every op file: the tensor handle class, argument readers and the op registry.
//
// An op file adds JS functions to the addon without touching any other file:
//   static Napi::Value KdaForward(const Napi::CallbackInfo& info) { ... }
//   RECLIN_EXPORT("kdaForward", KdaForward)
// Exceptions thrown inside (reclin::ArgError, std::exception) become JS errors; nothing crashes the process.
#pragma once
#include <napi.h>

#include <string>
#include <vector>

#include "tensor.h"

namespace reclin {

using NapiFn = Napi::Value (*)(const Napi::CallbackInfo&);
bool register_export(const char* name, NapiFn fn);

#define RECLIN_CONCAT_(a, b) a##b
#define RECLIN_CONCAT(a, b) RECLIN_CONCAT_(a, b)
#define RECLIN_EXPORT(js_name, fn) \
  static const bool RECLIN_CONCAT(reclin_export_, __LINE__) = ::reclin::register_export(js_name, fn);

// JS-visible handle owning one reference to a native tensor. dispose() drops it early; the GC drops it otherwise.
class TensorHandle : public Napi::ObjectWrap<TensorHandle> {
 public:
  static Napi::Function Init(Napi::Env env);
  static Napi::Object Wrap(Napi::Env env, Tensor t);
  static bool IsHandle(Napi::Env env, const Napi::Value& v);
  explicit TensorHandle(const Napi::CallbackInfo& info);
  ~TensorHandle() override;
  const Tensor& tensor(const char* arg_name) const;  // throws if disposed
  bool disposed() const { return !t_.defined(); }

 private:
  Napi::Value Shape(const Napi::CallbackInfo& info);
  Napi::Value DTypeName(const Napi::CallbackInfo& info);
  Napi::Value DeviceName(const Napi::CallbackInfo& info);
  Napi::Value Disposed(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value ToArray(const Napi::CallbackInfo& info);
  Napi::Value CopyOut(Napi::Env env);
  Tensor t_;
};

// Argument readers: each names the argument in its error message.
Tensor arg_tensor(const Napi::CallbackInfo& info, size_t i, const char* name);
bool arg_is_undefined(const Napi::CallbackInfo& info, size_t i);
Tensor opt_tensor(const Napi::Object& opts, const char* key);  // undefined/null -> empty Tensor
double opt_number(const Napi::Object& opts, const char* key, double fallback);
// A boolean option: `fallback` when absent or null, else it must be a boolean.
bool opt_bool(const Napi::Object& opts, const char* key, bool fallback);
// Integers from JS: a number that is a whole value within +-(2^53-1); NaN, 0.5 and 1e300 are refused.
constexpr double kMaxSafeInteger = 9007199254740991.0;
constexpr uint32_t kMaxShapeDims = 64;  // dimensions per shape
int64_t int_value(const Napi::Value& v, const std::string& name);
int64_t opt_int(const Napi::Object& opts, const char* key, int64_t fallback);
int64_t arg_int(const Napi::CallbackInfo& info, size_t i, const char* name);
double arg_number(const Napi::CallbackInfo& info, size_t i, const char* name);
bool arg_bool(const Napi::CallbackInfo& info, size_t i, const char* name);
// A shape from JS: an array of at most kMaxShapeDims non-negative integers whose product obeys tensor.h's limits.
std::vector<int64_t> arg_shape(const Napi::CallbackInfo& info, size_t i, const char* name);
std::vector<Tensor> arg_tensor_list(const Napi::CallbackInfo& info, size_t i, const char* name);
Napi::Object arg_object(const Napi::CallbackInfo& info, size_t i, const char* name);  // undefined -> {}

// Checks that throw ArgError with "<name>: expected ..., got ...".
void expect_dtype(const Tensor& t, DType d, const char* name);
void expect_shape(const Tensor& t, const std::vector<int64_t>& shape, const char* name, const char* layout);
void expect_ndim(const Tensor& t, int ndim, const char* name, const char* layout);
void expect_same_device(const Tensor& a, const Tensor& b, const char* name_a, const char* name_b);

Napi::Value wrap(Napi::Env env, Tensor t);  // a new JS handle (or null for an undefined tensor)

}  // namespace reclin
