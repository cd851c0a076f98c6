// t2i-align's N-API binding to libtorch (ATen + autograd).
//
// Every tensor crosses into JavaScript as an External holding a `Holder` (an at::Tensor plus
// bookkeeping). The TypeScript layer (src/torch/) wraps these handles in its Tensor class and owns
// the memory discipline: explicit dispose(), tidy() scopes, and this finalizer as a safety net.
// Native memory is reported to V8 (AdjustExternalMemory) so that the garbage collector sees it.
//
// Every entry point runs inside GUARD: libtorch's c10::Error (shape mismatch, bad dtype, ...) and
// any std::exception become a JavaScript Error carrying libtorch's message, never a crash.
#include <napi.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/version.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <atomic>
#include <cstring>
#include <string>
#include <vector>

#ifndef TORCH_VERSION_MAJOR
#error "torch/version.h did not define TORCH_VERSION_MAJOR"
#endif

namespace {

std::atomic<int64_t> g_live{0};

struct Holder {
  at::Tensor t;
  int64_t reported = 0;  // bytes reported to V8 for this handle
  bool disposed = false;
};

struct GenHolder {
  at::Generator g;
};

int64_t tensorBytes(const at::Tensor& t) {
  if (!t.defined()) return 0;
  return static_cast<int64_t>(t.numel()) * static_cast<int64_t>(t.element_size());
}

void releaseHolder(Napi::Env env, Holder* h) {
  if (h->disposed) return;
  h->disposed = true;
  h->t = at::Tensor();
  if (h->reported) Napi::MemoryManagement::AdjustExternalMemory(env, -h->reported);
  h->reported = 0;
  g_live--;
}

Napi::Value wrap(Napi::Env env, at::Tensor t) {
  if (!t.defined()) return env.Null();
  auto* h = new Holder();
  h->t = std::move(t);
  // Report only CPU memory to V8; device memory does not pressure the JS heap.
  if (h->t.device().is_cpu()) {
    h->reported = tensorBytes(h->t);
    if (h->reported) Napi::MemoryManagement::AdjustExternalMemory(env, h->reported);
  }
  g_live++;
  return Napi::External<Holder>::New(env, h, [](Napi::Env env, Holder* p) {
    releaseHolder(env, p);
    delete p;
  });
}

Holder* holderOf(const Napi::Value& v, const char* what) {
  if (!v.IsExternal()) throw Napi::TypeError::New(v.Env(), std::string(what) + ": expected a tensor handle");
  return v.As<Napi::External<Holder>>().Data();
}

at::Tensor& T(const Napi::Value& v, const char* what = "tensor") {
  Holder* h = holderOf(v, what);
  if (h->disposed) throw Napi::Error::New(v.Env(), std::string(what) + ": tensor was disposed (it was used after dispose() or outside the tidy() scope that created it)");
  return h->t;
}

c10::optional<at::Tensor> optT(const Napi::Value& v) {
  if (v.IsUndefined() || v.IsNull()) return c10::nullopt;
  return T(v);
}

std::vector<int64_t> ints(const Napi::Value& v, const char* what = "shape") {
  if (v.IsNumber()) return {v.As<Napi::Number>().Int64Value()};
  if (!v.IsArray()) throw Napi::TypeError::New(v.Env(), std::string(what) + ": expected an array of integers");
  auto a = v.As<Napi::Array>();
  std::vector<int64_t> out(a.Length());
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value e = a.Get(i);
    if (!e.IsNumber()) throw Napi::TypeError::New(v.Env(), std::string(what) + ": expected an array of integers");
    out[i] = e.As<Napi::Number>().Int64Value();
  }
  return out;
}

std::vector<at::Tensor> tensors(const Napi::Value& v) {
  if (!v.IsArray()) throw Napi::TypeError::New(v.Env(), "expected an array of tensors");
  auto a = v.As<Napi::Array>();
  std::vector<at::Tensor> out;
  out.reserve(a.Length());
  for (uint32_t i = 0; i < a.Length(); i++) out.push_back(T(a.Get(i)));
  return out;
}

Napi::Array wrapList(Napi::Env env, const std::vector<at::Tensor>& ts) {
  auto a = Napi::Array::New(env, ts.size());
  for (size_t i = 0; i < ts.size(); i++) a.Set(static_cast<uint32_t>(i), wrap(env, ts[i]));
  return a;
}

double num(const Napi::Value& v) { return v.As<Napi::Number>().DoubleValue(); }
int64_t i64(const Napi::Value& v) { return v.As<Napi::Number>().Int64Value(); }
bool flag(const Napi::Value& v) { return v.IsBoolean() ? v.As<Napi::Boolean>().Value() : false; }

at::ScalarType dtypeOf(Napi::Env env, const std::string& s) {
  if (s == "float32") return at::kFloat;
  if (s == "float16") return at::kHalf;
  if (s == "bfloat16") return at::kBFloat16;
  if (s == "float64") return at::kDouble;
  if (s == "int64") return at::kLong;
  if (s == "int32") return at::kInt;
  if (s == "bool") return at::kBool;
  if (s == "uint8") return at::kByte;
  throw Napi::TypeError::New(env, "unknown dtype \"" + s + "\" (expected float32, float16, bfloat16, float64, int64, int32, bool or uint8)");
}

std::string dtypeName(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return "float32";
    case at::kHalf: return "float16";
    case at::kBFloat16: return "bfloat16";
    case at::kDouble: return "float64";
    case at::kLong: return "int64";
    case at::kInt: return "int32";
    case at::kBool: return "bool";
    case at::kByte: return "uint8";
    default: return std::string(c10::toString(t));
  }
}

at::Device deviceOf(Napi::Env env, const Napi::Value& v) {
  if (v.IsUndefined() || v.IsNull()) return at::Device(at::kCPU);
  std::string s = v.As<Napi::String>().Utf8Value();
  if (s != "cpu" && s.rfind("cuda", 0) != 0) throw Napi::TypeError::New(env, "unknown device \"" + s + "\" (expected cpu, cuda or cuda:N)");
  return at::Device(s);
}

