"""`new-op NAME`: an op that builds, registers, scripts, compiles and is
tested on the CPU and (where there is a GPU) CUDA, written from the templates
in ci/newop/ (Jinja, `op` = NAME; the template's example op is the same
files): a toy NAME(Tensor x) -> Tensor, the squared norm of each point.

  pkg/csrc/ops/NAME.cpp                    schema (EXT_LIBRARY_FRAGMENT)
  pkg/csrc/ops/common/NAME_call.{h,cpp}    argument checks + output, shared by the backends
  pkg/csrc/ops/cpu/NAME_kernel.cpp         CPU kernel
  pkg/csrc/ops/cuda/NAME_kernel.cpp        CUDA host code: guard, stream, launch
  pkg/csrc/ops/cuda/NAME.{h,cu}            CUDA launcher and device code
  tests/test_NAME.py                       tests on the `device` fixture
  pkg/_fake.py, pkg/ops.py                 fake kernel and Python wrapper (appended)

CMake picks the sources up by directory; nothing else is edited.
"""

from __future__ import annotations

import re
from pathlib import Path

from .project import FactoryError, Project, log, step

TEMPLATES = Path(__file__).resolve().parent / "newop"
APPENDED = {"fake.py.j2": "pkg/_fake.py", "wrapper.py.j2": "pkg/ops.py"}


def environment():
    """Jinja as copier renders the template's example op (the same files)."""
    import jinja2

    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), keep_trailing_newline=True,
                              undefined=jinja2.StrictUndefined)


def new_op(proj: Project, name: str) -> list[str]:
    step(f"new-op {name}")
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise FactoryError(f"op names are lower_snake_case identifiers, not {name!r}")
    env = environment()
    files = {proj.root / str(t.relative_to(TEMPLATES))[:-3].replace("OP", name): t.relative_to(TEMPLATES).as_posix()
             for t in sorted(TEMPLATES.rglob("*.j2")) if t.name not in APPENDED}
    taken = [str(p.relative_to(proj.root)) for p in files if p.exists()]
    if taken or re.search(rf"^def {name}\(", (proj.root / APPENDED["wrapper.py.j2"]).read_text(), re.M):
        raise FactoryError(f"an op {name!r} exists already ({', '.join(taken) or 'pkg/ops.py'})")
    for path, template in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(env.get_template(template).render(op=name))
    for template, rel in APPENDED.items():
        with (proj.root / rel).open("a") as f:
            f.write(env.get_template(template).render(op=name))
    written = [str(p.relative_to(proj.root)) for p in files] + list(APPENDED.values())
    for rel in written:
        log(f"wrote {rel}")
    log(f"next: ./ci/factory build --cpu && ./ci/factory test --suites product -- -k {name}; "
        "then make the toy kernel yours (README: Add an op)")
    return written
