"""The factory's shared core: where the project is, what it is called (read
from pyproject.toml, nowhere else), and how commands are run and logged.

Every verb module takes a `Project` and uses `run()` / `log()` from here.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import extconfig

DEFAULT_ROOT = Path(__file__).resolve().parent.parent


class FactoryError(Exception):
    """A failure with a message meant for the user (no traceback)."""


# ---------------------------------------------------------------------------
# Logging and running commands
# ---------------------------------------------------------------------------

_SECRETS: set[str] = set()


def add_secret(value: str | None) -> None:
    """Never print `value` (a password, token): scrub it from every line that
    log() or run() prints or returns. Defence in depth: the factory never
    passes secrets on a command line in the first place."""
    if value and len(value) >= 3:
        _SECRETS.add(value)


def scrub(text: str) -> str:
    for secret in sorted(_SECRETS, key=len, reverse=True):
        text = text.replace(secret, "********")
    return text


def log(msg: str) -> None:
    print(scrub(f"[factory] {msg}"), flush=True)


def step(title: str) -> None:
    print(scrub(f"\n[factory] === {title} ==="), flush=True)


@dataclass
class Result:
    returncode: int
    output: str  # stdout+stderr when captured, else ""
    seconds: float


def run(cmd: Sequence[str | os.PathLike], *, env: Mapping[str, str] | None = None,
        cwd: Path | None = None, check: bool = True, capture: bool = False,
        echo: bool = True, stream: bool = True, timeout: float | None = None) -> Result:
    """Run `cmd`, echoing it first as `$ KEY=value ... cmd` (only the extra
    environment given in `env` is shown). Output goes straight to the
    terminal, or, with capture=True, is collected (stdout+stderr) and, with
    stream=True, also printed line by line as it arrives. Every printed or
    returned line is scrubbed of registered secrets. check=True raises
    FactoryError on a non-zero exit."""
    argv = [os.fspath(c) for c in cmd]
    for secret in _SECRETS:
        if any(secret in a for a in argv):  # a bug, never a user error
            raise FactoryError("refusing to put a secret on a command line")
    full_env = dict(os.environ)
    shown = ""
    if env:
        full_env.update(env)
        shown = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items()) + " "
    if echo:
        where = f"(in {cwd}) " if cwd else ""
        print(scrub(f"[factory] $ {where}{shown}{shlex.join(argv)}"), flush=True)
    start = time.monotonic()
    if not capture:
        try:
            rc = subprocess.run(argv, env=full_env, cwd=cwd, timeout=timeout).returncode
        except FileNotFoundError as e:
            raise FactoryError(f"{argv[0]}: not found ({e})") from None
        out = ""
    else:
        lines = []
        try:
            proc = subprocess.Popen(argv, env=full_env, cwd=cwd, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True, errors="replace")
        except FileNotFoundError as e:
            raise FactoryError(f"{argv[0]}: not found ({e})") from None
        assert proc.stdout is not None
        deadline = None if timeout is None else start + timeout
        for line in proc.stdout:
            line = scrub(line)
            lines.append(line)
            if stream:
                print(line, end="", flush=True)
            if deadline and time.monotonic() > deadline:
                proc.kill()
        rc = proc.wait()
        out = "".join(lines)
    seconds = time.monotonic() - start
    if check and rc != 0:
        tail = "" if (not capture or stream) else "\n" + "\n".join(out.splitlines()[-30:])
        raise FactoryError(f"command failed (exit {rc}): {scrub(shlex.join(argv))}{tail}")
    return Result(rc, out, seconds)


def human_size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


# ---------------------------------------------------------------------------
# The project
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Project:
    """Where the project is, and its facts (extconfig.Config: names, version...)."""
    root: Path
    config: extconfig.Config

    def __getattr__(self, key):  # proj.name, proj.version, proj.wheel_name, ...
        if key == "config":  # not set yet (copy, unpickle): no recursion
            raise AttributeError(key)
        return getattr(self.config, key)

    env_prefix = extconfig.ENV_PREFIX

    @property
    def own_libraries(self) -> tuple[str, ...]:
        return self.config.libraries

    dist_dir = property(lambda self: self.root / "dist")
    wheelhouse = property(lambda self: self.root / "wheelhouse")
    index_dir = property(lambda self: self.root / "index")
    build_dir = property(lambda self: self.root / "build")
    tests_dir = property(lambda self: self.root / "tests")


def load(root: Path | None = None) -> Project:
    root = Path(root or DEFAULT_ROOT).resolve()
    try:
        return Project(root, extconfig.load(root))
    except extconfig.ConfigError as e:
        raise FactoryError(f"{e} (-C/--root must name the repository root)") from None


def source_date_epoch(proj: Project) -> str:
    """SOURCE_DATE_EPOCH for reproducible builds: the caller's if set, else
    the last commit's time, else 1980-01-01 (the oldest a zip can store)."""
    if os.environ.get("SOURCE_DATE_EPOCH"):
        return os.environ["SOURCE_DATE_EPOCH"]
    try:
        out = subprocess.run(["git", "log", "-1", "--format=%ct"], cwd=proj.root,
                             capture_output=True, text=True, check=True).stdout.strip()
        if out:
            return out
    except (OSError, subprocess.CalledProcessError):
        pass
    return "315532800"


def addons(proj: Project):
    """This machine's add-ons (addons/ beside ci/: optional, deletable), as a
    module of hooks, or None where the folder is gone."""
    import importlib.util

    init = proj.root / "addons" / "__init__.py"
    if not init.is_file():
        return None
    spec = importlib.util.spec_from_file_location("addons", init,
                                                  submodule_search_locations=[str(init.parent)])
    module = importlib.util.module_from_spec(spec)
    sys.modules["addons"] = module
    spec.loader.exec_module(module)
    return module


def tool(name: str) -> str:
    """A console script of the factory's own environment (auditwheel, twine...)."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        raise FactoryError(f"{path} is missing: run ./ci/factory, which installs ci/requirements.txt")
    return str(path)


def torch_lib_dir() -> Path:
    """lib/ of the torch installed beside the factory (.venv), found without
    importing torch."""
    import importlib.util

    spec = importlib.util.find_spec("torch")
    if spec is None or spec.origin is None:
        raise FactoryError("torch is not installed in the factory's environment: run ./ci/factory "
                           "(it installs ci/requirements.txt)")
    return Path(spec.origin).parent / "lib"



def copy_worktree(proj: Project, dst: Path, with_git: bool = False) -> Path:
    """Copy the working tree as it is (tracked and untracked files that git
    does not ignore) to `dst`: a scratch checkout that includes current work
    without the GBs of .venv and build/. with_git: .git too (setup.py records
    the commit and whether the tree is dirty), for cibuildwheel, which copies
    its whole working directory into the container."""
    import shutil

    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=proj.root, capture_output=True, check=True).stdout.decode()
    for rel in filter(None, listed.split("\0")):
        src = proj.root / rel
        if src.is_symlink():  # the template's links to the factory stay links
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            (dst / rel).symlink_to(os.readlink(src))
        elif src.is_file():
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / rel)
    if with_git and (proj.root / ".git").is_dir():
        shutil.copytree(proj.root / ".git", dst / ".git", symlinks=True)
    return dst