at::TensorOptions opts(Napi::Env env, const Napi::Value& dtype, const Napi::Value& device) {
  auto o = at::TensorOptions().device(deviceOf(env, device));
  if (dtype.IsString()) o = o.dtype(dtypeOf(env, dtype.As<Napi::String>().Utf8Value()));
  else o = o.dtype(at::kFloat);
  return o;
}

c10::optional<at::Generator> genOf(const Napi::Value& v) {
  if (v.IsUndefined() || v.IsNull()) return c10::nullopt;
  return v.As<Napi::External<GenHolder>>().Data()->g;
}

#define GUARD_BEGIN try {
#define GUARD_END                                                                  \
  }                                                                                \
  catch (const Napi::Error&) {                                                     \
    throw;                                                                         \
  }                                                                                \
  catch (const c10::Error& e) {                                                    \
    throw Napi::Error::New(info.Env(), e.what_without_backtrace());                \
  }                                                                                \
  catch (const std::exception& e) {                                                \
    throw Napi::Error::New(info.Env(), e.what());                                  \
  }

#define FN(name) Napi::Value name(const Napi::CallbackInfo& info)
#define E info.Env()

// ---------------------------------------------------------------------------------------------
// Library state

FN(version) { return Napi::String::New(E, TORCH_VERSION); }
FN(liveTensors) { return Napi::Number::New(E, static_cast<double>(g_live.load())); }
FN(setNumThreads) {
  GUARD_BEGIN
  at::set_num_threads(static_cast<int>(i64(info[0])));
  return E.Undefined();
  GUARD_END
}
FN(getNumThreads) { return Napi::Number::New(E, at::get_num_threads()); }
FN(manualSeed) {
  GUARD_BEGIN
  at::manual_seed(static_cast<uint64_t>(i64(info[0])));
  return E.Undefined();
  GUARD_END
}
FN(cudaDeviceCount) {
  GUARD_BEGIN
  if (!at::hasCUDA()) return Napi::Number::New(E, 0);
  return Napi::Number::New(E, at::detail::getCUDAHooks().getNumGPUs());
  GUARD_END
}
FN(cudaSynchronize) {
  GUARD_BEGIN
  if (at::hasCUDA()) {
    // A tiny device->host copy waits for queued kernels on the current stream.
    auto t = at::zeros({1}, at::TensorOptions().device(at::kCUDA));
    t.cpu();
  }
  return E.Undefined();
  GUARD_END
}
// Returns freed heap pages to the OS (glibc malloc_trim); the CPU analogue of emptying a cache.
FN(releaseCachedMemory) {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
  return E.Undefined();
}
FN(isGradEnabled) { return Napi::Boolean::New(E, at::GradMode::is_enabled()); }
FN(setGradEnabled) {
  bool prev = at::GradMode::is_enabled();
  at::GradMode::set_enabled(flag(info[0]));
  return Napi::Boolean::New(E, prev);
}
FN(dispose) {
  if (!info[0].IsExternal()) return E.Undefined();
  releaseHolder(E, holderOf(info[0], "dispose"));
  return E.Undefined();
}
FN(isDisposed) { return Napi::Boolean::New(E, holderOf(info[0], "isDisposed")->disposed); }

// ---------------------------------------------------------------------------------------------
// Generators: seeded CPU generators. Random tensors for other devices are drawn on the CPU and
// moved, so a seed gives the same numbers on every device.

FN(newGenerator) {
  GUARD_BEGIN
  auto* g = new GenHolder{at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(i64(info[0])))};
  return Napi::External<GenHolder>::New(E, g, [](Napi::Env, GenHolder* p) { delete p; });
  GUARD_END
}
FN(generatorGetState) {
  GUARD_BEGIN
  auto g = info[0].As<Napi::External<GenHolder>>().Data()->g;
  return wrap(E, g.get_state());
  GUARD_END
}
FN(generatorSetState) {
  GUARD_BEGIN
  auto g = info[0].As<Napi::External<GenHolder>>().Data()->g;
  g.set_state(T(info[1]));
  return E.Undefined();
  GUARD_END
}

// ---------------------------------------------------------------------------------------------
// Creation and conversion

