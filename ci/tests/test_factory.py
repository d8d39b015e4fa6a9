"""The wheel factory (ci/) end to end, with real components: a real
pypiserver on loopback, real pip, real builds. Run by `./ci/factory test` from
the factory's environment, on the wheel it tested (EXT_WHEEL), which pip
installs into and runs from the test venv it was tested in (EXT_TEST_PYTHON).

Every test here is slow (builds wheels or starts servers).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest
from helpers import (CONFIG, FACTORY_PYTHON, IMPORT, NAME, REPO, SMOKE, TEST_PYTHON, WHEEL,
                     clean_env, copy_worktree, factory, is_template, out, pip, wheel_version)

# In the template repository these run on the project test_template.py
# generates from the working tree (its README's `./ci/factory test`): the
# same factory, building a small op instead of this repository's.
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(is_template(), reason="in the template repository they run in the "
                                 "project that test_template.py generates (its `./ci/factory test`)")]


# --------------------------------------------------------------------------
# A private index: pypiserver on 127.0.0.1 with upload auth
# --------------------------------------------------------------------------


class Server:
    def __init__(self, root: Path):
        self.packages = root / "packages"
        self.packages.mkdir()
        self.user = "ci-uploader"
        self.password = "pw-" + secrets.token_urlsafe(18)
        self.htpasswd = root / "htpasswd"
        # The password reaches passlib on stdin, never on a command line.
        subprocess.run([str(FACTORY_PYTHON), "-c",
                        "import sys; from passlib.apache import HtpasswdFile\n"
                        "user, pw = sys.stdin.read().split('\\n', 1)\n"
                        f"h = HtpasswdFile({str(self.htpasswd)!r}, new=True)\n"
                        "h.set_password(user, pw); h.save()"],
                       input=f"{self.user}\n{self.password}", text=True, check=True)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = root / "server.log"
        self.proc = None

    def start(self) -> None:
        pypi_server = FACTORY_PYTHON.parent / "pypi-server"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [str(pypi_server), "run", "-i", "127.0.0.1", "-p", str(self.port), "-P", str(self.htpasswd),
                 "-a", "update", "--disable-fallback", str(self.packages)],
                stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(self.url + "simple/", timeout=2):
                    return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"pypiserver did not start:\n{self.log.read_text()}")
                time.sleep(0.2)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def files(self) -> list[str]:
        return sorted(p.name for p in self.packages.iterdir())

    def publish(self, *args: str, password: str | None = None) -> subprocess.CompletedProcess:
        env = clean_env(TWINE_USERNAME=self.user, TWINE_PASSWORD=password or self.password)
        return factory("publish", "--wheel", str(WHEEL), "--repository-url", self.url, "--retries", "1",
                       *args, env=env)


@pytest.fixture
def server(tmp_path):
    srv = Server(tmp_path)
    srv.start()
    yield srv
    srv.stop()


def cmdlines() -> dict[int, bytes]:
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                found[int(entry)] = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                pass
    return found


def test_publish_then_pip_install_from_the_index_and_run(server, tmp_path):
    env = clean_env(TWINE_USERNAME=server.user, TWINE_PASSWORD=server.password)
    proc = subprocess.Popen([str(FACTORY_PYTHON), "-m", "ci", "publish", "--wheel", str(WHEEL),
                             "--repository-url", server.url], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    leaked, seen = set(), set()
    secret = server.password.encode()
    while proc.poll() is None:  # watch every process's argv while the upload runs
        for pid, cmd in cmdlines().items():
            seen.add(pid)
            if secret in cmd:
                leaked.add(cmd.replace(b"\0", b" ").decode(errors="replace"))
        time.sleep(0.01)
    stdout, stderr = proc.communicate()
    assert proc.returncode == 0, f"exit {proc.returncode}\n{stdout}\n{stderr}"
    assert not leaked, f"the password was on a command line: {leaked}"
    assert server.password not in stdout + stderr
    assert "twine" in stdout and "upload" in stdout  # the echoed command, without the password
    assert server.files() == [WHEEL.name]

    try:
        removed = pip("uninstall", "-y", NAME)
        assert removed.returncode == 0, out(removed)
        installed = pip("install", "--index-url", server.url + "simple/", f"{NAME}=={wheel_version()}")
        assert installed.returncode == 0, out(installed)
        assert f"127.0.0.1:{server.port}" in installed.stdout + installed.stderr, out(installed)
        assert "torch" not in re.findall(r"Downloading (\S+)", installed.stdout)
        run = subprocess.run([str(TEST_PYTHON), "-c", SMOKE.format(name=IMPORT)], cwd=tmp_path,
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 0 and run.stdout.startswith("ok"), out(run)
    finally:
        back = pip("install", "--no-deps", "--force-reinstall", str(WHEEL))
        assert back.returncode == 0, out(back)


def test_publish_wrong_password_is_refused_and_uploads_nothing(server):
    wrong = "wrong-" + secrets.token_urlsafe(12)
    res = server.publish(password=wrong)
    assert res.returncode != 0, out(res)
    assert "rejected the credentials" in res.stderr and "TWINE_PASSWORD" in res.stderr, out(res)
    assert "403" in res.stderr or "401" in res.stderr, out(res)
    assert wrong not in res.stdout + res.stderr
    assert server.files() == []


def test_publish_same_version_twice(server):
    first = server.publish()
    assert first.returncode == 0, out(first)
    again = server.publish()
    assert again.returncode != 0, out(again)
    assert "already exists" in again.stderr and "--skip-existing" in again.stderr, out(again)
    skipped = server.publish("--skip-existing")
    assert skipped.returncode == 0, out(skipped)
    assert server.files() == [WHEEL.name]


def test_publish_to_a_stopped_server_says_cannot_reach(server):
    server.stop()
    start = time.monotonic()
    res = server.publish()
    assert res.returncode != 0, out(res)
    assert "cannot reach" in res.stderr and server.url in res.stderr, out(res)
    assert "retry 1/1" in res.stdout, out(res)  # it was retried once, with backoff
    assert time.monotonic() - start < 60
    assert server.files() == []  # no partial file


# --------------------------------------------------------------------------
# index
# --------------------------------------------------------------------------


def test_index_serves_pip_download_with_hashes(tmp_path):
    res = factory("index", "--wheel", str(WHEEL), "--index-dir", str(tmp_path / "index"))
    assert res.returncode == 0, out(res)
    label = wheel_version().split("+")[1]
    simple = tmp_path / "index" / label / "simple"
    page = (simple / CONFIG.normalized / "index.html").read_text()
    digest = hashlib.sha256(WHEEL.read_bytes()).hexdigest()
    assert f"#sha256={digest}" in page
    meta = simple / CONFIG.normalized / (WHEEL.name + ".metadata")
    with zipfile.ZipFile(WHEEL) as zf:
        metadata = zf.read(next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA")))
    assert meta.read_bytes() == metadata
    meta_hash = hashlib.sha256(metadata).hexdigest()
    assert f'data-core-metadata="sha256={meta_hash}"' in page
    assert f'data-dist-info-metadata="sha256={meta_hash}"' in page
    assert f'href="{CONFIG.normalized}/"' in (simple / "index.html").read_text()

    dl = pip("download", "--no-deps", "--index-url", simple.as_uri(), NAME, "-d", str(tmp_path / "dl"))
    assert dl.returncode == 0, out(dl)
    assert (tmp_path / "dl" / WHEEL.name).read_bytes() == WHEEL.read_bytes()

    req = tmp_path / "req.txt"
    req.write_text(f"{NAME}=={wheel_version()} --hash=sha256:{digest}\n")
    hashed = pip("download", "--no-deps", "--require-hashes", "--index-url", simple.as_uri(),
                 "-r", str(req), "-d", str(tmp_path / "dl2"))
    assert hashed.returncode == 0, out(hashed)
    req.write_text(f"{NAME}=={wheel_version()} --hash=sha256:{'0' * 64}\n")
    bad = pip("download", "--no-deps", "--require-hashes", "--index-url", simple.as_uri(),
              "-r", str(req), "-d", str(tmp_path / "dl3"))
    assert bad.returncode != 0 and "HASHES" in bad.stderr.upper(), out(bad)


def test_index_install_hint_pins_version_and_hash(tmp_path):
    """The printed install command cannot pick up an impostor: exact
    version with its local label, the wheel's sha256, this index alone."""
    res = factory("index", "--wheel", str(WHEEL), "--index-dir", str(tmp_path / "index"))
    assert res.returncode == 0, out(res)
    label = wheel_version().split("+")[1]
    req = tmp_path / "index" / label / "requirements.txt"
    digest = hashlib.sha256(WHEEL.read_bytes()).hexdigest()
    assert req.read_text() == f"{NAME}=={wheel_version()} --hash=sha256:{digest}\n"
    hint = next(line for line in res.stdout.splitlines() if "pip install --no-deps" in line)
    assert "--require-hashes" in hint and f"-r {req}" in hint and "--extra-index-url" not in hint, hint
    simple = tmp_path / "index" / label / "simple"
    dl = pip("download", "--no-deps", "--require-hashes", "--index-url", simple.as_uri(), "-r", str(req),
             "-d", str(tmp_path / "dl"))
    assert dl.returncode == 0, out(dl)
    assert (tmp_path / "dl" / WHEEL.name).read_bytes() == WHEEL.read_bytes()
    # the index of each torch CUDA build the variant serves holds the same pin
    cuda = json.loads(zipfile.ZipFile(WHEEL).read(f"{IMPORT}/_build_info.json"))["cuda"]
    for build in CONFIG.torch_cuda_builds.get(cuda or "", []):
        assert (tmp_path / "index" / build / "requirements.txt").read_text() == req.read_text(), build


