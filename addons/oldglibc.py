"""Load a wheel's libraries the way a user's old Linux would: under an older
glibc's dynamic loader (Debian bullseye's, glibc 2.31, older than this
machine's), after torch's own libraries, with RTLD_NOW so every symbol and
symbol version is resolved. A library linked against a newer glibc fails
here exactly as on that machine ("version `GLIBC_2.34' not found").

    .venv/bin/python -m addons.oldglibc root                 the glibc tree (cached), its path
    .venv/bin/python -m addons.oldglibc check WHEEL [--torch DIR]

The tree is bullseye's libc6, libstdc++6 and libgcc-s1, unpacked (not
installed) in build/oldglibc/bullseye, fetched once from the Debian mirror of
this machine's apt sources with a private apt state (debian.Apt): nothing
changes outside the repository. Nothing runs inside it: its ld.so runs a small dlopen driver
(built with zig for glibc 2.17) with the tree's libc, libstdc++ and libgcc_s
first on the library path; torch comes from the given torch package
directory (default: the factory's).

Exit status of the CLI: 0 loaded, 1 failed to load, 3 cannot be set up here
(no apt-get): tests skip on 3.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ci import project
from ci.project import FactoryError, Project, log, run

SUITE = "bullseye"
CANNOT = 3  # exit status: this machine cannot build the tree
MULTIARCH = {"x86_64": ("x86_64-linux-gnu", "ld-linux-x86-64.so.2"),
             "aarch64": ("aarch64-linux-gnu", "ld-linux-aarch64.so.1")}
DRIVER = r"""
/* Written by addons/oldglibc.py: dlopen each argument in order (RTLD_NOW |
   RTLD_GLOBAL, as torch.ops.load_library does), say which glibc ran it. */