FN(zeros) { GUARD_BEGIN return wrap(E, at::zeros(ints(info[0]), opts(E, info[1], info[2]))); GUARD_END }
FN(ones) { GUARD_BEGIN return wrap(E, at::ones(ints(info[0]), opts(E, info[1], info[2]))); GUARD_END }
FN(empty) { GUARD_BEGIN return wrap(E, at::empty(ints(info[0]), opts(E, info[1], info[2]))); GUARD_END }
FN(full) { GUARD_BEGIN return wrap(E, at::full(ints(info[0]), num(info[1]), opts(E, info[2], info[3]))); GUARD_END }
FN(arange) {
  GUARD_BEGIN
  return wrap(E, at::arange(num(info[0]), num(info[1]), num(info[2]), opts(E, info[3], info[4])));
  GUARD_END
}
FN(linspace) {
  GUARD_BEGIN
  return wrap(E, at::linspace(num(info[0]), num(info[1]), i64(info[2]), opts(E, info[3], info[4])));
  GUARD_END
}
// randn(shape, gen, dtype, device)
FN(randn) {
  GUARD_BEGIN
  auto o = opts(E, info[2], info[3]);
  auto t = at::randn(ints(info[0]), genOf(info[1]), o.device(at::kCPU).dtype(at::kFloat));
  return wrap(E, t.to(opts(E, info[2], info[3])));
  GUARD_END
}
FN(rand) {
  GUARD_BEGIN
  auto o = opts(E, info[2], info[3]);
  auto t = at::rand(ints(info[0]), genOf(info[1]), o.device(at::kCPU).dtype(at::kFloat));
  return wrap(E, t.to(opts(E, info[2], info[3])));
  GUARD_END
}
// randint(low, high, shape, gen, dtype, device)
FN(randint) {
  GUARD_BEGIN
  auto t = at::randint(i64(info[0]), i64(info[1]), ints(info[2]), genOf(info[3]), at::TensorOptions().dtype(at::kLong));
  auto o = at::TensorOptions().device(deviceOf(E, info[5]))
               .dtype(info[4].IsString() ? dtypeOf(E, info[4].As<Napi::String>().Utf8Value()) : at::kLong);
  return wrap(E, t.to(o));
  GUARD_END
}
FN(randperm) {
  GUARD_BEGIN
  return wrap(E, at::randperm(i64(info[0]), genOf(info[1]), at::TensorOptions().dtype(at::kLong)));
  GUARD_END
}
// fromBuffer(typedArrayOrArrayBuffer, dtype, shape, device): copies the bytes.
FN(fromBuffer) {
  GUARD_BEGIN
  void* data;
  size_t bytes;
  if (info[0].IsTypedArray()) {
    auto ta = info[0].As<Napi::TypedArray>();
    auto ab = ta.ArrayBuffer();
    data = static_cast<uint8_t*>(ab.Data()) + ta.ByteOffset();
    bytes = ta.ByteLength();
  } else if (info[0].IsArrayBuffer()) {
    auto ab = info[0].As<Napi::ArrayBuffer>();
    data = ab.Data();
    bytes = ab.ByteLength();
  } else if (info[0].IsBuffer()) {
    auto b = info[0].As<Napi::Buffer<uint8_t>>();
    data = b.Data();
    bytes = b.Length();
  } else {
    throw Napi::TypeError::New(E, "fromBuffer: expected a typed array or ArrayBuffer");
  }
  auto dt = dtypeOf(E, info[1].As<Napi::String>().Utf8Value());
  auto shape = ints(info[2]);
  int64_t n = 1;
  for (auto s : shape) n *= s;
  size_t need = static_cast<size_t>(n) * c10::elementSize(dt);
  if (need != bytes) {
    throw Napi::RangeError::New(E, "fromBuffer: shape needs " + std::to_string(need) + " bytes of " + dtypeName(dt) + " but the buffer holds " + std::to_string(bytes));
  }
  auto t = at::empty(shape, at::TensorOptions().dtype(dt));
  if (bytes) std::memcpy(t.data_ptr(), data, bytes);
  auto dev = deviceOf(E, info[3]);
  if (!dev.is_cpu()) t = t.to(dev);
  return wrap(E, t);
  GUARD_END
}
// toBuffer(t): a copy of the elements as an ArrayBuffer (contiguous, CPU).
FN(toBuffer) {
  GUARD_BEGIN
  auto t = T(info[0]).detach().to(at::kCPU).contiguous();
  size_t bytes = static_cast<size_t>(t.numel()) * t.element_size();
  auto ab = Napi::ArrayBuffer::New(E, bytes);
  if (bytes) std::memcpy(ab.Data(), t.data_ptr(), bytes);
  return ab;
  GUARD_END
}
FN(item) {
  GUARD_BEGIN
  auto& t = T(info[0]);
  if (t.numel() != 1) throw Napi::RangeError::New(E, "item(): tensor has " + std::to_string(t.numel()) + " elements, expected 1");
  auto s = t.item();
  if (t.scalar_type() == at::kBool) return Napi::Boolean::New(E, s.toBool());
  return Napi::Number::New(E, s.toDouble());
  GUARD_END
}
FN(tensorInfo) {
  GUARD_BEGIN
  auto& t = T(info[0]);
  auto o = Napi::Object::New(E);
  auto sizes = t.sizes();
  auto shape = Napi::Array::New(E, sizes.size());
  for (size_t i = 0; i < sizes.size(); i++) shape.Set(static_cast<uint32_t>(i), Napi::Number::New(E, static_cast<double>(sizes[i])));
  o.Set("shape", shape);
  o.Set("dtype", dtypeName(t.scalar_type()));
  o.Set("device", t.device().str());
  o.Set("requiresGrad", t.requires_grad());
  return o;
  GUARD_END
}
FN(shape) {
  GUARD_BEGIN
  auto sizes = T(info[0]).sizes();
  auto shape = Napi::Array::New(E, sizes.size());
  for (size_t i = 0; i < sizes.size(); i++) shape.Set(static_cast<uint32_t>(i), Napi::Number::New(E, static_cast<double>(sizes[i])));
  return shape;
  GUARD_END
}
FN(to) {
  GUARD_BEGIN
  auto& t = T(info[0]);
  auto dt = info[1].IsString() ? dtypeOf(E, info[1].As<Napi::String>().Utf8Value()) : t.scalar_type();
  auto dev = info[2].IsString() ? deviceOf(E, info[2]) : t.device();
  return wrap(E, t.to(dev, dt, false, flag(info[3])));
  GUARD_END
}
FN(clone) { GUARD_BEGIN return wrap(E, T(info[0]).clone()); GUARD_END }
FN(contiguous) { GUARD_BEGIN return wrap(E, T(info[0]).contiguous()); GUARD_END }
FN(detach) { GUARD_BEGIN return wrap(E, T(info[0]).detach()); GUARD_END }
FN(alias) { GUARD_BEGIN return wrap(E, T(info[0])); GUARD_END }

// ---------------------------------------------------------------------------------------------
// Elementwise. Op codes are shared with src/torch/ops.ts (UNARY / BINARY there).

enum Unary { U_NEG, U_EXP, U_LOG, U_SQRT, U_RSQRT, U_SIN, U_COS, U_ABS, U_TANH, U_SIGMOID, U_RELU, U_SILU, U_GELU, U_GELU_TANH,
             U_SQUARE, U_FLOOR, U_ROUND, U_SIGN, U_NOT, U_RECIPROCAL, U_ERF, U_LOG1P, U_EXPM1, U_CEIL, U_ISNAN, U_ATAN };

