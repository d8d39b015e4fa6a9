"""Debian's archive without touching the system: apt with a private state
under build/toolchains/ (this machine's mirror, any suite and architecture),
and .debs unpacked, never installed. What the add-ons fetch comes this way."""

from __future__ import annotations

import platform
import re
import shutil
import subprocess
from pathlib import Path

from ci.project import FactoryError, Project, run

KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
DPKG_ARCHS = {"x86_64": "amd64", "aarch64": "arm64"}


def os_release() -> dict[str, str]:
    out = {}
    for line in Path("/etc/os-release").read_text().splitlines():
        if "=" in line:
            key, value = line.split("=", 1)
            out[key] = value.strip().strip('"')
    return out


def apt_entries() -> list[tuple[list[str], list[str]]]:
    """(URIs, suites) of the host's apt sources, deb822 and one-line format."""
    entries = []
    sources_d = Path("/etc/apt/sources.list.d")
    for path in sorted(sources_d.glob("*.sources")) if sources_d.is_dir() else []:
        for para in re.split(r"\n\s*\n", path.read_text()):
            fields: dict[str, str] = {}
            for line in para.splitlines():
                if line.strip().startswith("#") or ":" not in line:
                    continue
                key, value = line.split(":", 1)
                fields[key.strip().lower()] = value.strip()
            if "deb" in fields.get("types", "").split() and fields.get("uris"):
                entries.append((fields["uris"].split(), fields.get("suites", "").split()))
    lists = [Path("/etc/apt/sources.list")] + (sorted(sources_d.glob("*.list")) if sources_d.is_dir() else [])
    for path in lists:
        if not path.is_file():
            continue
        for line in path.read_text().splitlines():
            words = re.sub(r"\[[^]]*\]", "", line.split("#", 1)[0]).split()
            if len(words) >= 3 and words[0] == "deb":
                entries.append(([words[1]], [words[2]]))
    return entries


def debian_source() -> tuple[str, str]:
    """(mirror URI, suite) of the host's apt source for its own release
    (os-release VERSION_CODENAME): where Debian packages and debootstrap
    trees come from here."""
    suite = os_release().get("VERSION_CODENAME", "")
    if not suite:
        raise FactoryError("/etc/os-release has no VERSION_CODENAME: not a Debian-like host")
    for uris, suites in apt_entries():
        if suite in suites:
            return uris[0], suite
    raise FactoryError(f"no apt source for suite {suite!r} in /etc/apt/sources.list(.d)")


class Apt:
    """apt-get / apt-cache with a private state for one Debian suite."""

    def __init__(self, proj: Project, suite: str, dpkg_arch: str | None = None):
        self.suite = suite
        dpkg_arch = dpkg_arch or DPKG_ARCHS[platform.machine()]
        self.dir = proj.build_dir / "toolchains" / f"apt-{suite}-{dpkg_arch}"
        self.options = [
            "-o", f"Dir::State::Lists={self.dir / 'lists'}",
            "-o", f"Dir::Cache={self.dir / 'cache'}",
            "-o", "Dir::Etc::SourceList=/dev/null",
            "-o", f"Dir::Etc::SourceParts={self.dir / 'sources.list.d'}",
            "-o", "Dir::Etc::Preferences=/dev/null",
            "-o", f"Dir::Etc::PreferencesParts={self.dir / 'preferences.d'}",
            "-o", "Dir::State::status=/dev/null",  # nothing is installed, as far as it knows
            "-o", f"APT::Architecture={dpkg_arch}",
            "-o", "APT::Sandbox::User=root",
            "-o", "Debug::NoLocking=1",
        ]

    def setup(self) -> None:
        if not shutil.which("apt-get"):
            raise FactoryError("apt-get is not here: this add-on takes its packages from Debian's "
                               "archive (a Debian or Ubuntu host)")
        if not KEYRING.exists():
            raise FactoryError(f"{KEYRING} is missing: apt-get install debian-archive-keyring")
        mirror, _ = debian_source()
        for sub in ("lists/partial", "cache/archives/partial", "sources.list.d", "preferences.d"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        (self.dir / "sources.list.d" / f"{self.suite}.sources").write_text(
            f"Types: deb\nURIs: {mirror}\nSuites: {self.suite}\nComponents: main contrib non-free\n"
            f"Signed-By: {KEYRING}\n")
        run(["apt-get", *self.options, "update", "-qq"])

    def version(self, package: str) -> str:
        out = run(["apt-cache", *self.options, "show", "--no-all-versions", package],
                  capture=True, stream=False, echo=False, check=False).output
        match = re.search(r"^Version: (\S+)", out, re.M)
        if not match:
            raise FactoryError(f"Debian {self.suite} has no {package} for this architecture")
        return match[1]

    def download(self, packages: tuple[str, ...], dest: Path) -> list[Path]:
        dest.mkdir(parents=True, exist_ok=True)
        wanted = {p: self.version(p) for p in packages}
        files = []
        for name, version in wanted.items():
            # apt's file names: name_version_arch.deb, ':' escaped as %3a
            found = list(dest.glob(f"{name}_{version.replace(':', '%3a')}_*.deb"))
            if found:
                files.append(found[0])
                continue
            run(["apt-get", *self.options, "download", "-qq", f"{name}={version}"], cwd=dest)
            found = list(dest.glob(f"{name}_{version.replace(':', '%3a')}_*.deb"))
            if not found:
                raise FactoryError(f"apt-get download {name}={version} left no .deb in {dest}")
            files.append(found[0])
        return files

    def download_closure(self, packages: tuple[str, ...], dest: Path) -> list[Path]:
        """`packages` and everything they depend on (nothing counts as
        installed): what an empty system of this suite and architecture
        would need, as .debs in dest."""
        dest.mkdir(parents=True, exist_ok=True)
        run(["apt-get", *self.options, "-o", f"Dir::Cache::Archives={dest}", "install", "-y", "-qq",
             "--download-only", "--no-install-recommends", *packages], env={"DEBIAN_FRONTEND": "noninteractive"})
        return sorted(dest.glob("*.deb"))


def unpack(deb: Path, dest: Path, parts: tuple[str, ...] = ()) -> None:
    """The files of `deb` (only `parts`, tar wildcards, when given) under dest."""
    dest.mkdir(parents=True, exist_ok=True)
    tar = ["tar", "-x", "-C", str(dest)] + (["--wildcards", *parts] if parts else [])
    with subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE) as src:
        res = subprocess.run(tar, stdin=src.stdout, capture_output=True, text=True)
        src.stdout.close()
    if src.returncode != 0 or res.returncode != 0:
        raise FactoryError(f"unpacking {deb.name} failed (dpkg-deb {src.returncode}, tar "
                           f"{res.returncode}): {res.stderr.strip()[-500:]}")