#include <dlfcn.h>
#include <gnu/libc-version.h>
#include <stdio.h>
int main(int argc, char **argv) {
    printf("glibc %s\n", gnu_get_libc_version());
    for (int i = 1; i < argc; i++) {
        if (!dlopen(argv[i], RTLD_NOW | RTLD_GLOBAL)) {
            printf("FAILED %s: %s\n", argv[i], dlerror());
            return 1;
        }
        printf("loaded %s\n", argv[i]);
    }
    return 0;
}
"""


class CannotHere(FactoryError):
    """This machine cannot make the tree (a reason to skip, not a failure)."""


@dataclass
class Outcome:
    ok: bool
    glibc: str     # the glibc version the driver ran on
    output: str


def arch() -> tuple[str, str]:
    machine = platform.machine()
    if machine not in MULTIARCH:
        raise CannotHere(f"no loader layout known for {machine}")
    return MULTIARCH[machine]


def tree_dir(proj: Project) -> Path:
    return proj.build_dir / "oldglibc" / SUITE


#: The packages whose files a program loading a wheel needs: the loader and
#: libc, libstdc++ and libgcc_s (torch's libraries NEED them).
PACKAGES = ("libc6", "libstdc++6", "libgcc-s1")


def ensure_tree(proj: Project) -> Path:
    """build/oldglibc/bullseye: the files of bullseye's libc6, libstdc++6 and
    libgcc-s1, downloaded with a private apt state and unpacked, made once (a
    marker says it is complete). Nothing is installed into this system."""
    root = tree_dir(proj)
    marker = root / ".complete"
    if marker.exists():
        return root
    if not shutil.which("apt-get") or not shutil.which("dpkg-deb"):
        raise CannotHere("needs apt-get and dpkg-deb (a Debian-like host) to fetch bullseye's libc")
    from .debian import Apt, unpack

    if root.exists():
        shutil.rmtree(root)  # an interrupted earlier attempt
    log(f"fetching Debian {SUITE}'s glibc 2.31 ({', '.join(PACKAGES)}) into {root}, once")
    apt = Apt(proj, SUITE)
    apt.setup()
    for deb in apt.download(PACKAGES, proj.build_dir / "oldglibc" / "debs"):
        unpack(deb, root)
    marker.write_text(f"{SUITE}: {' '.join(PACKAGES)}\n")
    return root


def loader(root: Path) -> Path:
    triplet, name = arch()
    for d in (root / "lib" / triplet, root / "usr" / "lib" / triplet):
        if (d / name).exists():
            return d / name
    raise FactoryError(f"no {name} in {root}: the tree is incomplete; delete it and run again")


def driver(proj: Project) -> Path:
    """The dlopen driver, built for glibc 2.17 with zig (cached by source)."""
    digest = hashlib.sha256(DRIVER.encode()).hexdigest()[:12]
    out = proj.build_dir / "oldglibc" / f"dlopen-check-{digest}"
    if not out.exists():
        src = out.with_suffix(".c")
        src.parent.mkdir(parents=True, exist_ok=True)
        src.write_text(DRIVER)
        target = f"{platform.machine()}-linux-gnu.2.17"
        from . import ensure_zig

        ensure_zig()
        run([sys.executable, "-m", "ziglang", "cc", "-target", target, "-O2", str(src),
             "-o", str(out) + ".tmp", "-ldl"])
        os.replace(str(out) + ".tmp", out)
    return out


def load_under(proj: Project, root: Path, libraries: list[Path]) -> Outcome:
    """dlopen `libraries` in order under the tree's loader and libc."""
    triplet, _ = arch()
    path = f"{root}/lib/{triplet}:{root}/usr/lib/{triplet}"
    cmd = [str(loader(root)), "--library-path", path, str(driver(proj)), *map(str, libraries)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    text = res.stdout + res.stderr
    match = re.search(r"^glibc (\S+)", text, re.M)
    return Outcome(res.returncode == 0, match[1] if match else "?", text)


def wheel_libraries(proj: Project, wheel: Path, torch_dir: Path, dest: Path) -> list[Path]:
    """The load order for `wheel`: torch's libc10 and libtorch_cpu, the
    wheel's CPU library, then (when both exist) libtorch_cuda and the wheel's
    CUDA library. The wheel's libraries are unpacked into dest/<pkg>/ beside
    a dest/torch link, so their RUNPATH ($ORIGIN/../torch/lib) finds torch
    exactly as in site-packages."""
    pkg = dest / proj.import_name
    pkg.mkdir(parents=True, exist_ok=True)
    (dest / "torch").symlink_to(torch_dir.resolve(), target_is_directory=True)
    with zipfile.ZipFile(wheel) as zf:
        for lib in proj.own_libraries:
            name = f"{proj.import_name}/{lib}"
            if name in zf.namelist():
                (pkg / lib).write_bytes(zf.read(name))
    cpu, cuda = (pkg / lib for lib in proj.own_libraries)
    if not cpu.exists():
        raise FactoryError(f"{wheel.name} has no {proj.import_name}/{proj.own_libraries[0]}")
    torch_lib = dest / "torch" / "lib"
    order = [torch_lib / "libc10.so", torch_lib / "libtorch_cpu.so", cpu]
    if cuda.exists() and (torch_lib / "libtorch_cuda.so").exists():
        order += [torch_lib / "libtorch_cuda.so", cuda]
    return order


def check(proj: Project, wheel: Path, torch_dir: Path) -> Outcome:
    root = ensure_tree(proj)
    with tempfile.TemporaryDirectory(prefix="oldglibc-") as tmp:
        libs = wheel_libraries(proj, wheel, torch_dir, Path(tmp))
        outcome = load_under(proj, root, libs)
    return outcome


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m addons.oldglibc", description=__doc__.split("\n\n")[0])
    p.add_argument("what", choices=("root", "check"))
    p.add_argument("wheel", nargs="?", type=Path)
    p.add_argument("--torch", type=Path, help="torch package directory (default: the factory's)")
    args = p.parse_args(argv)
    proj = project.load()
    try:
        if args.what == "root":
            print(ensure_tree(proj))
            return 0
        if not args.wheel:
            p.error("check needs a WHEEL")
        torch_dir = args.torch or project.torch_lib_dir().parent
        outcome = check(proj, args.wheel, torch_dir)
    except CannotHere as e:
        print(f"[factory] cannot build the glibc {SUITE} tree here: {e}", file=sys.stderr)
        return CANNOT
    except FactoryError as e:
        print(f"[factory] error: {e}", file=sys.stderr)
        return 2
    print(outcome.output, end="")
    log(f"{args.wheel.name}: {'loads' if outcome.ok else 'does NOT load'} under glibc {outcome.glibc}")
    return 0 if outcome.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