# --------------------------------------------------------------------------
# verify
# --------------------------------------------------------------------------


def test_verify_passes_the_real_wheel():
    res = factory("verify", "--wheel", str(WHEEL))
    assert res.returncode == 0, out(res)
    assert re.search(rf"{re.escape(WHEEL.name)}\s.*\sPASS", res.stdout), out(res)
    assert re.search(r"GLIBC_2\.\d+ GLIBCXX_3\.4\.\d+ CXXABI_1\.3\.\d+", res.stdout), out(res)


def rewrite(src: Path, dst: Path, drop_requires: bool = False, add: dict[str, bytes] | None = None) -> Path:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item)
            if drop_requires and item.filename.endswith(".dist-info/METADATA"):
                data = b"".join(ln for ln in data.splitlines(keepends=True)
                                if not ln.startswith(b"Requires-Dist: torch"))
            zout.writestr(item, data)
        for name, data in (add or {}).items():
            zout.writestr(name, data)
    return dst


@pytest.mark.parametrize("breakage, check", [
    ("no-requires", "requires"),
    ("bundled-libtorch", "bundled"),
    ("non-abi3-name", "tag"),
    ("claims-older-glibc", "glibc"),
])
def test_verify_fails_a_broken_wheel_naming_the_check(tmp_path, breakage, check):
    if breakage == "no-requires":
        broken = rewrite(WHEEL, tmp_path / WHEEL.name, drop_requires=True)
    elif breakage == "bundled-libtorch":
        broken = rewrite(WHEEL, tmp_path / WHEEL.name, add={f"{IMPORT}/libtorch_cpu.so": b"not really"})
    elif breakage == "claims-older-glibc":
        # manylinux_2_17 allows GLIBCXX_3.4.19; the libraries need 3.4.21.
        broken = tmp_path / re.sub(r"manylinux_\d+_\d+", "manylinux_2_17", WHEEL.name)
        assert broken.name != WHEEL.name, WHEEL.name
        shutil.copy(WHEEL, broken)
    else:
        broken = tmp_path / WHEEL.name.replace("cp310-abi3", "cp311-cp311")
        shutil.copy(WHEEL, broken)
    res = factory("verify", "--wheel", str(broken))
    assert res.returncode != 0, out(res)
    assert re.search(r"\sFAIL\b", res.stdout), out(res)
    failed = re.findall(r"FAILED (\S+):", res.stdout)
    assert check in [f.rstrip(":") for f in failed], out(res)


