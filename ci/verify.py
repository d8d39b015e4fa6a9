"""`verify`: release checks on each wheelhouse wheel, one table row per wheel.

A wheel passes only if every check below holds; under its row, one line per
check says ok or FAILED, and what it saw or why. Exit status 1 if any wheel
fails.
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet

import extconfig

from .project import FactoryError, Project, human_size, log, run, step, tool
from .wheels import WheelInfo, foreign_library, inspect, select, torch_library_names, version_key

RUNPATH = "$ORIGIN/../torch/lib"
BUILD_INFO_KEYS = ("name", "import_name", "ops_namespace", "version", "cuda", "cuda_archs",
                   "cuda_libraries", "torch_headers", "torch_target", "git_commit", "sources")
# The symbol versions a manylinux tag bounds (auditwheel's policy has the lists).
SYMBOL_PREFIXES = ("GLIBC", "GLIBCXX", "CXXABI")


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""


def python_tag(proj: Project) -> str:
    """cp3XY from requires-python '>=3.XY' (the abi3 floor)."""
    match = re.search(r">=\s*3\.(\d+)", proj.requires_python)
    return f"cp3{match[1]}" if match else "cp310"


def check_tags(proj: Project, w: WheelInfo) -> Check:
    want = re.compile(rf"{python_tag(proj)}-abi3-manylinux_\d+_\d+_(x86_64|aarch64)")
    bad = [t for t in w.tags if not want.fullmatch(t)]
    if bad or not w.tags:
        return Check("tag", False, f"{', '.join(bad) or 'no tags'} is not {python_tag(proj)}-abi3-manylinux_*")
    if sorted(w.wheel_tags) != sorted(w.tags):
        return Check("tag", False, f"WHEEL says {w.wheel_tags}, the file name {w.tags}")
    arch = w.tags[0].rsplit("_", 1)[-1] if not w.tags[0].endswith("x86_64") else "x86_64"
    wrong = [f"{e.path} is {e.machine}" for e in w.elf if e.machine != arch]
    if wrong:
        return Check("tag", False, f"the tag says {arch}, but {', '.join(wrong)}")
    return Check("tag", True, f"libraries for {arch}")


def manylinux_glibc(w: WheelInfo) -> tuple[tuple[int, int], str] | None:
    """((2, 28), 'x86_64') for the wheel's oldest manylinux_X_Y tag, None if none."""
    found = [((int(m[1]), int(m[2])), m[3]) for t in w.tags
             for m in [re.search(r"-manylinux_(\d+)_(\d+)_(\w+)$", t)] if m]
    return min(found) if found else None


def policy_limits(glibc: tuple[int, int], arch: str) -> dict[str, str]:
    """Newest GLIBC/GLIBCXX/CXXABI version auditwheel's policy allows for
    manylinux_<glibc>_<arch>; {} if auditwheel's policy is not at hand."""
    from importlib import resources

    try:
        text = resources.files("auditwheel.policy").joinpath("manylinux-policy.json").read_text()
    except (ModuleNotFoundError, FileNotFoundError):
        return {}
    for policy in json.loads(text):
        if policy["name"] == f"manylinux_{glibc[0]}_{glibc[1]}":
            versions = policy["symbol_versions"].get(arch, {})
            return {k: max((v for v in versions.get(k, []) if version_key(v)), key=version_key)
                    for k in SYMBOL_PREFIXES if versions.get(k)}
    return {}


def symbol_needs(w: WheelInfo) -> dict[str, str]:
    """The newest GLIBC/GLIBCXX/CXXABI version any library of the wheel needs."""
    out = {}
    for prefix in SYMBOL_PREFIXES:
        found = [v for e in w.elf for v in [e.highest(prefix)] if v]
        if found:
            out[prefix] = max(found, key=version_key)
    return out


def symbols_text(w: WheelInfo) -> str:
    needs = symbol_needs(w)
    return " ".join(f"{k}_{needs[k]}" for k in SYMBOL_PREFIXES if k in needs) or "-"