at::Tensor unaryOp(int op, const at::Tensor& x) {
  switch (op) {
    case U_NEG: return x.neg();
    case U_EXP: return x.exp();
    case U_LOG: return x.log();
    case U_SQRT: return x.sqrt();
    case U_RSQRT: return x.rsqrt();
    case U_SIN: return x.sin();
    case U_COS: return x.cos();
    case U_ABS: return x.abs();
    case U_TANH: return x.tanh();
    case U_SIGMOID: return x.sigmoid();
    case U_RELU: return x.relu();
    case U_SILU: return at::silu(x);
    case U_GELU: return at::gelu(x);
    case U_GELU_TANH: return at::gelu(x, "tanh");
    case U_SQUARE: return x.square();
    case U_FLOOR: return x.floor();
    case U_ROUND: return x.round();
    case U_SIGN: return x.sign();
    case U_NOT: return x.logical_not();
    case U_RECIPROCAL: return x.reciprocal();
    case U_ERF: return x.erf();
    case U_LOG1P: return x.log1p();
    case U_EXPM1: return x.expm1();
    case U_CEIL: return x.ceil();
    case U_ISNAN: return x.isnan();
    case U_ATAN: return x.atan();
  }
  throw std::runtime_error("unknown unary op " + std::to_string(op));
}

enum Binary { B_ADD, B_SUB, B_MUL, B_DIV, B_POW, B_MAX, B_MIN, B_EQ, B_NE, B_LT, B_LE, B_GT, B_GE, B_AND, B_OR, B_REM, B_ATAN2, B_FLOORDIV };

at::Tensor binaryT(int op, const at::Tensor& a, const at::Tensor& b) {
  switch (op) {
    case B_ADD: return a.add(b);
    case B_SUB: return a.sub(b);
    case B_MUL: return a.mul(b);
    case B_DIV: return a.div(b);
    case B_POW: return a.pow(b);
    case B_MAX: return at::maximum(a, b);
    case B_MIN: return at::minimum(a, b);
    case B_EQ: return a.eq(b);
    case B_NE: return a.ne(b);
    case B_LT: return a.lt(b);
    case B_LE: return a.le(b);
    case B_GT: return a.gt(b);
    case B_GE: return a.ge(b);
    case B_AND: return a.logical_and(b);
    case B_OR: return a.logical_or(b);
    case B_REM: return a.remainder(b);
    case B_ATAN2: return a.atan2(b);
    case B_FLOORDIV: return a.div(b, "floor");
  }
  throw std::runtime_error("unknown binary op " + std::to_string(op));
}

at::Tensor binaryS(int op, const at::Tensor& a, const at::Scalar& b) {
  switch (op) {
    case B_ADD: return a.add(b);
    case B_SUB: return a.sub(b);
    case B_MUL: return a.mul(b);
    case B_DIV: return a.div(b);
    case B_POW: return a.pow(b);
    case B_MAX: return a.clamp_min(b);
    case B_MIN: return a.clamp_max(b);
    case B_EQ: return a.eq(b);
    case B_NE: return a.ne(b);
    case B_LT: return a.lt(b);
    case B_LE: return a.le(b);
    case B_GT: return a.gt(b);
    case B_GE: return a.ge(b);
    case B_REM: return a.remainder(b);
    case B_FLOORDIV: return a.div(b, "floor");
    default: {
      auto bt = at::scalar_tensor(b, a.options());
      return binaryT(op, a, bt);
    }
  }
}

at::Scalar scalarOf(const Napi::Value& v) {
  if (v.IsBoolean()) return at::Scalar(v.As<Napi::Boolean>().Value());
  double d = num(v);
  return at::Scalar(d);
}

FN(unary) { GUARD_BEGIN return wrap(E, unaryOp(static_cast<int>(i64(info[0])), T(info[1]))); GUARD_END }
FN(binary) {
  GUARD_BEGIN
  int op = static_cast<int>(i64(info[0]));
  auto& a = T(info[1]);
  if (info[2].IsNumber() || info[2].IsBoolean()) return wrap(E, binaryS(op, a, scalarOf(info[2])));
  return wrap(E, binaryT(op, a, T(info[2])));
  GUARD_END
}
// rsub(a, scalar): scalar - a
FN(rsub) { GUARD_BEGIN return wrap(E, at::rsub(T(info[0]), scalarOf(info[1]))); GUARD_END }

// In place: add_ sub_ mul_ div_ (tensor or scalar, alpha for add_/sub_), copy_, zero_, fill_, clamp_.
FN(binaryInplace) {
  GUARD_BEGIN
  int op = static_cast<int>(i64(info[0]));
  auto& a = T(info[1]);
  bool isS = info[2].IsNumber();
  double alpha = info[3].IsNumber() ? num(info[3]) : 1.0;
  switch (op) {
    case B_ADD: isS ? a.add_(scalarOf(info[2]), alpha) : a.add_(T(info[2]), alpha); break;
    case B_SUB: isS ? a.sub_(scalarOf(info[2]), alpha) : a.sub_(T(info[2]), alpha); break;
    case B_MUL: isS ? a.mul_(scalarOf(info[2])) : a.mul_(T(info[2])); break;
    case B_DIV: isS ? a.div_(scalarOf(info[2])) : a.div_(T(info[2])); break;
    case B_MAX: isS ? a.clamp_min_(scalarOf(info[2])) : a.copy_(at::maximum(a, T(info[2]))); break;
    default: throw std::runtime_error("binary op " + std::to_string(op) + " has no in-place form");
  }
  return info[1];
  GUARD_END
}
FN(copy_) { GUARD_BEGIN T(info[0]).copy_(T(info[1])); return info[0]; GUARD_END }
FN(zero_) { GUARD_BEGIN T(info[0]).zero_(); return info[0]; GUARD_END }
FN(fill_) { GUARD_BEGIN T(info[0]).fill_(scalarOf(info[1])); return info[0]; GUARD_END }
FN(clamp_) {
  GUARD_BEGIN
  c10::optional<at::Scalar> lo, hi;
  if (info[1].IsNumber()) lo = scalarOf(info[1]);
  if (info[2].IsNumber()) hi = scalarOf(info[2]);
  T(info[0]).clamp_(lo, hi);
  return info[0];
  GUARD_END
}
FN(clamp) {
  GUARD_BEGIN
  c10::optional<at::Scalar> lo, hi;
  if (info[1].IsNumber()) lo = scalarOf(info[1]);
  if (info[2].IsNumber()) hi = scalarOf(info[2]);
  return wrap(E, T(info[0]).clamp(lo, hi));
  GUARD_END
}
FN(addcmul_) { GUARD_BEGIN T(info[0]).addcmul_(T(info[1]), T(info[2]), scalarOf(info[3])); return info[0]; GUARD_END }
FN(addcdiv_) { GUARD_BEGIN T(info[0]).addcdiv_(T(info[1]), T(info[2]), scalarOf(info[3])); return info[0]; GUARD_END }
FN(lerp_) { GUARD_BEGIN T(info[0]).lerp_(T(info[1]), scalarOf(info[2])); return info[0]; GUARD_END }
FN(where) {
  GUARD_BEGIN
  auto& c = T(info[0]);
  if (info[1].IsNumber() && info[2].IsNumber()) return wrap(E, at::where(c, scalarOf(info[1]), scalarOf(info[2])));
  if (info[1].IsNumber()) return wrap(E, at::where(c, scalarOf(info[1]), T(info[2])));
  if (info[2].IsNumber()) return wrap(E, at::where(c, T(info[1]), scalarOf(info[2])));
  return wrap(E, at::where(c, T(info[1]), T(info[2])));
  GUARD_END
}
FN(maskedFill) { GUARD_BEGIN return wrap(E, T(info[0]).masked_fill(T(info[1]), scalarOf(info[2]))); GUARD_END }
FN(triu) { GUARD_BEGIN return wrap(E, T(info[0]).triu(i64(info[1]))); GUARD_END }
FN(tril) { GUARD_BEGIN return wrap(E, T(info[0]).tril(i64(info[1]))); GUARD_END }

