"""The repository as a template (copier.yml): a project generated from the
working tree as it is, used the way its README says. Its two commands run
(CPU variant, to bound the time), its recipe for a new op, a rename, an
editable rebuild, a stale wheel, a CUDA build with cuBLAS and cuDNN taken
from NVIDIA's wheels, and `copier update` bringing a factory change into a
project without touching its ops. Runs where copier.yml is (this
repository); a project made from the template skips it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import extconfig
import pytest
from helpers import FACTORY_PYTHON, NAME, REPO, TEST_PYTHON, clean_env, copy_worktree, is_template, out

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not is_template(), reason="no copier.yml: not the template repository")]

GIT_USER = ["-c", "user.name=template test", "-c", "user.email=template@test.invalid"]
# What of ours a generated project must not hold (file names and text).
OURS = re.compile(rf"{re.escape(NAME)}|radius|knn|neighbou?r", re.I)


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *GIT_USER, *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout


def commit_all(cwd: Path, message: str) -> None:
    if not (cwd / ".git").exists():
        git(cwd, "init", "-q")
    git(cwd, "add", "-A")
    git(cwd, "commit", "-q", "--allow-empty", "-m", message)


def copier(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(FACTORY_PYTHON), "-m", "copier", *args, "--defaults", "--quiet"], cwd=cwd,
                          env=clean_env(), capture_output=True, text=True, timeout=300)


def generate(dst: Path, template: Path = REPO, **answers) -> Path:
    """`copier copy` of `template` (the working tree, committed or not)."""
    data = [a for k, v in answers.items() for a in ("-d", f"{k}={json.dumps(v) if isinstance(v, list) else v}")]
    res = copier("copy", *data, str(template), str(dst))
    assert res.returncode == 0, out(res)
    commit_all(dst, "generated")
    # Its factory's environment is this one (same requirements: reused, not
    # installed again), and its test venvs are ours (same torch versions).
    (dst / ".venv").symlink_to(REPO / ".venv")
    (dst / "build").mkdir(exist_ok=True)
    (dst / "build" / "venvs").symlink_to(REPO / "build" / "venvs", target_is_directory=True)
    return dst


def readme_block(project: Path, heading: str) -> list[str]:
    """The command lines of the first ```bash block under `heading` in the
    project's README (comments dropped): what the test runs is what it says."""
    text = (project / "README.md").read_text()
    section = text.split(f"## {heading}", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S)[1]
    return [re.sub(r"\s+#.*$", "", line).strip() for line in block.splitlines() if line.strip()]


def sh(project: Path, line: str, timeout: float = 1500, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", line], cwd=project, env=clean_env(**env), capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A project with the default answers, its README's two commands run as
    they are: a full-arch CUDA wheel (with nvcc from pip where there is none),
    its suite (the CUDA tests skip without a GPU) and its factory's tests."""
    dst = generate(tmp_path_factory.mktemp("gen") / "demo", project_name="demo")
    for line in readme_block(dst, "Two commands on a fresh machine"):
        res = sh(dst, line)
        assert res.returncode == 0, f"$ {line}\n{out(res)}"
    return dst


def test_generated_project_holds_the_factory_and_nothing_of_ours(project):
    built = {".git", "build", "dist", "wheelhouse", ".venv"}
    files = {p.relative_to(project).as_posix(): p for p in project.rglob("*")
             if p.is_file() and not built & set(p.relative_to(project).parts)}
    for must in ("ci/factory", "setup.py", "CMakeLists.txt", "docker/Dockerfile", ".github/workflows/wheels.yml",
                 "pkg/csrc/ops/cuda/sqnorm.cu", "tests/test_sqnorm.py", ".copier-answers.yml", "README.md"):
        assert must in files, must
    ours = [rel for rel, p in files.items() if OURS.search(rel) or OURS.search(p.read_text(errors="replace"))]
    assert not ours, f"cuneb's code or name in the generated project: {sorted(ours)}"
    assert not [r for r in files if r.startswith(("addons/", "bench/", "examples/", "template/"))], sorted(files)


def test_its_two_commands_built_a_small_full_arch_cuda_wheel(project):
    wheels = list((project / "wheelhouse").glob("demo-0.1.0+cu*-cp310-abi3-manylinux_*.whl"))
    assert len(wheels) == 1, list((project / "wheelhouse").iterdir())
    names = zipfile.ZipFile(wheels[0]).namelist()
    assert "demo/libdemo_cuda.so" in names and "demo/_build_info.json" in names, names
    info = json.loads(zipfile.ZipFile(wheels[0]).read("demo/_build_info.json"))
    assert info["cuda_archs"] == [a if a == info["cuda_archs"][-1] else f"{a}-real"
                                  for a in extconfig.load(project).default_cuda_archs(info["cuda"], "x86_64").split(";")]
    assert wheels[0].stat().st_size <= 1 << 20, wheels[0].stat().st_size


def test_readme_recipe_adds_an_op_that_builds_and_passes_its_tests(project):
    lines = readme_block(project, "Add an op")
    assert lines[0] == "./ci/factory new-op my_op", lines
    for line in lines:
        res = sh(project, line)
        assert res.returncode == 0, f"$ {line}\n{out(res)}"
    assert re.search(r"PASS .*: \d+ passed", res.stdout), out(res)
    for rel in ("pkg/csrc/ops/my_op.cpp", "pkg/csrc/ops/common/my_op_call.h", "pkg/csrc/ops/cpu/my_op_kernel.cpp",
                "pkg/csrc/ops/cuda/my_op_kernel.cpp", "pkg/csrc/ops/cuda/my_op.cu", "tests/test_my_op.py"):
        assert (project / rel).is_file(), rel
    # the example op is what new-op writes, under another name
    for generated, example in (("pkg/csrc/ops/cuda/my_op.cu", "pkg/csrc/ops/cuda/sqnorm.cu"),
                               ("tests/test_my_op.py", "tests/test_sqnorm.py")):
        assert (project / generated).read_text().replace("my_op", "sqnorm") == (project / example).read_text()
    again = sh(project, "./ci/factory new-op my_op")
    assert again.returncode != 0 and "exists already" in again.stderr, out(again)


def test_a_wheel_older_than_its_sources_is_refused(project, tmp_path):
    kernel = project / "pkg" / "csrc" / "ops" / "cpu" / "sqnorm_kernel.cpp"
    text = kernel.read_text()
    try:
        kernel.write_text(text + "\n// edited\n")
        res = sh(project, "./ci/factory test --suites product")
        assert res.returncode != 0, out(res)
        assert "STALE" in res.stdout and "no demo 0.1.0 wheel built from the current sources" in res.stderr, out(res)
    finally:
        kernel.write_text(text)
    # a stray <name>.egg-info beside pyproject.toml does not stop pytest run from the root
    (project / "demo.egg-info").mkdir()
    (project / "demo.egg-info" / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: demo\nVersion: 0.0.0\n")
    res = subprocess.run([str(TEST_PYTHON), "-m", "pytest", "tests", "-q", "-p", "no:cacheprovider", "-k",
                          "wheel or sqnorm"], cwd=project, capture_output=True, text=True, timeout=600)
    shutil.rmtree(project / "demo.egg-info")
    assert res.returncode == 0, out(res)


def test_editable_install_rebuilds_only_what_changed(project, tmp_path):
    """`pip install --no-build-isolation -e .` (the README's inner loop), in
    the test venv (it sees the factory's torch, cmake and ninja), twice: the
    second run compiles the one edited source."""
    def editable() -> subprocess.CompletedProcess:
        res = subprocess.run([str(TEST_PYTHON), "-m", "pip", "install", "-v", "--no-deps",
                              "--no-build-isolation", "-e", str(project)], env=clean_env(EXT_CPU_ONLY="1"),
                             capture_output=True, text=True, timeout=900)
        assert res.returncode == 0, out(res)
        return res

    kernel = project / "pkg" / "csrc" / "ops" / "cpu" / "sqnorm_kernel.cpp"
    text = kernel.read_text()
    try:
        editable()
        kernel.write_text(text.replace("out[i] = sum;", "out[i] = sum + 1;"))
        second = editable()
        compiled = re.findall(r"Building CXX object (\S+)", second.stdout + second.stderr)
        assert [Path(c).name for c in compiled] == ["sqnorm_kernel.cpp.o"], out(second)
        probe = subprocess.run([str(TEST_PYTHON), "-c", "import torch, demo; print(demo.sqnorm(torch.ones(1, 2)).item())"],
                               cwd=tmp_path, capture_output=True, text=True)
        assert probe.stdout.strip() == "3.0", out(probe)  # 1 + 1 + the edit
    finally:
        kernel.write_text(text)
        subprocess.run([str(TEST_PYTHON), "-m", "pip", "uninstall", "-y", "demo"], capture_output=True)


def test_rename_is_one_value(project, tmp_path):
    tree = tmp_path / "renamed"
    shutil.copytree(project, tree, symlinks=True, ignore=shutil.ignore_patterns("wheelhouse", "dist", "cmake-*"))
    pyproject = tree / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('name = "demo"', 'name = "renamed_ops"', 1))
    res = sh(tree, "./ci/factory build --cpu repair && ./ci/factory test --suites product")
    assert res.returncode == 0, out(res)
    wheel = next((tree / "wheelhouse").glob("renamed_ops-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "renamed_ops/librenamed_ops_cpu.so" in names and not [n for n in names if "demo" in n], names


def test_a_registration_torch_refuses_is_an_import_error_naming_it(project, tmp_path):
    tree = tmp_path / "dup"
    shutil.copytree(project, tree, symlinks=True, ignore=shutil.ignore_patterns("wheelhouse", "dist", "cmake-*"))
    (tree / "pkg" / "csrc" / "ops" / "dup.cpp").write_text(
        '#include "common/library.h"\nEXT_LIBRARY_FRAGMENT(m) { m.def("sqnorm(Tensor x) -> Tensor"); }\n')
    res = sh(tree, "./ci/factory build --cpu")
    assert res.returncode == 0, out(res)
    site = tmp_path / "site"
    subprocess.run([str(TEST_PYTHON), "-m", "pip", "install", "-q", "--no-deps", "--target", str(site),
                    *map(str, (tree / "dist").glob("*.whl"))], check=True)
    proc = subprocess.run([str(TEST_PYTHON), "-c", "import demo"], cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(site)})
    assert proc.returncode == 1, out(proc)  # an exception, not a crash
    assert "registering its ops failed" in proc.stderr and "dup.cpp" in proc.stderr, out(proc)
    # a source missing from a library fails the build, not the import
    (tree / "pkg" / "csrc" / "ops" / "dup.cpp").unlink()
    (tree / "pkg" / "csrc" / "ops" / "common" / "sqnorm_call.cpp").unlink()
    res = sh(tree, "./ci/factory build --cpu")
    assert res.returncode != 0 and re.search(r"undefined (reference|symbol)", res.stdout + res.stderr), out(res)


@pytest.fixture(scope="module")
def with_libraries(tmp_path_factory) -> dict[str, Path]:
    """A project that calls cuBLAS and cuDNN, built for CUDA (one arch), then
    for the CPU in the same tree."""
    dst = generate(tmp_path_factory.mktemp("gen") / "libs", project_name="libs",
                   cuda_libraries=["cublas", "cudnn"])
    built = {}
    for label, line in (("cuda", "./ci/factory build --cuda --archs 90 repair"),
                        ("cpu", "./ci/factory build --cpu repair")):
        res = sh(dst, line)
        assert res.returncode == 0, f"$ {line}\n{out(res)}"
        built[label] = next((dst / "wheelhouse").glob(f"libs-0.1.0+{'cu[0-9]' if label == 'cuda' else 'cpu'}*.whl"))
    built["tree"] = dst
    return built


def requires(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as zf:
        meta = zf.read(next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    return [r for r in re.findall(r"^Requires-Dist: (.+)$", meta, re.M) if "extra ==" not in r]


def test_cuda_libraries_are_required_per_variant_and_not_bundled(with_libraries):
    cuda, cpu = with_libraries["cuda"], with_libraries["cpu"]
    assert sorted(requires(cuda)) == ["nvidia-cublas<14,>=13.0", "nvidia-cudnn-cu13<10,>=9.12", "torch>=2.10"]
    assert requires(cpu) == ["torch>=2.10"]
    names = zipfile.ZipFile(cuda).namelist()
    assert "libs/liblibs_cuda.so" in names and not [n for n in names if re.search(r"libcu(blas|dnn)", n)], names
    assert "libs/liblibs_cuda.so" not in zipfile.ZipFile(cpu).namelist()  # no stale CUDA library
    res = sh(with_libraries["tree"], f"./ci/factory verify --wheel {cuda} --wheel {cpu}")
    assert res.returncode == 0, out(res)
    assert "ok     cuda-libraries: nvidia-cublas<14,>=13.0, nvidia-cudnn-cu13<10,>=9.12" in res.stdout, out(res)


def test_a_missing_cuda_library_is_an_import_error_naming_it(with_libraries, tmp_path):
    """The loader's check, on the built CUDA wheel's record of its libraries:
    the package missing, or of a version outside the range."""
    with zipfile.ZipFile(with_libraries["cuda"]) as zf:
        info = json.loads(zf.read("libs/_build_info.json"))
    code = f"""
import sys; sys.modules['torch'] = type(sys)('torch')  # the check needs no torch
from importlib import metadata
sys.path.insert(0, {str(REPO / 'pkg')!r}); import _loader
info = {info!r}
real = metadata.version
for fake, why in ((lambda p: (_ for _ in ()).throw(metadata.PackageNotFoundError(p)), 'missing'),
                  (lambda p: '12.9.0' if 'cublas' in p else real(p), 'old')):
    _loader.metadata.version = fake
    try:
        _loader.check_cuda_libraries(info)
    except ImportError as e:
        print(why, e)
"""
    res = subprocess.run([str(FACTORY_PYTHON), "-c", code], capture_output=True, text=True)
    assert "missing libs: its CUDA kernels call cublas (libcublas.so.13) from the nvidia-cublas wheel, " \
           "which is not installed: pip install 'nvidia-cublas>=13.0,<14'" in res.stdout, out(res)
    assert "old libs: its CUDA kernels need cublas from nvidia-cublas>=13.0,<14, but 12.9.0 is installed" \
           in res.stdout, out(res)


def test_copier_update_brings_a_factory_change_and_keeps_the_ops(tmp_path):
    template = copy_worktree(tmp_path / "template")
    commit_all(template, "template v1")
    git(template, "tag", "v1")
    project = tmp_path / "mine"
    res = copier("copy", "--vcs-ref", "v1", "-d", "project_name=mine", str(template), str(project))
    assert res.returncode == 0, out(res)
    commit_all(project, "generated")
    kernel = project / "pkg" / "csrc" / "ops" / "cpu" / "sqnorm_kernel.cpp"
    kernel.write_text(kernel.read_text().replace("sum = sum + v * v;", "sum = sum + v * v * 2;  // mine"))
    commit_all(project, "my op")
    # a factory change in the template, released as v2
    steps = template / "docker" / "cibw-steps.sh"
    steps.write_text(steps.read_text() + "# factory change v2\n")
    commit_all(template, "template v2")
    git(template, "tag", "v2")
    res = copier("update", cwd=project)
    assert res.returncode == 0, out(res)
    assert (project / "docker" / "cibw-steps.sh").read_text().endswith("# factory change v2\n")
    assert "v * v * 2;  // mine" in kernel.read_text()
    assert "_commit: v2" in (project / ".copier-answers.yml").read_text()
    changed = git(project, "status", "--porcelain").splitlines()
    assert sorted(line[3:] for line in changed) == [".copier-answers.yml", "docker/cibw-steps.sh"], changed