# --------------------------------------------------------------------------
# builds: reproducible, and names only in pyproject.toml
# --------------------------------------------------------------------------


@pytest.mark.parametrize("variant, args", [
    ("cpu", ("--cpu",)),
    # one arch keeps it short; nvcc's per-process temp names (and, where the
    # add-ons link with zig, its inputs) are what this guards
    ("cu", ("--cuda", "--archs", "90")),
])
def test_two_builds_of_one_tree_are_byte_identical(tmp_path, variant, args):
    """The working tree as it is, built in two places (different paths,
    different lengths) at one SOURCE_DATE_EPOCH: the same bytes."""
    wheels = []
    for name in ("first", "second-build"):
        tree = copy_worktree(tmp_path / name)
        res = factory("-C", str(tree), "build", "--backend", "host", *args,
                      env=clean_env(SOURCE_DATE_EPOCH="1700000000"), timeout=900)
        assert res.returncode == 0, out(res)
        built = list((tree / "dist").glob("*.whl"))
        assert len(built) == 1 and f"+{variant}" in built[0].name, built
        wheels.append(built[0])
    a, b = (w.read_bytes() for w in wheels)
    assert wheels[0].name == wheels[1].name
    assert hashlib.sha256(a).hexdigest() == hashlib.sha256(b).hexdigest(), \
        f"{wheels[0]} and {wheels[1]} differ"


