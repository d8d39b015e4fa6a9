"""Link a shared library against an older glibc than this machine's.

CMake's linker launcher (CMAKE_CXX_LINKER_LAUNCHER / CMAKE_CUDA_LINKER_LAUNCHER,
set by setup.py when EXT_LINK_GLIBC is set):

    python glibc_link.py GLIBC COMPILER LINK-ARGS...

g++ and nvcc compiled the objects as usual; only the final `-shared` link is
redone by `zig cc -target <arch>-linux-gnu.<GLIBC>` (PyPI's `ziglang`), whose
glibc stubs carry no symbol version newer than GLIBC. Everything C++ stays
GCC's: the objects, and the system libstdc++.so.6 / libgcc_s.so.1 they were
compiled for (named explicitly, so NEEDED and GLIBCXX/CXXABI versions are the
same as a g++ link's). Paths to this machine's glibc archives (CMake's
FindCUDAToolkit names /usr/lib/.../librt.a) become -l options, so they come
from zig's stubs too; -L directories that do not exist are dropped.

GCC 12's libstdc++ headers read `__libc_single_threaded` (GLIBC_2.32) to skip
atomics in single-threaded programs; a hidden definition that says "not
single-threaded" (0) keeps the atomics always on, which is correct anywhere
and needs no glibc symbol.

The output has no .symtab or debug info (-Wl,--strip-all, see main()).
Links that are not -shared (CMake's own checks) run unchanged.
"""

from __future__ import annotations

import fcntl
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

SINGLE_THREADED = (
    "/* Written by glibc_link.py: libstdc++ then always uses atomics. */\n"
    '__attribute__((visibility("hidden"))) char __libc_single_threaded = 0;\n'
)
# glibc's own libraries: taken from zig's versioned stubs, never from this
# machine's files.
GLIBC_LIBS = re.compile(r"lib(c|m|dl|rt|pthread|util|resolv|anl)\.(a|so)")
ARCHS = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}


def fail(msg: str) -> None:
    print(f"glibc_link.py: {msg}", file=sys.stderr)
    sys.exit(1)


def gcc_file(compiler: str, name: str) -> str:
    """The runtime library `name` of the compiler that built the objects."""
    out = subprocess.run([compiler, f"-print-file-name={name}"], capture_output=True, text=True)
    path = out.stdout.strip()
    if out.returncode != 0 or not os.path.isabs(path) or not os.path.exists(path):
        fail(f"`{compiler} -print-file-name={name}` finds no {name} (got {path!r}); "
             "install the compiler's runtime (libstdc++6 / libgcc-s1), or build with "
             "EXT_LINK_GLIBC=system to use the system linker")
    return os.path.realpath(path)


def zig_target(glibc: str, compiler: str) -> str:
    """zig's target for what `compiler` compiled for (a cross g++ for aarch64
    too), at this glibc."""
    machine = subprocess.run([compiler, "-dumpmachine"], capture_output=True, text=True).stdout.split("-")[0]
    arch = ARCHS.get(machine.lower() or platform.machine().lower())
    if arch is None:
        fail(f"no zig target for {machine or platform.machine()}; build with EXT_LINK_GLIBC=system")
    if not re.fullmatch(r"2\.\d+", glibc):
        fail(f"EXT_LINK_GLIBC={glibc!r} is not a glibc version like 2.28 (or 'system')")
    return f"{arch}-linux-gnu.{glibc}"


def single_threaded_object(zig: list[str], target: str) -> Path:
    """The hidden __libc_single_threaded, compiled once per build directory
    (relative names only: the object is the same in every checkout)."""
    here = Path("glibc-link") / target
    here.mkdir(parents=True, exist_ok=True)
    src, obj = here / "single_threaded.c", here / "single_threaded.o"
    # -g0: zig cc emits line tables by default, and they hold the build
    # directory (two checkouts would give different bytes).
    flags = ["-target", target, "-O2", "-g0", "-fPIC"]
    # The flags are part of the source text: a change of either recompiles.
    text = SINGLE_THREADED + f"/* zig cc {' '.join(flags)} */\n"
    # Both libraries link in parallel (ninja -j): one compiles, the other waits.
    with open(here / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not obj.exists() or not src.exists() or src.read_text() != text:
            src.write_text(text)
            subprocess.run([*zig, *flags, "-c", src.name, "-o", obj.name + ".tmp"], cwd=here, check=True)
            os.replace(here / (obj.name + ".tmp"), obj)
    return obj


def rewrite(args: list[str]) -> list[str]:
    out = []
    for arg in args:
        if arg.startswith("-L") and not os.path.isdir(arg[2:]):
            continue  # (the toolkit's lib/stubs, often absent: zig warns about each)
        name = os.path.basename(arg)
        match = GLIBC_LIBS.fullmatch(name)
        if match and os.path.isabs(arg):
            out.append(f"-l{match[1]}")
        else:
            out.append(arg)
    return out


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        fail("usage: glibc_link.py GLIBC COMPILER LINK-ARGS...")
    glibc, compiler, args = argv[0], argv[1], argv[2:]
    if "-shared" not in args:
        return subprocess.run([compiler, *args]).returncode
    try:
        import ziglang  # noqa: F401  (only to say what is missing)
    except ImportError:
        fail(f"linking for glibc {glibc} needs zig: pip install ziglang into the build "
             f"environment ({sys.executable}), or build with EXT_LINK_GLIBC=system "
             "(the wheel then needs this machine's glibc)")
    target = zig_target(glibc, compiler)
    zig = [sys.executable, "-m", "ziglang", "cc"]
    # --strip-all: zig's driver does not pass CMakeLists' --discard-all on to
    # lld, which would keep nvcc's tmpxft_<pid> file symbols (a CUDA build
    # would differ every time) and the DWARF of zig's cached libc_nonshared
    # objects (the directory of the first link ever). Loading needs .dynsym only.
    cmd = [*zig, "-target", target, *rewrite(args), str(single_threaded_object(zig, target)),
           gcc_file(compiler, "libstdc++.so.6"), gcc_file(compiler, "libgcc_s.so.1"), "-lm",
           "-Wl,--strip-all"]
    return subprocess.run(cmd).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
