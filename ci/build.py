"""`build`: wheels into dist/, on the host or through cibuildwheel.

The host backend runs `python -m build --wheel --no-isolation` in the
factory's environment with SOURCE_DATE_EPOCH set, one build directory per
variant (build/wheel-<label>/) so a +cpu wheel never picks up a CUDA library
left by an earlier build. Which variant a build produces is asked of the
build configuration setup.py uses (extconfig.build_label), so nvcc is looked
for in one place only.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import extconfig

from .project import (FactoryError, Project, addons, copy_worktree, human_size, log, run,
                      source_date_epoch, step)



@dataclass
class Variant:
    label: str                 # local version label: cpu, cu130, ...
    env: dict[str, str]        # what setup.py needs to build it


def container_engine() -> str | None:
    """podman or docker, if one actually works here (`info` succeeds)."""
    for engine in ("podman", "docker"):
        if shutil.which(engine):
            try:
                ok = subprocess.run([engine, "info"], capture_output=True, timeout=60).returncode == 0
            except (OSError, subprocess.TimeoutExpired):
                ok = False
            if ok:
                return engine
            log(f"{engine} is installed but `{engine} info` fails: not using containers")
    return None


def probe_label(proj: Project, env: dict[str, str]) -> str:
    """The local label setup.py would give a build with `env` (+cu130/+cpu)."""
    try:
        return extconfig.build_label({**os.environ, **env}, proj.root)
    except (OSError, subprocess.CalledProcessError, RuntimeError) as e:
        raise FactoryError(f"cannot tell which CUDA toolkit a build would use: {e}") from None


def cuda_label(version: str) -> str:
    if not re.fullmatch(r"\d+\.\d+", version):
        raise FactoryError(f"--cuda wants MAJOR.MINOR like 13.0, not {version!r}")
    return extconfig.local_label(version)


def torch_cuda_version() -> str | None:
    """CUDA version of the factory's torch (read from its version.py, no import)."""
    import importlib.util

    spec = importlib.util.find_spec("torch")
    if spec is None or spec.origin is None:
        return None
    text = (Path(spec.origin).parent / "version.py").read_text()
    match = re.search(r"^cuda\s*(?::\s*\S+)?\s*=\s*'([\d.]+)'", text, re.M)
    return ".".join(match[1].split(".")[:2]) if match else None


def factory_toolkit(proj: Project, version: str) -> Path:
    """The factory's own CUDA `version` toolkit in build/toolchains/cuda-<version>,
    made once; returns its root for CUDA_HOME: PyPI's cuda-toolkit wheels, or
    what an add-on provides where PyPI has no nvcc (CUDA 12)."""
    hooks = addons(proj)
    found = hooks.cuda_toolkit(proj, version) if hooks else None
    if found:
        return found
    if int(version.split(".")[0]) < 13:
        raise FactoryError(f"PyPI has no nvcc for CUDA {version}: install NVIDIA's CUDA {version} "
                           "toolkit and set CUDA_HOME to it, or build in the image (--backend cibuildwheel)")
    return pip_toolkit(proj, version)


def pip_toolkit(proj: Project, version: str) -> Path:
    """nvcc + headers from PyPI's cuda-toolkit wheels, installed into its own
    folder (build/toolchains/cuda-<version>) so it never changes the CUDA
    packages torch depends on; returns the toolkit root for CUDA_HOME."""
    target = proj.build_dir / "toolchains" / f"cuda-{version}"
    major = version.split(".")[0]
    root = target / "nvidia" / f"cu{major}"
    if not (root / "bin" / "nvcc").exists():
        log(f"installing CUDA {version} (nvcc, cudart, cccl) from the package index into {target}")
        run([sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "-q",
             "--target", str(target), f"cuda-toolkit[nvcc,cudart,cccl]=={version}.*"])
    if not (root / "bin" / "nvcc").exists():
        raise FactoryError(f"cuda-toolkit {version}.* installed no {root}/bin/nvcc")
    # The wheels ship libcudart.so.<major> only; CMake's FindCUDAToolkit
    # insists on an unversioned libcudart.so (even though the build links
    # cudart statically).
    for versioned in (root / "lib").glob("libcudart.so.*"):
        link = versioned.with_name("libcudart.so")
        if not link.exists():
            link.symlink_to(versioned.name)
    return root


