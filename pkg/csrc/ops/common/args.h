#pragma once
// What every op's argument checks share: the error helper and the checks of
// point sets and batch vectors (common/args.cpp). Errors are thrown as
// std::runtime_error, which the stable ABI turns into a Python RuntimeError
// (and a std::exception for C++ callers) with exactly this text: no file/line
// noise, one sentence naming the cause and the fix.
#include <torch/csrc/stable/tensor.h>
#include <torch/headeronly/core/ScalarType.h>
#include <torch/headeronly/util/BFloat16.h>
#include <torch/headeronly/util/Half.h>

#include <initializer_list>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>

// The ops namespace comes from pyproject.toml through CMake (-DEXT_NS=...).
#ifndef EXT_NS
#error "EXT_NS (the torch.ops namespace) must be defined by the build"
#endif
#define EXT_STR_(x) #x
#define EXT_STR(x) EXT_STR_(x)
#define EXT_NS_STR EXT_STR(EXT_NS)

namespace ops {
using torch::stable::Tensor;

template <typename... Args>
[[noreturn]] void fail(const Args&... args) {
  std::ostringstream oss;
  ((oss << args), ...);
  throw std::runtime_error(oss.str());
}

// An uninitialised contiguous tensor of `sizes` and `dtype` (uint8, int32,
// int64, float32 or float64) on like's device. Through the C shim's
// empty_strided: torch::stable::new_empty looks its op up by name and runs it
// boxed, microseconds a call that a small input's whole call budget feels.
Tensor new_uninit(const Tensor& like, std::initializer_list<int64_t> sizes,
                  torch::headeronly::ScalarType dtype);

// "float32", "int64", ... as Python spells them, for messages.
const char* dtype_name(torch::headeronly::ScalarType t);
// "cpu", "cuda:1", "meta", ... for messages.
std::string device_name(const Tensor& t);

// A point set: float16/bfloat16/float32/float64, [N] (becomes [N, 1]) or
// [N, D] with D >= 1 and N < 2^31 - 1; returned contiguous (copied only if
// needed). `op` and `name` only enter messages ("<ns>.<op>", "x").
Tensor as_points(const char* op, const char* name, const Tensor& t);

// The same view of the same memory (the graph ops pass x as y); false if
// either is undefined.
bool same_tensor(const Tensor& a, const Tensor& b);

// Two point sets of one dtype, one device and one dimension.
void check_same_kind(const char* op, const Tensor& x, const Tensor& y);

// An optional batch vector for `pts`: int64, 1-D, one id per point, on pts'
// device; returned contiguous. Its values (sorted, dense) are the kernels'
// to check, since reading them may need a device sync.
std::optional<Tensor> as_batch(const char* op, const char* name, const std::optional<Tensor>& b,
                               const Tensor& pts, const char* pts_name);

template <typename T> struct Type { using type = T; };

// The accumulation type of a floating dtype: float64 for float64, else float32.
inline torch::headeronly::ScalarType acc_scalar_type(torch::headeronly::ScalarType t) {
  using torch::headeronly::ScalarType;
  return t == ScalarType::Double ? ScalarType::Double : ScalarType::Float;
}

// f(Type<in_t>{}, Type<acc_t>{}) for a floating dtype `t` that as_points
// accepted: half and bfloat16 accumulate in float, float64 in double.
template <typename F>
decltype(auto) dispatch_floating(torch::headeronly::ScalarType t, F&& f) {
  using torch::headeronly::ScalarType;
  switch (t) {
    case ScalarType::Half: return f(Type<c10::Half>{}, Type<float>{});
    case ScalarType::BFloat16: return f(Type<c10::BFloat16>{}, Type<float>{});
    case ScalarType::Float: return f(Type<float>{}, Type<float>{});
    default: return f(Type<double>{}, Type<double>{});
  }
}
}  // namespace ops

#define EXT_CHECK(cond, ...)      \
  do {                            \
    if (!(cond)) {                \
      ::ops::fail(__VA_ARGS__);   \
    }                             \
  } while (0)