def check_glibc(w: WheelInfo) -> Check:
    """The platform tag may claim no older glibc (nor libstdc++) than the
    libraries' symbol versions need: a wheel that says manylinux_2_28 but
    needs GLIBC_2.34 installs on RHEL 8 and then fails to load."""
    tag = manylinux_glibc(w)
    if tag is None:
        return Check("glibc", False, f"no manylinux_X_Y tag in {w.tags}")
    glibc, arch = tag
    limits = {"GLIBC": f"{glibc[0]}.{glibc[1]}", **{k: v for k, v in policy_limits(glibc, arch).items()
                                                     if k != "GLIBC"}}
    problems, per_lib = [], []
    for e in w.elf:
        needs = {k: e.highest(k) for k in SYMBOL_PREFIXES if e.highest(k)}
        per_lib.append(f"{PurePosixPath(e.path).name}: "
                       + (" ".join(f"{k}_{v}" for k, v in needs.items()) or "no versioned symbols"))
        for prefix, version in needs.items():
            if prefix in limits and version_key(version) > version_key(limits[prefix]):
                problems.append(f"{PurePosixPath(e.path).name} needs {prefix}_{version} but the tag "
                                f"manylinux_{glibc[0]}_{glibc[1]} allows at most {prefix}_{limits[prefix]}")
    if problems:
        return Check("glibc", False, "; ".join(problems) + ". Repair it (./ci/factory repair) to the tag "
                     "the symbols allow, or build it in the image (docker/)")
    return Check("glibc", True, f"manylinux_{glibc[0]}_{glibc[1]} holds: " + "; ".join(per_lib))


def check_abi3audit(w: WheelInfo) -> Check:
    """abi3audit over the wheel, plus what it saw: it audits every .so for
    Python C-API symbols outside the limited API. Our libraries use no C-API
    at all, so "0 Python symbols" is the expected, checked, outcome."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        res = run([tool("abi3audit"), "--strict", "--report", "-o", str(report), str(w.path)],
                  capture=True, stream=False, check=False, echo=False)
        try:
            data = json.loads(report.read_text())
        except (OSError, ValueError):
            return Check("abi3audit", False, f"no report (exit {res.returncode}): {res.output.strip()[-300:]}")
    objects = [o for spec in data.get("specs", {}).values() for o in spec.get("wheel", [])]
    if not objects:
        return Check("abi3audit", res.returncode == 0,
                     "abi3audit had nothing to audit (no shared objects)")
    bad = {o["name"]: o["result"]["non_abi3_symbols"] for o in objects
           if o["result"].get("non_abi3_symbols") or not o["result"].get("is_abi3_baseline_compatible")}
    if bad or res.returncode != 0:
        return Check("abi3audit", False, f"outside the limited API: {bad or res.output.strip()[-300:]}")
    used = sum(len(e.python_symbols) for e in w.elf)
    return Check("abi3audit", True, f"{len(objects)} .so audited, {used} Python symbols")


def check_requires(proj: Project, w: WheelInfo) -> Check:
    want = Requirement(proj.torch_requirement)
    found = []
    for line in w.metadata.get_all("Requires-Dist") or []:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        if req.name == want.name and req.marker is None:
            found.append(req)
    if len(found) == 1 and found[0].specifier == SpecifierSet(str(want.specifier)):
        return Check("requires", True)
    return Check("requires", False, f"METADATA needs 'Requires-Dist: {want}', has {[str(r) for r in found]}")


def libraries(proj: Project, w: WheelInfo) -> dict[str, str]:
    """backend -> path in wheel of the project's own libraries."""
    out = {}
    for path in w.files:
        for lib, backend in zip(proj.own_libraries, ("cpu", "cuda")):
            if PurePosixPath(path).name == lib:
                out[backend] = path
    return out


