"""`test`: two suites, each of which must collect something.

* product (tests/, what a wheel's user runs and cibuildwheel runs in its
  container): against each built wheel, installed into virtual environments
  (build/venvs/<python>-torch<version>/), one per Python x torch combination,
  run from a temporary directory outside the source tree so that the installed
  wheel is what gets imported. The first combination runs the whole suite; the
  others run `-m "not slow"`.
* factory (ci/tests/, and the tests of this machine's tools/): once, from the
  factory's own environment, on the first wheel and the venv it was tested in.

A venv is reused while its interpreter, torch and test requirements match
(make_venv's stamp): a second run skips the torch install (measured: 87 s ->
8 s for the cp311 x torch 2.14.1 venv). Not nox: a nox session per Python x
torch would still need this module's offline checks (is torch X for Python Y
on local disk?), its venv reuse by torch version and its two-suite verdicts,
so it would add a dependency without removing code.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .project import FactoryError, Project, log, run, step
from .wheels import select

MINORS = range(10, 15)  # CPython 3.10 .. 3.14
SUITES = ("product", "factory")
# The factory's own tests, and those of this machine's helpers (tools/*/tests).
FACTORY_TESTS = ("ci/tests", "tools")


@dataclass
class Python:
    tag: str   # cp311
    path: str


@dataclass
class Outcome:
    wheel: str
    python: str
    torch: str
    verdict: str    # PASS / FAIL / SKIP
    detail: str
    seconds: float = 0.0


def default_torch(proj: Project) -> str:
    """The factory's torch (installed at ci/constraints.txt's pin: what the
    wheel is built against), then pyproject's [tool.ext] also-test-torch
    versions (tested only where they install from local disk, unless
    --allow-download)."""
    from importlib import metadata

    return ",".join([metadata.version("torch").split("+")[0], *proj.also_test_torch])


def probe(path: str) -> str | None:
    """cp3XY if `path` runs as CPython 3.XY, else None."""
    try:
        out = subprocess.run([path, "-c", "import platform, sys; print(platform.python_implementation(),"
                              " '%d%d' % sys.version_info[:2])"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    parts = out.stdout.split()
    return f"cp{parts[1]}" if out.returncode == 0 and len(parts) == 2 and parts[0] == "CPython" else None


def this_python() -> Python:
    base = getattr(sys, "_base_executable", None) or sys.executable
    path = str(Path(base).resolve())
    return Python(probe(path) or f"cp{sys.version_info[0]}{sys.version_info[1]}", path)


def candidates(minor: int) -> list[str]:
    name = f"python3.{minor}"
    pyenv = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    paths = sorted(glob.glob(f"{pyenv}/versions/3.{minor}.*/bin/{name}"), reverse=True)
    paths += [f"/usr/local/bin/{name}", f"/usr/bin/{name}", shutil.which(name) or ""]
    return [p for p in dict.fromkeys(paths) if p and os.path.exists(p)]


def find_pythons(spec: str | None) -> tuple[list[Python], list[tuple[str, str]]]:
    """(pythons to use, [(python, why skipped)]). spec: None (the factory's
    own), 'all' (CPython 3.10-3.14 found here), or a comma list of versions
    (3.12) or interpreter paths."""
    if not spec:
        return [this_python()], []
    wanted = [f"3.{m}" for m in MINORS] if spec == "all" else [s.strip() for s in spec.split(",") if s.strip()]
    found, skipped = [], []
    for item in wanted:
        if "/" in item:
            tag = probe(item)
            (found.append(Python(tag, item)) if tag else skipped.append((item, "does not run as CPython")))
            continue
        minor = int(item.split(".")[1]) if re.fullmatch(r"3\.\d+", item) else None
        if minor is None:
            raise FactoryError(f"--pythons: {item!r} is not 3.X, a path or 'all'")
        paths = [p for p in candidates(minor) if probe(p) == f"cp3{minor}"]
        if paths:
            found.append(Python(f"cp3{minor}", paths[0]))
        else:
            skipped.append((f"cp3{minor}", f"no working python3.{minor} (looked on PATH, in pyenv, "
                                           "/usr/bin, /usr/local/bin)"))
    return found, skipped


def torch_location(py: Python, version: str) -> str | None:
    """Where pip would take torch==version for this Python from (a URL), by
    a dry run (metadata only, nothing is downloaded); None if unavailable."""
    minor = py.tag[3:]
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps", "--ignore-installed",
             "--disable-pip-version-check", "-q", "--only-binary=:all:", "--target", tmp,
             "--python-version", f"3.{minor}", "--report", "-", f"torch=={version}"],
            capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        return None
    try:
        return json.loads(out.stdout)["install"][0]["download_info"]["url"]
    except (ValueError, KeyError, IndexError):
        return None


def make_venv(proj: Project, py: Python, torch: str) -> Path:
    """A venv with torch==`torch` and the test requirements. One made earlier
    for the same interpreter, torch and requirements is reused (installing
    torch takes 45-120 s); the wheel itself is force-reinstalled per run."""
    venv = proj.build_dir / "venvs" / f"{py.tag}-torch{torch}"
    stamp = venv / ".factory-stamp"
    want = json.dumps({"python": str(py.path), "torch": torch, "test": list(proj.test_requires)})
    if stamp.is_file() and stamp.read_text() == want and (venv / "bin" / "python").exists():
        log(f"reusing {venv} (torch {torch} and the test requirements are installed)")
        return venv
    if venv.exists():
        shutil.rmtree(venv)
    venv.parent.mkdir(parents=True, exist_ok=True)
    run([py.path, "-m", "venv", str(venv)])
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-qq"]
    res = run([*pip, f"torch=={torch}"])
    log(f"torch {torch} installed in {res.seconds:.0f} s")
    run([*pip, *proj.test_requires])
    stamp.write_text(want)
    return venv


def pytest_summary(output: str) -> str:
    pattern = r"=*\s*(no tests ran|\d+ (passed|failed|error|errors|skipped|deselected|xfailed|xpassed)).* in [\d.]+s"
    lines = [ln.strip("= ").strip() for ln in output.splitlines() if re.match(pattern, ln)]
    return lines[-1] if lines else ""


def install_wheel(venv: Path, wheel: Path) -> None:
    run([str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-qq",
         "--no-deps", "--force-reinstall", str(wheel)])


def verdict(res, summary: str) -> tuple[bool, str]:
    if res.returncode == 5:
        return False, "pytest collected no tests (exit 5)"
    return res.returncode == 0, f"{summary or 'no summary'} (exit {res.returncode})"


def run_factory_suite(proj: Project, venv: Path, wheel: Path, extra: list[str]) -> tuple[bool, str]:
    """ci/tests (and tools/) with the factory's interpreter, from the repository."""
    paths = [str(proj.root / d) for d in FACTORY_TESTS if (proj.root / d).is_dir()]
    if not paths:
        return False, f"no factory tests in {proj.root} ({', '.join(FACTORY_TESTS)})"
    cmd = [sys.executable, "-m", "pytest", *paths, "-p", "no:cacheprovider", "-ra", *extra]
    env = {f"{proj.env_prefix}_WHEEL": str(wheel), f"{proj.env_prefix}_TEST_PYTHON": str(venv / "bin" / "python")}
    res = run(cmd, cwd=proj.root, env=env, check=False, capture=True)
    return verdict(res, pytest_summary(res.output))