// ---------------------------------------------------------------------------------------------
// Reductions. dims: null (all) or an array.

enum Reduce { R_SUM, R_MEAN, R_AMAX, R_AMIN, R_PROD, R_NORM, R_ALL, R_ANY, R_LOGSUMEXP };

FN(reduce) {
  GUARD_BEGIN
  int op = static_cast<int>(i64(info[0]));
  auto& t = T(info[1]);
  bool all = info[2].IsNull() || info[2].IsUndefined();
  std::vector<int64_t> dims = all ? std::vector<int64_t>{} : ints(info[2], "dims");
  bool keep = flag(info[3]);
  switch (op) {
    case R_SUM: return wrap(E, all ? t.sum() : t.sum(dims, keep));
    case R_MEAN: return wrap(E, all ? t.mean() : t.mean(dims, keep));
    case R_AMAX: return wrap(E, all ? t.max() : t.amax(dims, keep));
    case R_AMIN: return wrap(E, all ? t.min() : t.amin(dims, keep));
    case R_PROD:
      if (all) return wrap(E, t.prod());
      if (dims.size() != 1) throw std::runtime_error("prod: reduces one dim at a time");
      return wrap(E, t.prod(dims[0], keep));
    case R_NORM: return wrap(E, all ? t.norm() : at::norm(t, 2, dims, keep));
    case R_ALL: return wrap(E, all ? t.all() : t.all(dims.at(0), keep));
    case R_ANY: return wrap(E, all ? t.any() : t.any(dims.at(0), keep));
    case R_LOGSUMEXP: return wrap(E, at::logsumexp(t, all ? std::vector<int64_t>{} : dims, keep));
  }
  throw std::runtime_error("unknown reduction " + std::to_string(op));
  GUARD_END
}
// var(t, dims|null, correction(0|1), keepdim)
FN(var) {
  GUARD_BEGIN
  auto& t = T(info[0]);
  bool unbiased = i64(info[2]) != 0;
  if (info[1].IsNull() || info[1].IsUndefined()) return wrap(E, t.var(unbiased));
  return wrap(E, t.var(ints(info[1], "dims"), unbiased, flag(info[3])));
  GUARD_END
}
// maxDim(t, dim, keepdim) -> [values, indices]
FN(maxDim) {
  GUARD_BEGIN
  auto r = T(info[0]).max(i64(info[1]), flag(info[2]));
  return wrapList(E, {std::get<0>(r), std::get<1>(r)});
  GUARD_END
}
FN(minDim) {
  GUARD_BEGIN
  auto r = T(info[0]).min(i64(info[1]), flag(info[2]));
  return wrapList(E, {std::get<0>(r), std::get<1>(r)});
  GUARD_END
}
FN(argmax) {
  GUARD_BEGIN
  if (info[1].IsNull() || info[1].IsUndefined()) return wrap(E, T(info[0]).argmax());
  return wrap(E, T(info[0]).argmax(i64(info[1]), flag(info[2])));
  GUARD_END
}
FN(argmin) {
  GUARD_BEGIN
  if (info[1].IsNull() || info[1].IsUndefined()) return wrap(E, T(info[0]).argmin());
  return wrap(E, T(info[0]).argmin(i64(info[1]), flag(info[2])));
  GUARD_END
}
// topk(t, k, dim, largest, sorted)
FN(topk) {
  GUARD_BEGIN
  auto r = T(info[0]).topk(i64(info[1]), i64(info[2]), flag(info[3]), flag(info[4]));
  return wrapList(E, {std::get<0>(r), std::get<1>(r)});
  GUARD_END
}
// sort(t, dim, descending)
FN(sort) {
  GUARD_BEGIN
  auto r = T(info[0]).sort(i64(info[1]), flag(info[2]));
  return wrapList(E, {std::get<0>(r), std::get<1>(r)});
  GUARD_END
}
FN(cumsum) { GUARD_BEGIN return wrap(E, T(info[0]).cumsum(i64(info[1]))); GUARD_END }

// ---------------------------------------------------------------------------------------------
// Products

FN(matmul) { GUARD_BEGIN return wrap(E, at::matmul(T(info[0]), T(info[1]))); GUARD_END }
FN(bmm) { GUARD_BEGIN return wrap(E, at::bmm(T(info[0]), T(info[1]))); GUARD_END }
FN(einsum) { GUARD_BEGIN return wrap(E, at::einsum(info[0].As<Napi::String>().Utf8Value(), tensors(info[1]))); GUARD_END }