def resolve_variant(proj: Project, kind: str, cuda: str | None, toolkit: str) -> Variant:
    """kind: 'auto' (what the installed toolkit gives), 'cpu' or 'cuda'."""
    if kind == "cpu":
        return cpu_only(proj, {f"{proj.env_prefix}_CPU_ONLY": "1"}, "asked for with --cpu")
    off = {f"{proj.env_prefix}_CPU_ONLY": "0"}
    if kind == "auto":
        # The installed toolkit, whatever its version; with none, pip's
        # toolkit for the CUDA of the factory's torch: a CUDA wheel by default.
        label = probe_label(proj, off)
        if label != "cpu":
            return Variant(label, off)
        cuda = torch_cuda_version()
        if cuda is None:
            return cpu_only(proj, off, "no CUDA toolkit here and the factory's torch is CPU-only, "
                                       "so there is no CUDA version to install; pass --cuda 13.0")
        log(f"no CUDA toolkit found: installing the factory's CUDA {cuda} toolkit (its torch's CUDA)")
        try:
            return cuda_variant(proj, off, cuda)
        except FactoryError as e:
            return cpu_only(proj, off, f"installing the CUDA {cuda} toolkit failed ({e}); "
                                       "install a toolkit (CUDA_HOME) or fix pip's access to the "
                                       f"package index, then `./ci/factory build --cuda {cuda}`")
    # cuda None: the installed toolkit, whatever its version; if there is
    # none, pip's toolkit for the CUDA version of the factory's torch.
    if toolkit != "pip":
        label = probe_label(proj, off)
        if label.startswith("cu") and (cuda is None or label == cuda_label(cuda)):
            return Variant(label, off)
        if toolkit == "system":
            raise FactoryError(f"the installed CUDA toolkit gives +{label}, not CUDA {cuda or '(any)'}")
        log(f"the installed toolkit gives +{label}; CUDA {cuda or torch_cuda_version()} wanted: "
            "using the factory's toolkit (build/toolchains)")
    cuda = cuda or torch_cuda_version()
    if cuda is None:
        raise FactoryError("no CUDA version to install: pass --cuda MAJOR.MINOR")
    return cuda_variant(proj, off, cuda)


def cuda_variant(proj: Project, env: dict[str, str], cuda: str) -> Variant:
    """The CUDA `cuda` variant, with the factory's own toolkit for it."""
    env = {**env, "CUDA_HOME": str(factory_toolkit(proj, cuda))}
    label = probe_label(proj, env)
    if label != cuda_label(cuda):
        raise FactoryError(f"CUDA_HOME={env['CUDA_HOME']} still gives +{label}, not {cuda_label(cuda)}")
    return Variant(label, env)


# Why this run built CPU-only wheels, for the last line of the run (ci/__main__.py).
CPU_ONLY: list[str] = []


def cpu_only(proj: Project, env: dict[str, str], why: str) -> Variant:
    log(f"building the CPU-only variant: {why}")
    CPU_ONLY.append(why)
    return Variant(probe_label(proj, env), env)


def install_cuda_libraries(proj: Project, env: dict[str, str]) -> None:
    """The NVIDIA wheels of [tool.ext] cuda-libraries that a build with `env`
    links, into the factory's environment where missing (torch's CUDA 13
    builds bring their own; the CUDA 12 ones are other packages)."""
    from importlib import metadata

    from packaging.requirements import Requirement

    missing = []
    for text in extconfig.build_requirements(proj.config, env, proj.root):
        req = Requirement(text)
        try:
            if req.specifier.contains(metadata.version(req.name), prereleases=True):
                continue
        except metadata.PackageNotFoundError:
            pass
        missing.append(text)
    if missing:
        log(f"installing the CUDA libraries the build links: {', '.join(missing)}")
        run([sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "-q", "--no-deps", *missing])