# --------------------------------------------------------------------------
# a CUDA wheel by default: no toolkit here -> pip's toolkit for torch's CUDA
# --------------------------------------------------------------------------


def without_toolkits(cmd: list[str]) -> tuple[list[str], dict[str, str]]:
    """`cmd` in a mount namespace where every system CUDA toolkit directory
    (/usr/local/cuda*) is an empty directory, with no nvcc on PATH and no
    CUDA_HOME/CUDA_PATH: a machine without a toolkit."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("hiding the CUDA toolkits needs root and unshare (a private mount namespace)")
    hide = [str(p) for p in Path("/usr/local").glob("cuda*") if p.is_dir() and not p.is_symlink()]
    mounts = "".join(f"mount --bind \"$EMPTY\" {shlex.quote(d)} && " for d in hide)
    env = {k: v for k, v in clean_env().items() if k not in ("CUDA_HOME", "CUDA_PATH")}
    env["PATH"] = os.pathsep.join(d for d in env.get("PATH", "").split(os.pathsep)
                                  if d and not (Path(d) / "nvcc").exists())
    env["EMPTY"] = tempfile.mkdtemp(prefix="no-cuda-")
    return ["unshare", "--mount", "sh", "-c", mounts + 'exec "$@"', "sh", *cmd], env


RESOLVE = """
import sys
from ci import build, project
proj = project.load(sys.argv[1])
variant = build.resolve_variant(proj, "auto", None, "auto")
print("LABEL", variant.label, "CPU_ONLY", build.CPU_ONLY)
"""


def test_no_toolkit_installs_pips_and_builds_the_cuda_variant(tmp_path):
    tree = copy_worktree(tmp_path / "tree")

    def run(cmd: list[str], **extra: str) -> subprocess.CompletedProcess:
        argv, env = without_toolkits(cmd)
        return subprocess.run(argv, cwd=tree, env={**env, **extra}, capture_output=True, text=True,
                              timeout=600)

    version = [str(FACTORY_PYTHON), "setup.py", "--version"]
    hidden = run(version)
    if hidden.returncode != 0 and "unshare" in hidden.stderr:
        pytest.skip(f"no private mount namespace here: {hidden.stderr.strip()}")
    assert hidden.returncode == 0 and hidden.stdout.strip().endswith("+cpu"), out(hidden)  # really hidden
    torch_cuda = subprocess.run([str(FACTORY_PYTHON), "-c", "from ci.build import torch_cuda_version as v; "
                                 "print(v())"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    if torch_cuda == "None":
        pytest.skip("the factory's torch is CPU-only: no CUDA version to install")
    label = "cu" + torch_cuda.replace(".", "")

    # pip cannot reach anything: CPU-only, and the reason is kept for the last line
    offline = run([str(FACTORY_PYTHON), "-c", RESOLVE, str(tree)], PIP_CONFIG_FILE=os.devnull,
                  PIP_NO_INDEX="1")
    assert offline.returncode == 0, out(offline)
    assert "LABEL cpu" in offline.stdout and "toolkit failed" in offline.stdout, out(offline)

    resolved = run([str(FACTORY_PYTHON), "-c", RESOLVE, str(tree)])
    assert resolved.returncode == 0, out(resolved)
    assert f"LABEL {label} CPU_ONLY []" in resolved.stdout, out(resolved)
    assert list((tree / "build" / "toolchains").glob(f"cuda-{torch_cuda}/nvidia/cu*/bin/nvcc")), out(resolved)
    # and a later plain build finds that toolkit by itself (setup.py looks in build/toolchains)
    again = run(version)
    assert again.returncode == 0 and again.stdout.strip().endswith(f"+{label}"), out(again)
