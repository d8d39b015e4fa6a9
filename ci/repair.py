"""`repair`: auditwheel repair of each dist/ wheel into wheelhouse/.

The --exclude list is derived, per wheel, from its libraries' NEEDED
entries: whatever the installed torch's lib/ provides and whatever belongs to
CUDA is left to torch at run time; anything else auditwheel would graft
(vendor) into <name>.libs/, and that is refused here with the reason.
"""

from __future__ import annotations

import json
import platform
import re
import shutil
import tempfile
from pathlib import Path

from .project import FactoryError, Project, human_size, log, run, source_date_epoch, step, tool
from .wheels import foreign_library, inspect, select, torch_library_names


def excludes_for(proj: Project, whl: Path, torch_names: set[str]) -> dict[str, str]:
    """NEEDED sonames to leave out of the wheel -> why ('torch' / 'CUDA')."""
    out = {}
    for elf in inspect(whl).elf:
        for soname in elf.needed:
            why = foreign_library(proj, soname, torch_names)
            if why:
                out[soname] = why
    return dict(sorted(out.items()))


def best_platform(whl: Path) -> str:
    """The most compatible platform tag the wheel's symbol versions allow
    (auditwheel show's sym_tag), e.g. manylinux_2_34_x86_64 on Debian 12."""
    res = run([tool("auditwheel"), "show", "--json", str(whl)], capture=True, stream=False)
    try:
        report = json.loads(res.output[res.output.index("{"):])
    except ValueError:
        raise FactoryError(f"cannot read `auditwheel show --json` output:\n{res.output}") from None
    tag = report.get("sym_tag") or report.get("overall_tag")
    if not tag or not tag.startswith(("manylinux", "musllinux")):
        raise FactoryError(f"{whl.name}: auditwheel finds no manylinux tag for it (says {tag!r})")
    return tag


def glibc_of(tag: str) -> tuple[int, int]:
    """(2, 28) from manylinux_2_28_x86_64."""
    match = re.match(r"manylinux_(\d+)_(\d+)_", tag)
    if not match:
        raise FactoryError(f"{tag!r} is not a manylinux_X_Y_<arch> tag")
    return int(match[1]), int(match[2])


def target_platform(proj: Project, whl: Path) -> str:
    """The platform tag to repair to: manylinux_<[tool.ext] manylinux-glibc>
    (torch's own floor: an older tag would promise nothing more) where the
    libraries' symbol versions allow it, else the tag they need, and the log
    says what that costs."""
    best = best_platform(whl)
    floor = f"manylinux_{proj.manylinux_glibc.replace('.', '_')}_{best.split('_', 3)[3]}"
    if glibc_of(best) <= glibc_of(floor):
        return floor
    log(f"{whl.name}: its libraries need {best} (this machine's glibc), so it installs only on "
        f"glibc >= {'.'.join(map(str, glibc_of(best)))}; a build in the image (docker/) makes {floor}")
    return best


def vendored(whl: Path) -> list[str]:
    """Files auditwheel grafted into <something>.libs/."""
    return [p for p in inspect(whl).files if re.match(r"[^/]+\.libs/", p)]


def explain_vendored(original: Path, files: list[str]) -> str:
    lines = []
    info = inspect(original)
    for path in files:
        base = Path(path).name
        stem = re.sub(r"-[0-9a-f]{8}(\.so.*)$", r"\1", base)  # auditwheel appends a hash
        users = [Path(e.path).name for e in info.elf if stem in e.needed]
        lines.append(f"  {path}: NEEDED by {', '.join(users) or '?'} as {stem}; torch's lib/ "
                     f"does not provide it and it is not a CUDA library")
    return "\n".join(lines)


def repair(proj: Project, args) -> list[Path]:
    """args.wheel: the --wheel paths (default: dist/'s wheels)."""
    step("repair")
    wheels = select(proj, proj.dist_dir, args.wheel)
    if not wheels:
        raise FactoryError(f"no {proj.name} {proj.version} wheels in {proj.dist_dir}: run `build` first")
    torch_names = torch_library_names()
    proj.wheelhouse.mkdir(exist_ok=True)
    out = []
    for whl in wheels:
        excludes = excludes_for(proj, whl, torch_names)
        plat = target_platform(proj, whl)
        log(f"{whl.name}: --plat {plat}; leaving to torch at run time: "
            + (", ".join(f"{k} ({v})" for k, v in excludes.items()) or "nothing"))
        # auditwheel's --plat takes this machine's tags only: another
        # machine's wheel (a cross build) is repaired to the best tag its
        # symbols allow ("auto"), then tagged `plat`, which is not older.
        foreign = not plat.endswith("_" + platform.machine())
        with tempfile.TemporaryDirectory(dir=proj.wheelhouse, prefix=".repair-") as tmp:
            # --only-plat: exactly that tag (auditwheel would add manylinux_2_24
            # for symbols that old; torch itself needs 2.28, so it means nothing).
            cmd = [tool("auditwheel"), "repair", "--plat", "auto" if foreign else plat, "--only-plat", "-w", tmp]
            for soname in excludes:
                cmd += ["--exclude", soname]
            env = {"SOURCE_DATE_EPOCH": source_date_epoch(proj)}
            run([*cmd, str(whl)], env=env)
            made = list(Path(tmp).glob("*.whl"))
            if foreign and len(made) == 1:
                run([tool("wheel"), "tags", "--remove", "--platform-tag", plat, str(made[0])], env=env)
                made = list(Path(tmp).glob("*.whl"))
            if len(made) != 1:
                raise FactoryError(f"auditwheel wrote {made or 'nothing'} for {whl.name}")
            grafted = vendored(made[0])
            if grafted:
                raise FactoryError(
                    f"{whl.name}: auditwheel vendored {len(grafted)} file(s) into the wheel; "
                    f"a {proj.name} wheel must rely on torch (and its CUDA) at run time only:\n"
                    + explain_vendored(whl, grafted)
                    + "\nLink it statically or drop the dependency (the repaired wheel was discarded).")
            target = proj.wheelhouse / made[0].name
            shutil.move(str(made[0]), target)
        log(f"repaired: {target.name} ({human_size(target.stat().st_size)})")
        out.append(target)
    return out