def build_host(proj: Project, variant: Variant, archs: str | None, jobs: str | None) -> Path:
    proj.dist_dir.mkdir(exist_ok=True)
    # setuptools stages the package in build/lib*: start it empty (a module
    # deleted from pkg/ must not reach the wheel); CMake's own tree,
    # build/cmake-<label>/, stays for incremental builds.
    for stale in [*proj.build_dir.glob("lib.*"), *proj.build_dir.glob("bdist.*")]:
        shutil.rmtree(stale)
    hooks = addons(proj)
    env = {"SOURCE_DATE_EPOCH": source_date_epoch(proj), **variant.env}
    env.update(hooks.host_build_env(proj, env) if hooks else {})
    if archs:
        env[f"{proj.env_prefix}_CUDA_ARCHS"] = archs
    if jobs:
        env["MAX_JOBS"] = jobs
    install_cuda_libraries(proj, {**os.environ, **env})
    expected = f"{proj.wheel_name}-{proj.version}+{variant.label}-"
    before = {p: p.stat().st_mtime_ns for p in proj.dist_dir.glob(f"{expected}*.whl")}
    start = time.monotonic()
    run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "-o", str(proj.dist_dir), "."],
        env=env, cwd=proj.root)
    seconds = time.monotonic() - start
    made = [p for p in proj.dist_dir.glob(f"{expected}*.whl")
            if p not in before or p.stat().st_mtime_ns != before[p]]
    if len(made) != 1:
        raise FactoryError(f"expected one new {expected}*.whl in {proj.dist_dir}, found {made}")
    log(f"built {made[0].name}: {human_size(made[0].stat().st_size)} in {seconds:.1f} s")
    return made[0]


def cibuildwheel_image(proj: Project) -> str:
    """The CUDA build image for cibuildwheel (the caller's
    CIBW_MANYLINUX_X86_64_IMAGE wins): named after the project, tagged with
    docker/Dockerfile's CUDA_VERSION."""
    return (os.environ.get("CIBW_MANYLINUX_X86_64_IMAGE")
            or f"{proj.image}:{arg_default(proj.root / 'docker' / 'Dockerfile', 'CUDA_VERSION')}")


def arg_default(containerfile: Path, name: str) -> str:
    """The default of `ARG name=...` in a Dockerfile (docker/Dockerfile's CUDA_VERSION)."""
    match = re.search(rf"^\s*ARG\s+{name}=(\S+)", containerfile.read_text(), re.M)
    if not match:
        raise FactoryError(f"{containerfile} declares no default for ARG {name}")
    return match[1]


