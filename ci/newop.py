"""`new-op NAME`: the README's "Add an op" recipe as files, for a toy op
NAME(Tensor x) -> Tensor (the squared norm of each point), so that a new op
starts from code that builds, registers, traces and is tested:

  pkg/csrc/ops/NAME.cpp              schema (EXT_LIBRARY_FRAGMENT)
  pkg/csrc/ops/common/NAME_call.h    its validated call, shared by the backends
  pkg/csrc/ops/common/NAME_call.cpp  argument checks, on common/args.h
  pkg/csrc/ops/cpu/NAME_kernel.cpp   CPU kernel
  pkg/csrc/ops/cuda/NAME_kernel.cpp  CUDA registration: a stub that says it is one
  pkg/_fake.py, pkg/ops.py           fake kernel and Python wrapper (appended)
  tests/test_NAME.py                 tests against a plain-torch reference

CMake picks the sources up by directory; nothing else is edited.
"""

from __future__ import annotations

import re

from .project import FactoryError, Project, log, step

SCHEMA = """\
// {name}'s schema. Kernels: cpu/{name}_kernel.cpp, cuda/{name}_kernel.cpp; fake
// kernel: _fake.py; Python wrapper: ops.py.
#include "common/library.h"

EXT_LIBRARY_FRAGMENT(m) {{
  // The squared Euclidean norm of each point of x [N, D] (float32 sums in
  // dimension order; float64 for float64 input).
  m.def("{name}(Tensor x) -> Tensor");
}}
"""

HEADER = """\
#pragma once
// What {name}'s backends share: the validated argument (common/{name}_call.cpp).
#include "args.h"

namespace ops {{
// x as [N, D] contiguous floating points, or a message naming the problem.
Tensor {name}_points(const Tensor& x);
}}  // namespace ops
"""

CALL = """\
// {name}'s argument checks, compiled once for both libraries.
#include "{name}_call.h"

namespace ops {{
Tensor {name}_points(const Tensor& x) {{ return as_points(EXT_NS_STR ".{name}", "x", x); }}
}}  // namespace ops
"""

CPU = """\
// {name}'s CPU kernel.
#include <torch/csrc/stable/ops.h>
#include <torch/headeronly/util/BFloat16.h>
#include <torch/headeronly/util/Half.h>

#include "../common/{name}_call.h"
#include "../common/library.h"
#include "../grid.h"

namespace ops {{
namespace {{
using torch::headeronly::ScalarType;

template <typename in_t>
Tensor norms(const Tensor& x) {{
  using acc_t = typename acc_type<in_t>::type;
  const int64_t n = x.size(0), dim = x.size(1);
  Tensor out = torch::stable::new_empty(x, {{n}}, std::is_same_v<acc_t, double>
                                                      ? ScalarType::Double : ScalarType::Float);
  const auto* p = static_cast<const in_t*>(x.const_data_ptr());
  auto* o = static_cast<acc_t*>(out.mutable_data_ptr());
  for (int64_t i = 0; i < n; ++i) {{
    acc_t sum = 0;
    for (int64_t d = 0; d < dim; ++d) {{
      const acc_t v = static_cast<acc_t>(p[i * dim + d]);
      sum = sum + v * v;
    }}
    o[i] = sum;
  }}
  return out;
}}

Tensor {name}_cpu(Tensor x) {{
  const Tensor p = {name}_points(x);
  switch (p.scalar_type()) {{
    case ScalarType::Half: return norms<c10::Half>(p);
    case ScalarType::BFloat16: return norms<c10::BFloat16>(p);
    case ScalarType::Float: return norms<float>(p);
    default: return norms<double>(p);
  }}
}}
}}  // namespace
}}  // namespace ops

EXT_LIBRARY_IMPL(CPU, m) {{ m.impl("{name}", TORCH_BOX(&ops::{name}_cpu)); }}
"""

