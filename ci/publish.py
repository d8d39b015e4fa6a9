"""`publish`: twine upload of the wheelhouse wheels to a private index.

Credentials come only from the environment (TWINE_USERNAME / TWINE_PASSWORD)
or twine's keyring support: never from the command line, never printed (the
password is scrubbed from all output as a second line of defence). Each wheel
is uploaded by its own twine run, retried with backoff on transient errors
(5xx, dropped connections).

What happened is decided from facts, never from twine's printed text: its
exit status, the HTTP status the server answered (twine runs in a small
driver that records it, or the kind of error that kept it from getting
one), and, where a status is ambiguous (400), whether the index's simple page
lists the file.
"""

from __future__ import annotations

import html.parser
import json
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from .project import FactoryError, Project, add_secret, log, run, step
from .wheels import select

TRANSIENT = ("server", "unreachable")

# Runs twine's own command line (the factory's twine) and writes to argv[1]
# what the upload ended with: the server's HTTP status, or the class of the
# error that kept twine from getting one.
DRIVER = """
import json, sys
import requests
from twine import cli, exceptions
result = {"status": None, "error": None}
try:
    cli.configure_output()
    failed = bool(cli.dispatch(sys.argv[2:]))
except requests.HTTPError as e:
    failed = True
    result.update(status=e.response.status_code, error=f"HTTP {e.response.status_code} {e.response.reason}")
except (requests.ConnectionError, requests.Timeout) as e:
    failed = True
    result["error"] = "unreachable: " + type(e).__name__
except exceptions.NonInteractive as e:
    failed = True
    result["error"] = "credentials: " + str(e)
except exceptions.TwineException as e:
    failed = True
    result["error"] = type(e).__name__ + ": " + str(e)
with open(sys.argv[1], "w") as out:
    json.dump(result, out)
sys.exit(1 if failed else 0)
"""


class _Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.names: set[str] = set()

    def handle_starttag(self, tag, attrs):
        href = dict(attrs).get("href") if tag == "a" else None
        if href:
            self.names.add(urllib.request.url2pathname(href.split("#")[0].rsplit("/", 1)[-1]))


def simple_url(repository_url: str | None) -> str | None:
    """The index's simple (PEP 503) root for an upload URL: a legacy-upload
    endpoint's sibling simple/, else simple/ under it (pypiserver's layout)."""
    if not repository_url:
        return None
    base = repository_url.rstrip("/") + "/"
    return base[: -len("legacy/")] + "simple/" if base.endswith("/legacy/") else base + "simple/"


def on_index(proj: Project, simple: str | None, filename: str) -> bool | None:
    """Whether the index's project page lists `filename` (None: cannot tell)."""
    if not simple:
        return None
    try:
        with urllib.request.urlopen(f"{simple}{proj.normalized}/", timeout=30) as page:
            parser = _Links()
            parser.feed(page.read().decode(errors="replace"))
    except urllib.error.HTTPError as e:
        return False if e.code == 404 else None
    except (OSError, ValueError):
        return None
    return filename in parser.names


def classify(result: dict, listed: bool | None) -> tuple[str, str]:
    """(kind, detail) of a failed upload from what the driver recorded."""
    status, error = result.get("status"), result.get("error") or "twine failed"
    if status in (401, 403):
        return "auth", error
    if status == 409 or (status == 400 and listed):
        return "exists", error
    if status and status >= 500:
        return "server", error
    if error.startswith("unreachable"):
        return "unreachable", error
    if error.startswith("credentials"):
        return "credentials", error
    return "other", error


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


def upload(cmd: list[str], whl: Path) -> tuple[int, dict, float]:
    """One twine upload: (exit status, the driver's record, seconds)."""
    with tempfile.TemporaryDirectory() as tmp:
        record = Path(tmp) / "result.json"
        log(f"$ twine {' '.join(cmd)} {whl}")  # the driver's source is not worth echoing
        res = run([sys.executable, "-c", DRIVER, str(record), *cmd, str(whl)], capture=True,
                  check=False, echo=False, env={"NO_COLOR": "1"})
        try:
            result = json.loads(record.read_text())
        except (OSError, ValueError):  # it died before writing: a crash, not an answer
            result = {"status": None, "error": f"twine exited {res.returncode} without a result"}
    return res.returncode, result, res.seconds


def publish(proj: Project, args, backoff: float = 2.0) -> list[Path]:
    """args: --wheel, --repository-url / --repository, --skip-existing, --retries."""
    step("publish")
    url, repository = args.repository_url, args.repository
    if bool(url) == bool(repository):
        raise FactoryError("publish needs exactly one of --repository-url URL or --repository NAME")
    add_secret(os.environ.get("TWINE_PASSWORD"))
    wheels = select(proj, proj.wheelhouse, args.wheel)
    if not wheels:
        raise FactoryError(f"no {proj.name} {proj.version} wheels in {proj.wheelhouse}: run `repair` first")
    target = url or f"repository {repository!r} (~/.pypirc)"
    simple = simple_url(url)
    # --verbose: the server's answer is in the log for people; twine prints
    # the password as <hidden>.
    cmd = ["upload", "--non-interactive", "--disable-progress-bar", "--verbose"]
    cmd += ["--repository-url", url] if url else ["--repository", repository]
    if not os.environ.get("TWINE_PASSWORD"):
        log("TWINE_PASSWORD is not set: twine will try keyring")
    done = []
    for whl in wheels:
        # twine >= 6 accepts --skip-existing for PyPI only; the factory applies
        # it itself: a file the index already lists is not uploaded again.
        if args.skip_existing and on_index(proj, simple, whl.name):
            log(f"{whl.name} is already on {target}: skipped (--skip-existing)")
            done.append(whl)
            continue
        for attempt in range(args.retries + 1):
            rc, result, seconds = upload(cmd, whl)
            if rc == 0:
                log(f"published {whl.name} to {target} in {seconds:.1f} s")
                done.append(whl)
                break
            status = result.get("status")
            kind, detail = classify(result, on_index(proj, simple, whl.name) if status == 400 else None)
            if kind == "exists" and args.skip_existing:
                log(f"{whl.name} is already on {target}: skipped (--skip-existing)")
                done.append(whl)
                break
            if kind in TRANSIENT and attempt < args.retries:
                wait = backoff * 2 ** attempt
                log(f"transient failure ({kind}: {detail}); retry {attempt + 1}/{args.retries} in {wait:.0f} s")
                time.sleep(wait)
                continue
            if kind == "exists" and attempt > 0:
                detail += "; an earlier, interrupted attempt may have landed it"
            raise FactoryError(explain(kind, detail, whl.name, target))
    return done