def image_present(engine: str, image: str) -> bool:
    cmd = [engine, "image", "exists", image] if engine == "podman" else [engine, "image", "inspect", image]
    try:
        return subprocess.run(cmd, capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def choose_backend(proj: Project) -> tuple[str, str]:
    """cibuildwheel only where it can work here: a container engine that
    answers, a [tool.cibuildwheel] table, and its build image already on this
    machine (no registry is reachable to pull one). Otherwise the host."""
    engine = container_engine()
    if not engine:
        return "host", "no working container engine"
    if not extconfig.tool_table(proj.root, "cibuildwheel"):
        return "host", f"{engine} works, but pyproject.toml has no [tool.cibuildwheel]"
    image = cibuildwheel_image(proj)
    if not image_present(engine, image):
        return "host", f"{engine} works, but its build image {image} is not on this machine"
    return "cibuildwheel", f"{engine} works and has {image}"


def cross_variants(proj: Project, machine: str, kinds: list[str], cuda: str | None) -> list[Variant]:
    """Variants for another machine (--arch), through an add-on that can
    cross-build (this machine's addons/aarch64.py); the template's default is
    to build on that machine (wheels.yml's arm64 runner)."""
    hooks = addons(proj)
    if not hooks or not hasattr(hooks, "cross_build_env"):
        raise FactoryError(f"building {machine} wheels on {platform.machine()} needs a cross toolchain: "
                           f"build on an {machine} machine (wheels.yml does, on its arm64 runner)")
    out = []
    for kind in ["cpu" if k == "cpu" else "cuda" for k in kinds]:
        version = None if kind == "cpu" else (cuda or torch_cuda_version())
        env = {f"{proj.env_prefix}_CPU_ONLY": "1" if kind == "cpu" else "0",
               **hooks.cross_build_env(proj, machine, version)}
        out.append(Variant(probe_label(proj, env), env))
    return out


def build(proj: Project, args) -> list[Path]:
    """args: the command line's --backend, --cpu, --cuda, --toolkit, --archs, --jobs, --arch."""
    step("build")
    backend, cpu, cuda, toolkit, archs, jobs = (args.backend, args.cpu, args.cuda, args.toolkit,
                                                args.archs, args.jobs)
    machine = args.arch or platform.machine()
    if machine != platform.machine():
        backend = "host"  # a cross build (an add-on's toolchain), never this machine's container
    if backend == "auto":
        backend, why = choose_backend(proj)
        log(f"backend: {backend} ({why})")
    if backend == "cibuildwheel":
        # Its configuration lives in pyproject.toml [tool.cibuildwheel]; the
        # variant knobs reach the container through its environment-pass.
        env = {"SOURCE_DATE_EPOCH": source_date_epoch(proj)}
        if archs:
            env[f"{proj.env_prefix}_CUDA_ARCHS"] = archs
        if jobs:
            env["MAX_JOBS"] = jobs
        if cpu:
            env[f"{proj.env_prefix}_CPU_ONLY"] = "1"
            CPU_ONLY.append("asked for with --cpu (cibuildwheel)")
        if cuda not in (None, "installed"):
            log(f"--cuda {cuda}: the container image decides the CUDA version; ignored")
        engine = container_engine()
        if engine and "CIBW_CONTAINER_ENGINE" not in os.environ:
            env["CIBW_CONTAINER_ENGINE"] = engine
        image = cibuildwheel_image(proj)
        env.update(CIBW_MANYLINUX_X86_64_IMAGE=image, CIBW_MANYLINUX_AARCH64_IMAGE=image)
        # cibuildwheel copies its whole working directory into the container:
        # give it the tree alone, not .venv (GBs) and build/.
        with tempfile.TemporaryDirectory(prefix=f"{proj.import_name}-cibw-") as tmp:
            tree = copy_worktree(proj, Path(tmp) / "tree", with_git=True)
            run([sys.executable, "-m", "cibuildwheel", "--platform", "linux", "--output-dir",
                 str(proj.dist_dir)], env=env, cwd=tree)
        return sorted(proj.dist_dir.glob("*.whl"))
    if os.environ.get(f"{proj.env_prefix}_CPU_ONLY", "0") not in ("", "0") and cuda is None:
        cpu = True  # the build knob, as setup.py reads it
    kinds = (["cuda"] if cuda is not None else []) + (["cpu"] if cpu else []) or ["auto"]
    version = None if cuda in (None, "installed") else cuda
    variants = (cross_variants(proj, machine, kinds, version) if machine != platform.machine()
                else [resolve_variant(proj, kind, version, toolkit) for kind in kinds])
    wheels = []
    for variant in variants:
        log(f"variant +{variant.label} for {machine}")
        wheels.append(build_host(proj, variant, archs, jobs))
    if any("+cu" in w.name for w in wheels):
        CPU_ONLY.clear()  # a CUDA wheel was built too: the run did not end CPU-only
    return wheels