CUDA = """\
// {name}'s CUDA registration: a STUB until a kernel is written (device code
// goes in cuda/{name}_kernel.cu, host code here; see cuda/radius_kernel.cpp).
#include "../common/{name}_call.h"
#include "../common/library.h"

namespace ops {{
namespace {{
Tensor {name}_cuda(Tensor x) {{
  {name}_points(x);
  fail(EXT_NS_STR ".{name}: has no CUDA kernel yet; move x to the CPU "
       "(or write pkg/csrc/ops/cuda/{name}_kernel.cu)");
}}
}}  // namespace
}}  // namespace ops

EXT_LIBRARY_IMPL(CUDA, m) {{ m.impl("{name}", TORCH_BOX(&ops::{name}_cuda)); }}
"""

FAKE = '''

@fake("{name}")
def _{name}(op, x):
    acc = torch.float64 if x.dtype == torch.float64 else torch.float32
    return x.new_empty(x.shape[:1], dtype=acc)
'''

WRAPPER = '''

__all__ += ["{name}"]


def {name}(x: torch.Tensor) -> torch.Tensor:
    """The squared Euclidean norm of each point of ``x`` ``[N, D]`` (float32
    sums in dimension order; float64 for float64 input)."""
    return _ops.{name}(x)
'''

TEST = '''\
"""{name} against a plain-torch reference (written by `./ci/factory new-op`)."""

import pytest
import torch

from names import NS, OPS, ext


def reference(x: torch.Tensor) -> torch.Tensor:
    x = x.reshape(-1, 1) if x.dim() == 1 else x
    acc = torch.float64 if x.dtype == torch.float64 else torch.float32
    xa = x.cpu().to(acc)
    out = torch.zeros(xa.shape[0], dtype=acc)
    for d in range(xa.shape[1]):
        out = out + xa[:, d] * xa[:, d]
    return out


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_{name}_matches_the_reference(dtype):
    x = torch.randn(100, 3).to(dtype)
    assert torch.equal(ext.{name}(x), reference(x))
    assert torch.equal(OPS.{name}(x[::2]), reference(x[::2]))


def test_{name}_scripts_and_checks_its_input():
    scripted = torch.jit.script(ext.{name})
    x = torch.randn(7, 2)
    assert torch.equal(scripted(x), reference(x))
    with pytest.raises(RuntimeError, match=f"^{{NS}}.{name}: x must be float16"):
        ext.{name}(torch.ones(3, 2, dtype=torch.long))


def test_{name}_traces():
    torch.library.opcheck(OPS.{name}.default, (torch.randn(5, 3),))
'''


def new_op(proj: Project, name: str) -> list[str]:
    step(f"new-op {name}")
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise FactoryError(f"op names are lower_snake_case identifiers, not {name!r}")
    csrc = proj.root / "pkg" / "csrc" / "ops"
    files = {
        csrc / f"{name}.cpp": SCHEMA,
        csrc / "common" / f"{name}_call.h": HEADER,
        csrc / "common" / f"{name}_call.cpp": CALL,
        csrc / "cpu" / f"{name}_kernel.cpp": CPU,
        csrc / "cuda" / f"{name}_kernel.cpp": CUDA,
        proj.tests_dir / f"test_{name}.py": TEST,
    }
    taken = [str(p.relative_to(proj.root)) for p in files if p.exists()]
    ops_py = (proj.root / "pkg" / "ops.py").read_text()
    if taken or re.search(rf"^def {name}\(", ops_py, re.M):
        raise FactoryError(f"an op {name!r} exists already ({', '.join(taken) or 'pkg/ops.py'})")
    for path, template in files.items():
        path.write_text(template.format(name=name))
    for rel, template in (("pkg/_fake.py", FAKE), ("pkg/ops.py", WRAPPER)):
        with (proj.root / rel).open("a") as f:
            f.write(template.format(name=name))
    written = [str(p.relative_to(proj.root)) for p in files] + ["pkg/_fake.py", "pkg/ops.py"]
    for rel in written:
        log(f"wrote {rel}")
    log(f"next: ./ci/factory build --cpu && ./ci/factory test --suites product -- -k {name}; then replace the toy "
        "kernel (README: Add an op)")
    return written