// ---------------------------------------------------------------------------------------------
// Shape

FN(reshape) { GUARD_BEGIN return wrap(E, T(info[0]).reshape(ints(info[1]))); GUARD_END }
FN(view) { GUARD_BEGIN return wrap(E, T(info[0]).view(ints(info[1]))); GUARD_END }
FN(permute) { GUARD_BEGIN return wrap(E, T(info[0]).permute(ints(info[1], "dims"))); GUARD_END }
FN(transpose) { GUARD_BEGIN return wrap(E, T(info[0]).transpose(i64(info[1]), i64(info[2]))); GUARD_END }
FN(cat) { GUARD_BEGIN return wrap(E, at::cat(tensors(info[0]), i64(info[1]))); GUARD_END }
FN(stack) { GUARD_BEGIN return wrap(E, at::stack(tensors(info[0]), i64(info[1]))); GUARD_END }
// split(t, sizeOrSizes, dim)
FN(split) {
  GUARD_BEGIN
  auto& t = T(info[0]);
  if (info[1].IsNumber()) return wrapList(E, t.split(i64(info[1]), i64(info[2])));
  return wrapList(E, t.split_with_sizes(ints(info[1], "sizes"), i64(info[2])));
  GUARD_END
}
FN(chunk) { GUARD_BEGIN return wrapList(E, T(info[0]).chunk(i64(info[1]), i64(info[2]))); GUARD_END }
FN(expand) { GUARD_BEGIN return wrap(E, T(info[0]).expand(ints(info[1]))); GUARD_END }
FN(repeat) { GUARD_BEGIN return wrap(E, T(info[0]).repeat(ints(info[1], "repeats"))); GUARD_END }
FN(repeatInterleave) { GUARD_BEGIN return wrap(E, T(info[0]).repeat_interleave(i64(info[1]), i64(info[2]))); GUARD_END }
// slice(t, dim, start, end, step)
FN(slice) { GUARD_BEGIN return wrap(E, T(info[0]).slice(i64(info[1]), i64(info[2]), i64(info[3]), i64(info[4]))); GUARD_END }
FN(select) { GUARD_BEGIN return wrap(E, T(info[0]).select(i64(info[1]), i64(info[2]))); GUARD_END }
FN(indexSelect) { GUARD_BEGIN return wrap(E, T(info[0]).index_select(i64(info[1]), T(info[2]))); GUARD_END }
FN(gather) { GUARD_BEGIN return wrap(E, T(info[0]).gather(i64(info[1]), T(info[2]))); GUARD_END }
FN(scatter) { GUARD_BEGIN return wrap(E, T(info[0]).scatter(i64(info[1]), T(info[2]), T(info[3]))); GUARD_END }
FN(squeeze) {
  GUARD_BEGIN
  if (info[1].IsNumber()) return wrap(E, T(info[0]).squeeze(i64(info[1])));
  return wrap(E, T(info[0]).squeeze());
  GUARD_END
}
FN(unsqueeze) { GUARD_BEGIN return wrap(E, T(info[0]).unsqueeze(i64(info[1]))); GUARD_END }
FN(flatten) { GUARD_BEGIN return wrap(E, T(info[0]).flatten(i64(info[1]), i64(info[2]))); GUARD_END }
FN(maskedSelect) { GUARD_BEGIN return wrap(E, T(info[0]).masked_select(T(info[1]))); GUARD_END }
FN(flip) { GUARD_BEGIN return wrap(E, T(info[0]).flip(ints(info[1], "dims"))); GUARD_END }
FN(oneHot) { GUARD_BEGIN return wrap(E, at::one_hot(T(info[0]), i64(info[1]))); GUARD_END }

// ---------------------------------------------------------------------------------------------
// nn functional

FN(linear) { GUARD_BEGIN return wrap(E, at::linear(T(info[0]), T(info[1]), optT(info[2]))); GUARD_END }
// conv2d(x, w, b, stride[2], padding[2], dilation[2], groups)
FN(conv2d) {
  GUARD_BEGIN
  return wrap(E, at::conv2d(T(info[0]), T(info[1]), optT(info[2]), ints(info[3], "stride"), ints(info[4], "padding"),
                            ints(info[5], "dilation"), i64(info[6])));
  GUARD_END
}
// interpolate(x, size[2], mode, alignCorners)
FN(interpolate) {
  GUARD_BEGIN
  auto& x = T(info[0]);
  auto size = ints(info[1], "size");
  std::string mode = info[2].As<Napi::String>().Utf8Value();
  if (mode == "nearest") return wrap(E, at::upsample_nearest2d(x, size));
  if (mode == "bilinear") return wrap(E, at::upsample_bilinear2d(x, size, flag(info[3])));
  throw Napi::TypeError::New(E, "interpolate: unknown mode \"" + mode + "\" (expected nearest or bilinear)");
  GUARD_END
}
// avgPool2d(x, kernel[2], stride[2], padding[2])
FN(avgPool2d) {
  GUARD_BEGIN
  return wrap(E, at::avg_pool2d(T(info[0]), ints(info[1], "kernel"), ints(info[2], "stride"), ints(info[3], "padding")));
  GUARD_END
}
FN(maxPool2d) {
  GUARD_BEGIN
  return wrap(E, at::max_pool2d(T(info[0]), ints(info[1], "kernel"), ints(info[2], "stride"), ints(info[3], "padding")));
  GUARD_END
}
// groupNorm(x, groups, w, b, eps)
FN(groupNorm) { GUARD_BEGIN return wrap(E, at::group_norm(T(info[0]), i64(info[1]), optT(info[2]), optT(info[3]), num(info[4]))); GUARD_END }
// layerNorm(x, normalizedShape, w, b, eps)
FN(layerNorm) {
  GUARD_BEGIN
  return wrap(E, at::layer_norm(T(info[0]), ints(info[1]), optT(info[2]), optT(info[3]), num(info[4])));
  GUARD_END
}
// embedding(weight, indices)
FN(embedding) { GUARD_BEGIN return wrap(E, at::embedding(T(info[0]), T(info[1]))); GUARD_END }
// dropout(x, p, train)
FN(dropout) { GUARD_BEGIN return wrap(E, at::dropout(T(info[0]), num(info[1]), flag(info[2]))); GUARD_END }
FN(softmax) { GUARD_BEGIN return wrap(E, at::softmax(T(info[0]), i64(info[1]))); GUARD_END }
FN(logSoftmax) { GUARD_BEGIN return wrap(E, at::log_softmax(T(info[0]), i64(info[1]))); GUARD_END }