def check_variant(proj: Project, w: WheelInfo) -> Check:
    libs = libraries(proj, w)
    label = w.local
    cuda = (w.build_info or {}).get("cuda")
    if "cpu" not in libs:
        return Check("variant", False, f"no {proj.own_libraries[0]} in the wheel")
    if label == "cpu":
        if "cuda" in libs or cuda:
            return Check("variant", False, f"+cpu wheel with a CUDA library ({libs.get('cuda')}) or cuda={cuda}")
        return Check("variant", True)
    match = re.fullmatch(r"cu(\d+)", label)
    if not match:
        return Check("variant", False, f"local label +{label or '(none)'} is neither +cpu nor +cuXYZ")
    if "cuda" not in libs:
        return Check("variant", False, f"+{label} wheel without {proj.own_libraries[1]}")
    if not cuda or "cu" + str(cuda).replace(".", "") != label:
        return Check("variant", False, f"+{label} but _build_info.json says cuda={cuda}")
    return Check("variant", True)


def check_bundled(proj: Project, w: WheelInfo, torch_names: set[str]) -> Check:
    found = []
    for path in w.files:
        base = PurePosixPath(path).name
        soname = re.sub(r"-[0-9a-f]{8}(\.so.*)$", r"\1", base)  # auditwheel's hashed names
        why = foreign_library(proj, soname, torch_names) if ".so" in base else None
        if why:
            found.append(f"{path} ({why})")
        elif re.match(r"[^/]+\.libs/", path):
            found.append(f"{path} (vendored by auditwheel)")
    return Check("bundled", not found, ", ".join(found))


def check_runpath(w: WheelInfo) -> Check:
    """Torch's lib/ first; the CUDA library may add the NVIDIA wheels' lib/
    directories of its CUDA libraries, nothing else."""
    bad = [f"{e.path}: RUNPATH {':'.join(e.runpath) or '(none)'}"
           + (f", RPATH {':'.join(e.rpath)}" if e.rpath else "")
           for e in w.elf if e.runpath[:1] != [RUNPATH] or e.rpath
           or any(not p.startswith("$ORIGIN/../nvidia/") for p in e.runpath[1:])]
    if not w.elf:
        return Check("runpath", False, "no ELF libraries in the wheel")
    return Check("runpath", not bad, "; ".join(bad))


def check_cuda_libraries(proj: Project, w: WheelInfo) -> Check:
    """A CUDA variant requires the NVIDIA wheel of each CUDA library it
    links ([tool.ext] cuda-libraries), at the range for its CUDA major, and
    NEEDs its soname; the +cpu wheel requires none."""
    cuda = (w.build_info or {}).get("cuda")
    want = extconfig.cuda_libraries(proj.config, cuda)
    requires = [Requirement(r) for r in w.metadata.get_all("Requires-Dist") or []]
    nvidia = {r.name: str(r.specifier) for r in requires if r.name.startswith("nvidia-")}
    expected = {lib.package: str(SpecifierSet(lib.versions)) for lib in want.values()}
    problems = [] if nvidia == expected else [f"Requires-Dist has {nvidia or 'no NVIDIA wheel'}, "
                                               f"expected {expected or 'none'}"]
    needed = {n for e in w.elf for n in e.needed}
    problems += [f"no library NEEDs {lib.soname} ({name})" for name, lib in want.items()
                 if lib.soname not in needed]
    return Check("cuda-libraries", not problems, "; ".join(problems)
                 or ", ".join(f"{p}{v}" for p, v in expected.items()))


def check_size(proj: Project, w: WheelInfo) -> Check:
    budget = proj.size_budget_mb * 1024 * 1024
    return Check("size", w.size <= budget,
                 "" if w.size <= budget else f"{human_size(w.size)} > budget {proj.size_budget_mb} MB")


