"""`publish`: twine upload of the wheelhouse wheels to a private index.

Credentials come only from the environment (TWINE_USERNAME / TWINE_PASSWORD)
or twine's keyring support: never from the command line, never printed (the
password is scrubbed from all output as a second line of defence). Each wheel
is uploaded by its own twine call, retried with backoff on transient errors
(5xx, dropped connections); the common failures get a message that says what
to do.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from .project import FactoryError, Project, add_secret, log, run, step, tool
from .wheels import select

TRANSIENT = ("server", "unreachable")


def classify(output: str) -> tuple[str, str]:
    """(kind, detail) of a failed twine upload from its output."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", output)
    flat = re.sub(r"\s+", " ", text)  # rich wraps long lines
    status = re.search(r"HTTPError:\s*(\d{3})\s*([^\n]*)", text)
    code = int(status[1]) if status else None
    last = next((ln.strip() for ln in reversed(text.splitlines()) if ln.strip()), "")
    if code in (401, 403):
        return "auth", f"HTTP {code} {status[2].strip()}"
    if code == 409 or re.search(r"already exist", flat, re.I):
        return "exists", f"HTTP {code}" if code else last
    if code and code >= 500:
        return "server", f"HTTP {code} {status[2].strip()}"
    if re.search(r"Non-interactive mode|username.*(required|missing)|password.*(required|missing)|"
                 r"No password provided|Credential not found|keyring", text, re.I):
        return "credentials", last
    if re.search(r"ConnectionError|Connection refused|Max retries exceeded|Failed to establish|"
                 r"Name or service not known|NewConnectionError|Temporary failure in name resolution|"
                 r"RemoteDisconnected|Connection reset|Connection aborted|timed out", text, re.I):
        return "unreachable", last
    return "other", last


def explain(kind: str, detail: str, wheel: str, target: str) -> str:
    return {
        "auth": f"{target} rejected the credentials ({detail}) uploading {wheel}: check "
                "TWINE_USERNAME and TWINE_PASSWORD in the environment (or the keyring entry for "
                "this repository); nothing was uploaded for it",
        "exists": f"{wheel} already exists on {target} ({detail}): an index never replaces a "
                  "file; bump [tool.ext] version in pyproject.toml, or pass --skip-existing to "
                  "keep the file that is there",
        "server": f"{target} kept failing with a server error ({detail}) uploading {wheel}; "
                  "retry later or ask the index's operators",
        "unreachable": f"cannot reach {target} uploading {wheel} ({detail}): check the URL and "
                       "that the server is up and reachable from here",
        "credentials": f"no credentials for {target}: set TWINE_USERNAME and TWINE_PASSWORD in "
                       "the environment (or store them with keyring); the factory never takes "
                       f"them on the command line ({detail})",
    }.get(kind, f"twine upload of {wheel} to {target} failed: {detail}")


def publish(proj: Project, explicit: list[Path] | None, repository_url: str | None,
            repository: str | None, skip_existing: bool, retries: int = 3,
            backoff: float = 2.0) -> list[Path]:
    step("publish")
    if bool(repository_url) == bool(repository):
        raise FactoryError("publish needs exactly one of --repository-url URL or --repository NAME")
    add_secret(os.environ.get("TWINE_PASSWORD"))
    wheels = select(proj, proj.wheelhouse, explicit)
    if not wheels:
        raise FactoryError(f"no {proj.name} {proj.version} wheels in {proj.wheelhouse}: run `repair` first")
    target = repository_url or f"repository {repository!r} (~/.pypirc)"
    # --verbose: the server's answer (e.g. "already exists") is only shown then;
    # twine prints the password as <hidden>.
    cmd = [tool("twine"), "upload", "--non-interactive", "--disable-progress-bar", "--verbose"]
    cmd += ["--repository-url", repository_url] if repository_url else ["--repository", repository]
    # twine >= 6 accepts --skip-existing for PyPI only; the factory applies
    # it itself: an upload refused because the file exists counts as done.
    if not os.environ.get("TWINE_PASSWORD"):
        log("TWINE_PASSWORD is not set: twine will try keyring")
    done = []
    for whl in wheels:
        for attempt in range(retries + 1):
            res = run([*cmd, str(whl)], capture=True, check=False, env={"NO_COLOR": "1", "COLUMNS": "200"})
            if res.returncode == 0:
                log(f"published {whl.name} to {target} in {res.seconds:.1f} s")
                done.append(whl)
                break
            kind, detail = classify(res.output)
            if kind == "exists" and skip_existing:
                log(f"{whl.name} is already on {target}: skipped (--skip-existing)")
                done.append(whl)
                break
            if kind in TRANSIENT and attempt < retries:
                wait = backoff * 2 ** attempt
                log(f"transient failure ({kind}: {detail}); retry {attempt + 1}/{retries} in {wait:.0f} s")
                time.sleep(wait)
                continue
            if kind == "exists" and attempt > 0:
                detail += "; an earlier, interrupted attempt may have landed it"
            raise FactoryError(explain(kind, detail, whl.name, target))
    return done