def run_suite(proj: Project, venv: Path, wheel: Path, full: bool, extra: list[str]) -> tuple[bool, str]:
    python = str(venv / "bin" / "python")
    install_wheel(venv, wheel)
    cmd = [python, "-m", "pytest", str(proj.tests_dir), "-p", "no:cacheprovider", "-ra"]
    if not full:
        cmd += ["-m", "not slow"]
    cmd += extra
    # the checkout, for the C++ example (tests/test_cpp.py)
    env = {f"{proj.env_prefix}_REPO": str(proj.root)}
    with tempfile.TemporaryDirectory(prefix=f"{proj.import_name}-tests-") as tmp:
        res = run(cmd, cwd=Path(tmp), env=env, check=False, capture=True)
    return verdict(res, pytest_summary(res.output))


def test(proj: Project, args) -> bool:
    """args: --wheel, --torch, --pythons, --allow-download, --suites, and the
    pytest arguments after `--` (pytest_args)."""
    step("test")
    explicit, torches, pythons, allow_download, extra, suites = (
        args.wheel, args.torch, args.pythons, args.allow_download, args.pytest_args, args.suites)
    chosen = [s.strip() for s in suites.split(",") if s.strip()]
    if not chosen or set(chosen) - set(SUITES):
        raise FactoryError(f"--suites: {suites!r}; choose from {', '.join(SUITES)}")
    wheels = select(proj, proj.wheelhouse, explicit) or select(proj, proj.dist_dir)
    if not wheels:
        raise FactoryError(f"no {proj.name} {proj.version} wheels in {proj.wheelhouse} or "
                           f"{proj.dist_dir}: run `build` (and `repair`) first")
    versions = [t.strip() for t in (torches or default_torch(proj)).split(",") if t.strip()]
    found, skipped = find_pythons(pythons)
    outcomes = [Outcome("*", name, "*", "SKIP", why) for name, why in skipped]
    combos = []
    for py in found:
        for version in versions:
            where = torch_location(py, version)
            if where is None:
                outcomes.append(Outcome("*", py.tag, version, "SKIP", f"pip finds no torch=={version} for {py.tag}"))
            elif (not where.startswith("file:") and (pythons == "all" or version != versions[0])
                  and not allow_download):
                outcomes.append(Outcome("*", py.tag, version, "SKIP",
                                        f"torch {version} for {py.tag} is not on local disk (pip would download "
                                        "it and its CUDA libraries, GBs); --allow-download to test anyway"))
            else:
                if not where.startswith("file:"):
                    log(f"torch {version} for {py.tag} will be downloaded from the package index")
                combos.append((py, version))
    if not combos:
        raise FactoryError("no Python x torch combination to test: " + "; ".join(o.detail for o in outcomes))
    venvs: dict[tuple[str, str], Path] = {}
    first = True
    for wheel in wheels if "product" in chosen else []:
        for py, version in combos:
            log(f"testing {wheel.name} on {py.tag} ({py.path}) with torch {version}"
                + ("" if first else ' (-m "not slow")'))
            start = time.monotonic()
            try:
                if (py.tag, version) not in venvs:
                    venvs[(py.tag, version)] = make_venv(proj, py, version)
                ok, detail = run_suite(proj, venvs[(py.tag, version)], wheel, first, extra)
            except FactoryError as e:
                ok, detail = False, str(e)
            outcomes.append(Outcome(wheel.name, py.tag, version, "PASS" if ok else "FAIL", detail,
                                    time.monotonic() - start))
            first = False
    if "factory" in chosen:
        py, version = combos[0]
        log(f"factory tests ({', '.join(FACTORY_TESTS)}) with {sys.executable}, on {wheels[0].name}")
        start = time.monotonic()
        try:
            if (py.tag, version) not in venvs:
                venvs[(py.tag, version)] = make_venv(proj, py, version)
            venv = venvs[(py.tag, version)]
            install_wheel(venv, wheels[0])  # the one the factory's tests take
            ok, detail = run_factory_suite(proj, venv, wheels[0], extra)
        except FactoryError as e:
            ok, detail = False, str(e)
        outcomes.append(Outcome(f"{wheels[0].name} (factory tests)", this_python().tag, version,
                                "PASS" if ok else "FAIL", detail, time.monotonic() - start))
    print()
    for o in outcomes:
        took = f"{o.seconds:6.0f} s" if o.seconds else " " * 8
        print(f"  {o.verdict:4}  {o.python:6} torch {o.torch:8} {took}  {o.wheel}: {o.detail}")
    failed = [o for o in outcomes if o.verdict == "FAIL"]
    log(f"test: {sum(o.verdict == 'PASS' for o in outcomes)} passed, {len(failed)} failed, "
        f"{sum(o.verdict == 'SKIP' for o in outcomes)} skipped (combinations)")
    return not failed
