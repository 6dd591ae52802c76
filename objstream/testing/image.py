"""The function image's files as `docker build` would copy them, for tests without Docker.

The Dockerfile's COPY sources, filtered by .dockerignore: `image_files()` lists them and
`lay_out_image()` copies them into a folder, as the image has them under /python.
"""

from __future__ import annotations

import fnmatch
import re
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _dockerignore() -> list[tuple[bool, str]]:
    """(is an exception `!…`, pattern) in order, as Docker applies them."""
    rules = []
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            rules.append((line.startswith("!"), line.removeprefix("!").rstrip("/")))
    return rules


def _ignored(relative: str, rules: list[tuple[bool, str]]) -> bool:
    ignored = False
    for negated, pattern in rules:
        bare = pattern.removeprefix("**/")
        hit = (
            fnmatch.fnmatch(relative, pattern)
            or relative.startswith(pattern + "/")
            or any(fnmatch.fnmatch(part, bare) for part in relative.split("/"))
        )
        if hit:
            ignored = not negated
    return ignored


def image_files() -> set[str]:
    """The repository files the Dockerfile copies into the image."""
    rules = _dockerignore()
    sources = []
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        match = re.match(r"COPY (?!--from)(\S+) ", line)
        if match:
            sources.append(match.group(1))
    files: set[str] = set()
    for source in sources:
        path = ROOT / source
        candidates = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        for candidate in candidates:
            relative = candidate.relative_to(ROOT).as_posix()
            if not _ignored(relative, rules):
                files.add(relative)
    return files


def lay_out_image(target: Path) -> Path:
    """Copy the image's files into `target` (the image's /python); returns `target`."""
    for relative in image_files():
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / relative, destination)
    return target
