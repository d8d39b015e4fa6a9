"""Looking inside wheels: file-name tags, METADATA, _build_info.json and the
ELF facts (NEEDED, RUNPATH, Python symbols) of each shared library. Shared by
repair, verify, index, test and publish."""

from __future__ import annotations

import email.parser
import fnmatch
import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerNeedSection
from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from packaging.version import Version

import extconfig

from .project import FactoryError, Project, log, torch_lib_dir

# Libraries that belong to the CUDA toolkit or driver: never bundled, never
# grafted (torch's wheels bring their own, the driver brings libcuda).
CUDA_PATTERNS = ("libcuda.so*", "libcudart*", "libnv*", "libcu*")
# torch's own libraries, for wheels checked where torch's lib/ is not at hand.
TORCH_PATTERNS = ("libtorch*", "libc10*", "libshm*")


@dataclass
class ElfInfo:
    path: str                 # path inside the wheel
    needed: list[str]
    runpath: list[str]        # DT_RUNPATH entries
    rpath: list[str]          # DT_RPATH entries (should be none)
    python_symbols: list[str]  # undefined Py*/_Py* symbols (C-API use)
    machine: str              # what the code runs on, as wheel tags spell it (x86_64, aarch64)
    # symbol versions it needs, by prefix: {"GLIBC": ["2.2.5", "2.17"], "GLIBCXX": [...], ...}
    version_needs: dict[str, list[str]] = field(default_factory=dict)

    def highest(self, prefix: str) -> str | None:
        """The newest numeric version of `prefix` (GLIBC, GLIBCXX, CXXABI) it needs."""
        numeric = [v for v in self.version_needs.get(prefix, []) if version_key(v)]
        return max(numeric, key=version_key) if numeric else None


def version_key(version: str) -> tuple[int, ...]:
    """(2, 17) for '2.17'; () for a non-numeric one (CXXABI_FLOAT128)."""
    return tuple(int(p) for p in version.split(".")) if re.fullmatch(r"\d+(\.\d+)*", version) else ()


def version_needs(elf: ELFFile) -> dict[str, list[str]]:
    """The .gnu.version_r entries (what `objdump -T` shows as @GLIBC_2.17),
    split at the last underscore: GLIBC_2.17 -> GLIBC, 2.17."""
    out: dict[str, set[str]] = {}
    for section in elf.iter_sections():
        if isinstance(section, GNUVerNeedSection):
            for _verneed, auxes in section.iter_versions():
                for aux in auxes:
                    prefix, _, version = aux.name.rpartition("_")
                    if prefix:
                        out.setdefault(prefix, set()).add(version)
    return {k: sorted(v, key=lambda x: (version_key(x), x)) for k, v in sorted(out.items())}


@dataclass
class WheelInfo:
    path: Path
    name: str                 # normalised distribution name
    version: Version
    tags: list[str]           # python-abi-platform from the file name
    files: dict[str, int]     # path in wheel -> uncompressed size
    metadata: email.message.Message
    wheel_tags: list[str]     # Tag: lines of the WHEEL file
    build_info: dict | None
    elf: list[ElfInfo] = field(default_factory=list)

    @property
    def local(self) -> str:
        return self.version.local or ""

    @property
    def size(self) -> int:
        return self.path.stat().st_size


def parse_tags(path: Path) -> tuple[str, Version, list[str]]:
    try:
        name, version, _build, tags = parse_wheel_filename(path.name)
    except InvalidWheelFilename as e:
        raise FactoryError(f"{path.name}: not a wheel file name ({e})") from None
    return str(name), version, sorted(str(t) for t in tags)


def elf_info(data: bytes, path: str) -> ElfInfo | None:
    if not data.startswith(b"\x7fELF"):
        return None
    elf = ELFFile(io.BytesIO(data))
    needed, runpath, rpath = [], [], []
    for section in elf.iter_sections():
        if isinstance(section, DynamicSection):
            for tag in section.iter_tags():
                if tag.entry.d_tag == "DT_NEEDED":
                    needed.append(tag.needed)
                elif tag.entry.d_tag == "DT_RUNPATH":
                    runpath += tag.runpath.split(":")
                elif tag.entry.d_tag == "DT_RPATH":
                    rpath += tag.rpath.split(":")
    python_symbols = []
    dynsym = elf.get_section_by_name(".dynsym")
    if dynsym is not None:
        for sym in dynsym.iter_symbols():
            if sym["st_shndx"] == "SHN_UNDEF" and (sym.name.startswith("Py") or sym.name.startswith("_Py")):
                python_symbols.append(sym.name)
    machine = {"EM_X86_64": "x86_64", "EM_AARCH64": "aarch64"}.get(elf["e_machine"], elf["e_machine"])
    return ElfInfo(path, needed, runpath, rpath, sorted(python_symbols), machine, version_needs(elf))