int64_t reductionOf(Napi::Env env, const Napi::Value& v) {
  std::string r = v.IsString() ? v.As<Napi::String>().Utf8Value() : "mean";
  if (r == "mean") return at::Reduction::Mean;
  if (r == "sum") return at::Reduction::Sum;
  if (r == "none") return at::Reduction::None;
  throw Napi::TypeError::New(env, "unknown reduction \"" + r + "\" (expected mean, sum or none)");
}
// crossEntropy(logits [B,C], target [B] int64, reduction, labelSmoothing)
FN(crossEntropy) {
  GUARD_BEGIN
  return wrap(E, at::cross_entropy_loss(T(info[0]), T(info[1]), c10::nullopt, reductionOf(E, info[2]), -100,
                                        info[3].IsNumber() ? num(info[3]) : 0.0));
  GUARD_END
}
FN(mseLoss) { GUARD_BEGIN return wrap(E, at::mse_loss(T(info[0]), T(info[1]), reductionOf(E, info[2]))); GUARD_END }
// pad(x, pads, value): constant padding, pads as in torch.nn.functional.pad
FN(pad) { GUARD_BEGIN return wrap(E, at::constant_pad_nd(T(info[0]), ints(info[1], "pads"), num(info[2]))); GUARD_END }

// scaledDotProductAttention(q, k, v, mask|null, isCausal): q,k,v [..., L, D]. Uses libtorch's fused
// kernel where the version has one (2.x), and matmul + softmax where it does not (1.13).
FN(scaledDotProductAttention) {
  GUARD_BEGIN
  auto& q = T(info[0]);
  auto& k = T(info[1]);
  auto& v = T(info[2]);
  auto mask = optT(info[3]);
  bool causal = flag(info[4]);
#if TORCH_VERSION_MAJOR >= 2
  return wrap(E, at::scaled_dot_product_attention(q, k, v, mask, 0.0, causal));
#else
  double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  auto scores = at::matmul(q, k.transpose(-2, -1)).mul(scale);
  if (causal) {
    auto L = q.size(-2), S = k.size(-2);
    auto keep = at::ones({L, S}, q.options().dtype(at::kBool)).tril();
    scores = scores.masked_fill(keep.logical_not(), -std::numeric_limits<double>::infinity());
  }
  if (mask) {
    if (mask->scalar_type() == at::kBool) scores = scores.masked_fill(mask->logical_not(), -std::numeric_limits<double>::infinity());
    else scores = scores.add(*mask);
  }
  return wrap(E, at::matmul(at::softmax(scores, -1), v));
#endif
  GUARD_END
}

// ---------------------------------------------------------------------------------------------
// Linear algebra

FN(eigh) {
  GUARD_BEGIN
  auto r = at::linalg_eigh(T(info[0]));
  return wrapList(E, {std::get<0>(r), std::get<1>(r)});
  GUARD_END
}

// ---------------------------------------------------------------------------------------------
// Autograd

FN(setRequiresGrad) { GUARD_BEGIN T(info[0]).requires_grad_(flag(info[1])); return info[0]; GUARD_END }
FN(grad) { GUARD_BEGIN return wrap(E, T(info[0]).grad()); GUARD_END }
FN(setGrad) {
  GUARD_BEGIN
  auto& t = T(info[0]);
  if (info[1].IsNull() || info[1].IsUndefined()) t.mutable_grad().reset();
  else t.mutable_grad() = T(info[1]);
  return E.Undefined();
  GUARD_END
}
// backward(t, gradient|null, retainGraph)
FN(backward) {
  GUARD_BEGIN
  auto& t = T(info[0]);
  auto g = optT(info[1]);
  bool retain = flag(info[2]);
  t.backward(g ? *g : at::Tensor(), retain ? c10::optional<bool>(true) : c10::nullopt);
  return E.Undefined();
  GUARD_END
}
// zeroGrad(params, setToNone)
FN(zeroGrad) {
  GUARD_BEGIN
  bool toNone = flag(info[1]);
  for (auto& p : tensors(info[0])) {
    auto& g = p.mutable_grad();
    if (!g.defined()) continue;
    if (toNone) g.reset();
    else {
      g = g.detach();
      g.zero_();
    }
  }
  return E.Undefined();
  GUARD_END
}

// ---------------------------------------------------------------------------------------------
// Optimizer kernels. They follow torch.optim's single-tensor implementations step for step so that
// a TypeScript training loop matches PyTorch's numerics and speed.

