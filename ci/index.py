"""`index`: a PEP 503 simple index per variant (index/<label>/simple/), and
one per torch CUDA build a variant serves (index/cu128/simple/ holding the
CUDA 12 wheel: [tool.ext] torch-cuda-builds), with
PEP 658/714 metadata files and sha256 fragments, so that
`pip install --no-deps --require-hashes --index-url file://<repo>/index/cu130/simple
-r index/cu130/requirements.txt` installs exactly the wheel built (torch
installed first from its usual index); the factory prints that command.

Wheels already in an index stay listed (an index accumulates versions); the
pages are regenerated from the wheels present each time.
"""

from __future__ import annotations

import hashlib
import html
import shutil
from pathlib import Path
from urllib.parse import quote

from .project import FactoryError, Project, log, step
from .wheels import inspect, parse_tags, read_metadata, select

PAGE = """<!DOCTYPE html>
<html>
<head><meta name="pypi:repository-version" content="1.0"><title>{title}</title></head>
<body>
<h1>{title}</h1>
{links}
</body>
</html>
"""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def project_page(proj: Project, page_dir: Path) -> None:
    links = []
    for whl in sorted(page_dir.glob("*.whl")):
        metadata = read_metadata(whl)
        meta_file = whl.with_name(whl.name + ".metadata")
        if not meta_file.exists() or meta_file.read_bytes() != metadata:
            meta_file.write_bytes(metadata)
        meta_hash = sha256(metadata)
        requires_python = inspect(whl).metadata.get("Requires-Python")
        attrs = [f'href="{quote(whl.name)}#sha256={sha256(whl.read_bytes())}"']
        if requires_python:
            attrs.append(f'data-requires-python="{html.escape(requires_python)}"')
        # PEP 658 spelling and PEP 714's rename: old and new pip read one each.
        attrs.append(f'data-dist-info-metadata="sha256={meta_hash}"')
        attrs.append(f'data-core-metadata="sha256={meta_hash}"')
        links.append(f"<a {' '.join(attrs)}>{html.escape(whl.name)}</a><br>")
    (page_dir / "index.html").write_text(PAGE.format(title=f"Links for {proj.normalized}",
                                                     links="\n".join(links)))


def root_page(simple: Path) -> None:
    names = sorted(p.name for p in simple.iterdir() if p.is_dir())
    links = "\n".join(f'<a href="{quote(n)}/">{html.escape(n)}</a><br>' for n in names)
    (simple / "index.html").write_text(PAGE.format(title="Simple index", links=links))


def index(proj: Project, args) -> list[Path]:
    """args: --wheel (default: wheelhouse/'s wheels), --index-dir (default: index/)."""
    step("index")
    out = Path(args.index_dir or proj.index_dir)
    wheels = select(proj, proj.wheelhouse, args.wheel)
    if not wheels:
        raise FactoryError(f"no {proj.name} {proj.version} wheels in {proj.wheelhouse}: run `repair` first")
    simples = []
    pins: dict[tuple[Path, str], list[str]] = {}  # (simple, version) -> sha256 of its wheels
    for whl in wheels:
        _, version, _ = parse_tags(whl)
        cuda = (inspect(whl).build_info or {}).get("cuda")
        # its own label's index, and one per torch CUDA build it serves
        # ([tool.ext] torch-cuda-builds): where a torch+cu128 user looks.
        for name in dict.fromkeys([version.local or "default", *proj.torch_cuda_builds.get(cuda or "", [])]):
            simple = out / name / "simple"
            page_dir = simple / proj.normalized
            page_dir.mkdir(parents=True, exist_ok=True)
            if whl.resolve() != (page_dir / whl.name).resolve():
                shutil.copy2(whl, page_dir / whl.name)
            project_page(proj, page_dir)
            root_page(simple)
            simples.append(simple)
            pins.setdefault((simple, str(version)), []).append(sha256(whl.read_bytes()))
            log(f"{whl.name} -> {simple.as_uri()}")
    for (simple, version), digests in sorted(pins.items()):
        log(install_hint(proj, simple, version, digests))
    return sorted(set(simples))


def install_hint(proj: Project, simple: Path, version: str, digests: list[str]) -> str:
    """How to install a variant safely, written beside its index as requirements.txt.

    A bare name with torch from a second index is open to dependency
    confusion (an impostor with a higher version on that index wins), so the
    wheel is pinned to its exact version (local label included) and hashes,
    and installed from this index alone, torch first from the usual one."""
    hashes = " ".join(f"--hash=sha256:{d}" for d in sorted(digests))
    req = simple.parent / "requirements.txt"
    req.write_text(f"{proj.name}=={version} {hashes}\n")
    return (f"install +{version.split('+')[-1]}: pip install '{proj.torch_requirement}' && "
            f"pip install --no-deps --require-hashes --index-url {simple.as_uri()} -r {req}\n"
            f"[factory]   ({req}: {proj.name}=={version} {hashes})")
