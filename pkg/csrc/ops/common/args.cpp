// The argument checks every op shares (see args.h).
#include "args.h"

#include <torch/csrc/inductor/aoti_torch/c/shim.h>
#include <torch/csrc/stable/ops.h>

#include <cstdint>
#include <limits>

namespace ops {
using torch::headeronly::DeviceType;
using torch::headeronly::ScalarType;

Tensor new_uninit(const Tensor& like, std::initializer_list<int64_t> sizes, ScalarType dtype) {
  int32_t code;
  switch (dtype) {
    case ScalarType::Byte: code = aoti_torch_dtype_uint8(); break;
    case ScalarType::Int: code = aoti_torch_dtype_int32(); break;
    case ScalarType::Long: code = aoti_torch_dtype_int64(); break;
    case ScalarType::Float: code = aoti_torch_dtype_float32(); break;
    case ScalarType::Double: code = aoti_torch_dtype_float64(); break;
    default: fail(EXT_NS_STR ": internal error: new_uninit got dtype ", dtype_name(dtype));
  }
  int64_t strides[8];
  const int64_t ndim = int64_t(sizes.size());
  EXT_CHECK(ndim <= 8, EXT_NS_STR ": internal error: new_uninit of ", ndim, " dims");
  int64_t stride = 1;
  for (int64_t d = ndim - 1; d >= 0; --d) {
    strides[d] = stride;
    stride *= sizes.begin()[d];
  }
  int32_t device_type;
  AtenTensorHandle out = nullptr;
  if (aoti_torch_get_device_type(like.get(), &device_type) != AOTI_TORCH_SUCCESS ||
      aoti_torch_empty_strided(ndim, sizes.begin(), strides, code, device_type,
                               like.get_device_index(), &out) != AOTI_TORCH_SUCCESS) {
    // The shim keeps torch's message for the thread; new_empty raises it as is.
    return torch::stable::new_empty(like, sizes, dtype);
  }
  return Tensor(out);
}

const char* dtype_name(ScalarType t) {
  switch (t) {
    case ScalarType::Half: return "float16";
    case ScalarType::BFloat16: return "bfloat16";
    case ScalarType::Float: return "float32";
    case ScalarType::Double: return "float64";
    case ScalarType::Long: return "int64";
    case ScalarType::Int: return "int32";
    case ScalarType::Short: return "int16";
    case ScalarType::Char: return "int8";
    case ScalarType::Byte: return "uint8";
    case ScalarType::Bool: return "bool";
    default: return "a non-float dtype";
  }
}

std::string device_name(const Tensor& t) {
  switch (t.device().type()) {
    case DeviceType::CPU: return "cpu";
    case DeviceType::CUDA: return "cuda:" + std::to_string(t.get_device_index());
    case DeviceType::Meta: return "meta";
    default: return "a non-CPU/CUDA device";
  }
}

namespace {
bool is_supported_float(ScalarType t) {
  return t == ScalarType::Half || t == ScalarType::BFloat16 || t == ScalarType::Float ||
         t == ScalarType::Double;
}
}  // namespace

Tensor as_points(const char* op, const char* name, const Tensor& t) {
  EXT_CHECK(t.defined(), op, ": ", name, " is undefined; pass a tensor of points");
  EXT_CHECK(is_supported_float(t.scalar_type()), op, ": ", name,
            " must be float16, bfloat16, float32 or float64, got ", dtype_name(t.scalar_type()),
            "; convert it with ", name, ".float()");
  EXT_CHECK(t.dim() == 1 || t.dim() == 2, op, ": ", name,
            " must be 1-D [N] or 2-D [N, D] points, got a ", t.dim(),
            "-D tensor; reshape it to [N, D]");
  Tensor p = t.dim() == 1 ? torch::stable::reshape(t, {t.size(0), 1}) : t;
  EXT_CHECK(p.size(1) >= 1, op, ": ", name,
            " has 0 coordinates per point; pass [N, D] with D >= 1");
  EXT_CHECK(p.size(0) < std::numeric_limits<int32_t>::max(), op, ": ", name, " has ", p.size(0),
            " points; at most 2^31 - 2 are supported, split the input");
  return torch::stable::contiguous(p);
}

bool same_tensor(const Tensor& a, const Tensor& b) {
  if (!a.defined() || !b.defined() || a.dim() != b.dim() || a.scalar_type() != b.scalar_type() ||
      !(a.device() == b.device()) || a.const_data_ptr() != b.const_data_ptr()) {
    return false;
  }
  for (int64_t d = 0; d < a.dim(); ++d) {
    if (a.size(d) != b.size(d) || a.stride(d) != b.stride(d)) return false;
  }
  return true;
}

void check_same_kind(const char* op, const Tensor& x, const Tensor& y) {
  EXT_CHECK(x.scalar_type() == y.scalar_type(), op, ": x is ", dtype_name(x.scalar_type()),
            " but y is ", dtype_name(y.scalar_type()), "; convert both to one dtype");
  EXT_CHECK(x.device() == y.device(), op, ": x is on ", device_name(x), " but y is on ",
            device_name(y), "; move both to one device");
  EXT_CHECK(x.size(1) == y.size(1), op, ": x has ", x.size(1),
            " coordinates per point but y has ", y.size(1), "; they must match");
}

std::optional<Tensor> as_batch(const char* op, const char* name, const std::optional<Tensor>& b,
                               const Tensor& pts, const char* pts_name) {
  if (!b.has_value()) return std::nullopt;
  const Tensor& t = *b;
  EXT_CHECK(t.scalar_type() == ScalarType::Long, op, ": ", name, " must be int64, got ",
            dtype_name(t.scalar_type()), "; convert it with ", name, ".long()");
  EXT_CHECK(t.dim() == 1, op, ": ", name, " must be a 1-D vector, got a ", t.dim(), "-D tensor");
  EXT_CHECK(t.size(0) == pts.size(0), op, ": ", name, " has ", t.size(0), " entries but ",
            pts_name, " has ", pts.size(0), " points; give one batch id per point");
  EXT_CHECK(t.device() == pts.device(), op, ": ", name, " is on ", device_name(t), " but ",
            pts_name, " is on ", device_name(pts), "; move both to one device");
  return torch::stable::contiguous(t);
}
}  // namespace ops