// adamStep(params, expAvgs, expAvgSqs, step, lr, beta1, beta2, eps, weightDecay, decoupled)
FN(adamStep) {
  GUARD_BEGIN
  auto params = tensors(info[0]);
  auto m = tensors(info[1]);
  auto v = tensors(info[2]);
  double step = num(info[3]), lr = num(info[4]), b1 = num(info[5]), b2 = num(info[6]), eps = num(info[7]), wd = num(info[8]);
  bool decoupled = flag(info[9]);
  at::NoGradGuard ng;
  double bc1 = 1 - std::pow(b1, step);
  double bc2 = 1 - std::pow(b2, step);
  double stepSize = lr / bc1;
  double bc2Sqrt = std::sqrt(bc2);
  for (size_t i = 0; i < params.size(); i++) {
    auto& p = params[i];
    at::Tensor g = p.grad();
    if (!g.defined()) continue;
    if (wd != 0) {
      if (decoupled) p.mul_(1 - lr * wd);
      else g = g.add(p, wd);
    }
    m[i].lerp_(g, 1 - b1);
    v[i].mul_(b2).addcmul_(g, g.conj(), 1 - b2);
    auto denom = v[i].sqrt().div_(bc2Sqrt).add_(eps);
    p.addcdiv_(m[i], denom, -stepSize);
  }
  return E.Undefined();
  GUARD_END
}
// sgdStep(params, momentumBufs|null entries, lr, momentum, dampening, weightDecay, nesterov)
FN(sgdStep) {
  GUARD_BEGIN
  auto params = tensors(info[0]);
  auto bufs = tensors(info[1]);
  double lr = num(info[2]), mom = num(info[3]), damp = num(info[4]), wd = num(info[5]);
  bool nesterov = flag(info[6]);
  bool first = flag(info[7]);
  at::NoGradGuard ng;
  for (size_t i = 0; i < params.size(); i++) {
    auto& p = params[i];
    at::Tensor g = p.grad();
    if (!g.defined()) continue;
    if (wd != 0) g = g.add(p, wd);
    if (mom != 0) {
      auto& b = bufs[i];
      if (first) b.copy_(g);
      else b.mul_(mom).add_(g, 1 - damp);
      g = nesterov ? g.add(b, mom) : b;
    }
    p.add_(g, -lr);
  }
  return E.Undefined();
  GUARD_END
}
// clipGradNorm(params, maxNorm) -> total norm before clipping (as torch.nn.utils.clip_grad_norm_)
FN(clipGradNorm) {
  GUARD_BEGIN
  auto params = tensors(info[0]);
  double maxNorm = num(info[1]);
  at::NoGradGuard ng;
  std::vector<at::Tensor> norms;
  for (auto& p : params)
    if (p.grad().defined()) norms.push_back(p.grad().detach().norm(2).to(at::kFloat));
  if (norms.empty()) return Napi::Number::New(E, 0);
  auto total = at::stack(norms).norm(2);
  double totalD = total.item<double>();
  double coef = maxNorm / (totalD + 1e-6);
  if (coef < 1)
    for (auto& p : params)
      if (p.grad().defined()) p.mutable_grad().detach().mul_(coef);
  return Napi::Number::New(E, totalD);
  GUARD_END
}
// emaUpdate(shadow, params, decay): shadow = decay * shadow + (1 - decay) * param
FN(emaUpdate) {
  GUARD_BEGIN
  auto s = tensors(info[0]);
  auto p = tensors(info[1]);
  double decay = num(info[2]);
  at::NoGradGuard ng;
  for (size_t i = 0; i < s.size(); i++) s[i].lerp_(p[i].detach().to(s[i].scalar_type()), 1 - decay);
  return E.Undefined();
  GUARD_END
}

#define EXPORT(name) exports.Set(#name, Napi::Function::New(env, name, #name))

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  EXPORT(version); EXPORT(liveTensors); EXPORT(setNumThreads); EXPORT(getNumThreads); EXPORT(manualSeed);
  EXPORT(cudaDeviceCount); EXPORT(cudaSynchronize); EXPORT(releaseCachedMemory); EXPORT(isGradEnabled); EXPORT(setGradEnabled);
  EXPORT(dispose); EXPORT(isDisposed);
  EXPORT(newGenerator); EXPORT(generatorGetState); EXPORT(generatorSetState);
  EXPORT(zeros); EXPORT(ones); EXPORT(empty); EXPORT(full); EXPORT(arange); EXPORT(linspace);
  EXPORT(randn); EXPORT(rand); EXPORT(randint); EXPORT(randperm);
  EXPORT(fromBuffer); EXPORT(toBuffer); EXPORT(item); EXPORT(tensorInfo); EXPORT(shape);
  EXPORT(to); EXPORT(clone); EXPORT(contiguous); EXPORT(detach); EXPORT(alias);
  EXPORT(unary); EXPORT(binary); EXPORT(rsub); EXPORT(binaryInplace);
  EXPORT(copy_); EXPORT(zero_); EXPORT(fill_); EXPORT(clamp_); EXPORT(clamp); EXPORT(addcmul_); EXPORT(addcdiv_); EXPORT(lerp_);
  EXPORT(where); EXPORT(maskedFill); EXPORT(triu); EXPORT(tril);
  EXPORT(reduce); EXPORT(var); EXPORT(maxDim); EXPORT(minDim); EXPORT(argmax); EXPORT(argmin); EXPORT(topk); EXPORT(sort); EXPORT(cumsum);
  EXPORT(matmul); EXPORT(bmm); EXPORT(einsum);
  EXPORT(reshape); EXPORT(view); EXPORT(permute); EXPORT(transpose); EXPORT(cat); EXPORT(stack); EXPORT(split);
  EXPORT(chunk); EXPORT(expand); EXPORT(repeat); EXPORT(repeatInterleave); EXPORT(slice); EXPORT(select); EXPORT(indexSelect); EXPORT(gather);
  EXPORT(scatter); EXPORT(squeeze); EXPORT(unsqueeze); EXPORT(flatten); EXPORT(maskedSelect); EXPORT(flip); EXPORT(oneHot);
  EXPORT(linear); EXPORT(conv2d); EXPORT(interpolate); EXPORT(avgPool2d); EXPORT(maxPool2d); EXPORT(groupNorm); EXPORT(layerNorm);
  EXPORT(embedding); EXPORT(dropout); EXPORT(softmax); EXPORT(logSoftmax); EXPORT(crossEntropy); EXPORT(mseLoss); EXPORT(pad);
  EXPORT(scaledDotProductAttention); EXPORT(eigh);
  EXPORT(setRequiresGrad); EXPORT(grad); EXPORT(setGrad); EXPORT(backward); EXPORT(zeroGrad);
  EXPORT(adamStep); EXPORT(sgdStep); EXPORT(clipGradNorm); EXPORT(emaUpdate);
  return exports;
}

}  // namespace

NODE_API_MODULE(t2i_torch, Init)