def check_build_info(proj: Project, w: WheelInfo) -> Check:
    info = w.build_info
    if info is None:
        return Check("build-info", False, "no _build_info.json")
    problems = [f"missing {k}" for k in BUILD_INFO_KEYS if k not in info]
    expect = {"name": proj.name, "import_name": proj.import_name, "ops_namespace": proj.ops_namespace,
              "version": str(w.version), "torch_target": proj.torch_target}
    problems += [f"{k}={info.get(k)!r}, expected {v!r}" for k, v in expect.items()
                 if k in info and info[k] != v]
    if not info.get("git_commit") or not info.get("torch_headers"):
        problems.append("git_commit/torch_headers empty")
    if bool(info.get("cuda")) != bool(info.get("cuda_archs")):
        problems.append(f"cuda={info.get('cuda')!r} but cuda_archs={info.get('cuda_archs')!r}")
    path = next(p for p in w.files if p.endswith("_build_info.json"))
    if path != f"{proj.import_name}/_build_info.json":
        problems.append(f"at {path}, expected {proj.import_name}/_build_info.json")
    return Check("build-info", not problems, "; ".join(problems))


def check_twine(w: WheelInfo) -> Check:
    res = run([tool("twine"), "check", "--strict", str(w.path)], capture=True, stream=False,
              check=False, echo=False, env={"NO_COLOR": "1"})
    text = re.sub(r"\x1b\[[0-9;]*m", "", res.output)
    issues = [ln.strip() for ln in text.splitlines() if re.match(r"\s*(WARNING|ERROR)", ln)]
    if res.returncode == 0 and not issues:
        return Check("twine", True)
    return Check("twine", False, "; ".join(issues) or text.strip()[-200:])


def archs_text(w: WheelInfo) -> str:
    archs = (w.build_info or {}).get("cuda_archs") or []
    return ",".join(a.replace("-real", "") if a.endswith("-real") else f"{a}+ptx" for a in archs) or "-"


def verify_wheel(proj: Project, path: Path, torch_names: set[str]) -> tuple[WheelInfo | None, list[Check]]:
    try:
        w = inspect(path)
    except FactoryError as e:
        return None, [Check("readable", False, str(e))]
    return w, [
        check_tags(proj, w),
        check_glibc(w),
        check_abi3audit(w),
        check_requires(proj, w),
        check_variant(proj, w),
        check_bundled(proj, w, torch_names),
        check_runpath(w),
        check_cuda_libraries(proj, w),
        check_size(proj, w),
        check_build_info(proj, w),
        check_twine(w),
    ]


def verify(proj: Project, args) -> bool:
    """args.wheel: the --wheel paths (default: wheelhouse/'s wheels)."""
    step("verify")
    wheels = select(proj, proj.wheelhouse, args.wheel)
    if not wheels:
        raise FactoryError(f"no {proj.name} {proj.version} wheels in {proj.wheelhouse}: run `repair` first")
    torch_names = torch_library_names()
    rows, all_ok = [], True
    for path in wheels:
        w, checks = verify_wheel(proj, path, torch_names)
        ok = all(c.ok for c in checks)
        all_ok &= ok
        rows.append((path.name, human_size(path.stat().st_size), ".".join(w.tags) if w else "?",
                     archs_text(w) if w else "?", symbols_text(w) if w else "?",
                     "PASS" if ok else "FAIL", checks))
    headers = ("wheel", "size", "tags", "archs", "needs (newest symbol versions)", "verdict")
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(wd) for h, wd in zip(headers, widths))
    print(line + "\n" + "-" * len(line))
    for row in rows:
        print("  ".join(str(c).ljust(wd) for c, wd in zip(row[:6], widths)))
        for c in row[6]:  # one line per check, passed or not
            print(f"    {'ok    ' if c.ok else 'FAILED'} {c.name}" + (f": {c.detail}" if c.detail else ""))
    log(f"verify: {sum(r[5] == 'PASS' for r in rows)}/{len(rows)} wheel(s) pass")
    return all_ok
