"""`test`: two suites, each of which must collect something.

* product (tests/, what a wheel's user runs and cibuildwheel runs in its
  container): against each current wheel, installed into a venv per Python x
  torch (build/venvs/), run from a temporary directory outside the source
  tree so that the installed wheel is what gets imported. The first
  combination runs the whole suite, the others `-m "not slow"`.
* factory (ci/tests/, and addons/ where this machine's add-ons are): once,
  from the factory's own environment, on the first wheel.

The venv for the factory's own Python and torch reads torch and the test
requirements from the factory's .venv (a .pth line) instead of a second
copy of them (GBs); the others install theirs once and are reused while
their interpreter, torch and requirements match. Tests that change this
machine (apt-get, /etc, container images) run only with --system
(EXT_SYSTEM_TESTS=1), and say so when skipped.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from .project import FactoryError, Project, log, run, step
from .wheels import select

SUITES = ("product", "factory")
FACTORY_TESTS = ("ci/tests", "addons")


@dataclass
class Python:
    tag: str   # cp311
    path: str


def probe(path: str) -> str | None:
    """cp3XY if `path` runs as CPython 3.XY, else None."""
    try:
        out = subprocess.run([path, "-c", "import platform, sys; print(platform.python_implementation(),"
                              " '%d%d' % sys.version_info[:2])"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    parts = out.stdout.split()
    return f"cp{parts[1]}" if out.returncode == 0 and len(parts) == 2 and parts[0] == "CPython" else None


def find_pythons(spec: str | None) -> tuple[list[Python], list[str]]:
    """(pythons, why others were skipped). spec: None (the factory's own),
    'all' (CPython 3.10-3.14 found here) or a comma list of 3.X / paths."""
    if not spec:
        base = str(Path(getattr(sys, "_base_executable", None) or sys.executable).resolve())
        return [Python(f"cp3{sys.version_info[1]}", base)], []
    wanted = [f"3.{m}" for m in range(10, 15)] if spec == "all" else [s.strip() for s in spec.split(",")]
    found, skipped = [], []
    pyenv = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    for item in filter(None, wanted):
        if "/" in item:
            paths = [item]
        elif re.fullmatch(r"3\.\d+", item):
            paths = [*sorted(glob.glob(f"{pyenv}/versions/{item}.*/bin/python{item}"), reverse=True),
                     f"/usr/local/bin/python{item}", f"/usr/bin/python{item}", shutil.which(f"python{item}") or ""]
        else:
            raise FactoryError(f"--pythons: {item!r} is not 3.X, a path or 'all'")
        tagged = [(probe(p), p) for p in dict.fromkeys(paths) if p and os.path.exists(p)]
        hit = next(((t, p) for t, p in tagged if t and ("/" in item or t == "cp" + item.replace(".", ""))), None)
        (found.append(Python(*hit)) if hit else skipped.append(f"{item}: no working interpreter found"))
    return found, skipped


def torch_location(py: Python, version: str) -> str | None:
    """Where pip would take torch==version for this Python from (a dry run:
    metadata only); None if it cannot."""
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps", "--ignore-installed",
             "--disable-pip-version-check", "-q", "--only-binary=:all:", "--target", tmp,
             "--python-version", f"3.{py.tag[3:]}", "--report", "-", f"torch=={version}"],
            capture_output=True, text=True, timeout=300)
    try:
        return json.loads(out.stdout)["install"][0]["download_info"]["url"] if out.returncode == 0 else None
    except (ValueError, KeyError, IndexError):
        return None


def make_venv(proj: Project, py: Python, torch: str) -> Path:
    """A venv with torch==`torch` and the test requirements (see the module
    docstring for where they come from); the wheel is installed per run."""
    venv = proj.build_dir / "venvs" / f"{py.tag}-torch{torch}"
    shared = (torch == metadata.version("torch").split("+")[0]
              and Path(py.path).resolve() == Path(getattr(sys, "_base_executable", sys.executable)).resolve())
    # (resolved: a project made from this one may reach .venv through a link)
    factory_site = str(Path(sysconfig.get_paths()["purelib"]).resolve())
    want = json.dumps({"python": py.path, "torch": torch, "test": list(proj.test_requires),
                       "shared": shared and factory_site})
    stamp = venv / ".factory-stamp"
    if stamp.is_file() and stamp.read_text() == want and (venv / "bin" / "python").exists():
        return venv
    shutil.rmtree(venv, ignore_errors=True)
    log(f"making the test venv {venv}" + (" (torch and the test requirements from the factory's "
                                          ".venv)" if shared else f" (installing torch {torch})"))
    # shared: no pip or setuptools of its own, which would shadow the factory's
    run([py.path, "-m", "venv", *(["--without-pip"] if shared else []), str(venv)])
    python = str(venv / "bin" / "python")
    if shared:
        site = run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                   capture=True, stream=False, echo=False).output.strip()
        Path(site, "factory-site.pth").write_text(factory_site + "\n")
    else:
        pip = [python, "-m", "pip", "install", "--disable-pip-version-check", "-qq"]
        run([*pip, f"torch=={torch}"])
        run([*pip, *proj.test_requires])
    stamp.write_text(want)
    return venv


def pytest_verdict(res) -> tuple[bool, str]:
    if res.returncode == 5:
        return False, "pytest collected no tests (exit 5)"
    found = [ln.strip("= ") for ln in res.output.splitlines()
             if re.match(r"=*\s*(no tests ran|\d+ (passed|failed|errors?|skipped)).* in [\d.]+s", ln)]
    return res.returncode == 0, f"{found[-1] if found else 'no summary'} (exit {res.returncode})"


def install_wheel(venv: Path, wheel: Path) -> None:
    run([str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-qq",
         "--no-deps", "--force-reinstall", str(wheel)])


def product_suite(proj: Project, venv: Path, wheel: Path, full: bool, extra: list[str]) -> tuple[bool, str]:
    install_wheel(venv, wheel)
    cmd = [str(venv / "bin" / "python"), "-m", "pytest", str(proj.tests_dir), "-p", "no:cacheprovider",
           "-ra", *([] if full else ["-m", "not slow"]), *extra]
    with tempfile.TemporaryDirectory(prefix=f"{proj.import_name}-tests-") as tmp:
        # the checkout, for the tests that build from it (the C++ example)
        res = run(cmd, cwd=Path(tmp), env={f"{proj.env_prefix}_REPO": str(proj.root)}, check=False, capture=True)
    return pytest_verdict(res)


def factory_suite(proj: Project, venv: Path, wheel: Path, extra: list[str]) -> tuple[bool, str]:
    paths = [str(proj.root / d) for d in FACTORY_TESTS if (proj.root / d).is_dir()]
    install_wheel(venv, wheel)  # the one the factory's tests take
    env = {f"{proj.env_prefix}_WHEEL": str(wheel), f"{proj.env_prefix}_TEST_PYTHON": str(venv / "bin" / "python")}
    res = run([sys.executable, "-m", "pytest", *paths, "-p", "no:cacheprovider", "-ra", *extra],
              cwd=proj.root, env=env, check=False, capture=True)
    return pytest_verdict(res)


def test(proj: Project, args) -> bool:
    """args: --wheel, --torch, --pythons, --allow-download, --suites, --system,
    and the pytest arguments after `--` (pytest_args)."""
    step("test")
    chosen = [s.strip() for s in args.suites.split(",") if s.strip()]
    if not chosen or set(chosen) - set(SUITES):
        raise FactoryError(f"--suites: {args.suites!r}; choose from {', '.join(SUITES)}")
    if args.system:
        os.environ[f"{proj.env_prefix}_SYSTEM_TESTS"] = "1"
    wheels = select(proj, proj.wheelhouse, args.wheel) or select(proj, proj.dist_dir)
    if not wheels:
        raise FactoryError(f"no {proj.name} {proj.version} wheel built from the current sources in "
                           f"{proj.wheelhouse} or {proj.dist_dir}: run ./ci/factory build (and repair)")
    torches = args.torch or ",".join([metadata.version("torch").split("+")[0], *proj.also_test_torch])
    versions = [t.strip() for t in torches.split(",") if t.strip()]
    pythons, skipped = find_pythons(args.pythons)
    rows = [("SKIP", py, "*", "*", 0.0) for py in skipped]
    combos = []
    for py in pythons:
        for version in versions:
            where = torch_location(py, version)
            local = bool(where) and where.startswith("file:")
            first = version == versions[0] and args.pythons is None
            if where is None:
                rows.append(("SKIP", py.tag, version, f"pip finds no torch=={version} for {py.tag}", 0.0))
            elif not (local or first or args.allow_download):
                rows.append(("SKIP", py.tag, version, f"torch {version} for {py.tag} is not on local disk "
                             "(GBs to download); --allow-download to test anyway", 0.0))
            else:
                combos.append((py, version))
    if not combos:
        raise FactoryError("no Python x torch combination to test: " + "; ".join(str(r[3]) for r in rows))
    runs = [(w, py, v, i == 0) for i, (w, (py, v)) in
            enumerate((w, c) for w in wheels for c in combos)] if "product" in chosen else []
    for wheel, py, version, full in runs:
        log(f"product suite: {wheel.name} on {py.tag} with torch {version}" + ("" if full else ' (-m "not slow")'))
        start = time.monotonic()
        try:
            ok, detail = product_suite(proj, make_venv(proj, py, version), wheel, full, args.pytest_args)
        except FactoryError as e:
            ok, detail = False, str(e)
        rows.append(("PASS" if ok else "FAIL", py.tag, version, f"{wheel.name}: {detail}", time.monotonic() - start))
    if "factory" in chosen:
        py, version = combos[0]
        log(f"factory suite ({', '.join(FACTORY_TESTS)}) with {sys.executable}, on {wheels[0].name}")
        start = time.monotonic()
        try:
            ok, detail = factory_suite(proj, make_venv(proj, py, version), wheels[0], args.pytest_args)
        except FactoryError as e:
            ok, detail = False, str(e)
        rows.append(("PASS" if ok else "FAIL", py.tag, version, f"factory tests: {detail}", time.monotonic() - start))
    print()
    for verdict, tag, version, detail, seconds in rows:
        print(f"  {verdict:4}  {tag:6} torch {version:8} {f'{seconds:6.0f} s' if seconds else ' ' * 8}  {detail}")
    failed = sum(r[0] == "FAIL" for r in rows)
    log(f"test: {sum(r[0] == 'PASS' for r in rows)} passed, {failed} failed, "
        f"{sum(r[0] == 'SKIP' for r in rows)} skipped (combinations)")
    return not failed