def inspect(path: Path) -> WheelInfo:
    """Everything the verbs need to know about one wheel."""
    name, version, tags = parse_tags(path)
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise FactoryError(f"{path}: not a readable wheel ({e})") from None
    with zf:
        files = {i.filename: i.file_size for i in zf.infolist() if not i.is_dir()}
        dist_info = [p for p in files if p.count("/") == 1 and p.split("/")[0].endswith(".dist-info")]
        meta_path = next((p for p in dist_info if p.endswith("/METADATA")), None)
        wheel_path = next((p for p in dist_info if p.endswith("/WHEEL")), None)
        if meta_path is None or wheel_path is None:
            raise FactoryError(f"{path.name}: no .dist-info/METADATA or WHEEL inside")
        metadata_text = zf.read(meta_path).decode()
        wheel_text = zf.read(wheel_path).decode()
        info_path = next((p for p in files if p.endswith("/_build_info.json")), None)
        build_info = None
        if info_path:
            try:
                build_info = json.loads(zf.read(info_path))
            except ValueError:
                build_info = {"__invalid__": True}
        elf = [e for p in files if PurePosixPath(p).suffix == ".so" or ".so." in p
               for e in [elf_info(zf.read(p), p)] if e is not None]
    metadata = email.parser.Parser().parsestr(metadata_text)
    wheel_meta = email.parser.Parser().parsestr(wheel_text)
    return WheelInfo(path, name, version, tags, files, metadata,
                     wheel_meta.get_all("Tag") or [], build_info, elf)


def read_metadata(path: Path) -> bytes:
    """The raw .dist-info/METADATA bytes (for PEP 658 .metadata files)."""
    with zipfile.ZipFile(path) as zf:
        meta = [n for n in zf.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
        if len(meta) != 1:
            raise FactoryError(f"{path.name}: expected one .dist-info/METADATA, found {meta}")
        return zf.read(meta[0])


def select(proj: Project, directory: Path, explicit: list[Path] | None = None) -> list[Path]:
    """The project's wheels to work on: the explicit --wheel paths, else the
    wheels in `directory` of this project's current base version built from
    the sources as they are now (others are named and ignored: a wheel of
    other sources would test, repair or ship something the tree no longer is)."""
    if explicit:
        missing = [str(p) for p in explicit if not Path(p).is_file()]
        if missing:
            raise FactoryError(f"no such wheel: {', '.join(missing)}")
        return [Path(p).resolve() for p in explicit]
    chosen, other, stale = [], [], []
    digest = extconfig.source_digest(proj.root)
    for path in sorted(directory.glob("*.whl")) if directory.is_dir() else []:
        try:
            name, version, _ = parse_tags(path)
        except FactoryError:
            other.append(path.name)
            continue
        if name != proj.normalized or version.public != Version(proj.version).public:
            other.append(path.name)
        elif (inspect(path).build_info or {}).get("sources") != digest:
            stale.append(path.name)
        else:
            chosen.append(path)
    if other:
        log(f"ignoring in {directory}: {', '.join(other)} (not {proj.name} {proj.version})")
    if stale:
        log(f"ignoring in {directory}: {', '.join(stale)} (STALE: built from other sources than "
            "the tree's; ./ci/factory build makes a current one)")
    return chosen


def matches(name: str, patterns: tuple[str, ...] | list[str]) -> bool:
    return any(fnmatch.fnmatch(name, p) for p in patterns)


def torch_library_names() -> set[str]:
    """File names in the factory's torch/lib (what torch provides at run time)."""
    lib = torch_lib_dir()
    return {p.name for p in lib.iterdir()} if lib.is_dir() else set()


def foreign_library(proj: Project, basename: str, torch_names: set[str]) -> str | None:
    """Why `basename` must not be shipped in (or grafted into) the wheel:
    'torch' / 'CUDA', or None if it may be."""
    if basename in proj.own_libraries:
        return None
    if basename in torch_names or matches(basename, TORCH_PATTERNS):
        return "torch"
    if matches(basename, CUDA_PATTERNS):
        return "CUDA"
    return None
