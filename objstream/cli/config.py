"""How the `objstream` command is configured, and how it talks to the terminal.

The configuration is the function's (CONTRACT.md §1): the environment, plus the KEY=VALUE
lines of an optional `--env-file`. **The environment wins** over the file, as with
`docker compose` and dotenv: a file holds a setup, and `STREAM_TOPIC=other objstream …`
changes one thing for one run without editing it.

One difference from the function: on a workstation there is no resource principal, so
`OCI_AUTH` defaults to `config_file` (the user's ~/.oci/config) unless the OCI Functions
resource-principal variables are present.
"""

from __future__ import annotations

import os
import re
import sys
from typing import TYPE_CHECKING, TextIO

from rich.console import Console

from function.errors import CliError
from function.settings import OciAuth, Settings

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# The width used when output is not a terminal (a pipe, a CI log): wide enough for tables.
PLAIN_WIDTH = 120


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines: `#` starts a comment line, `export ` is allowed, quotes are removed.

    An unquoted value ends at ` #` (a trailing comment); single-quoted values are literal,
    double-quoted ones understand `\\"` and `\\\\`.
    """
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise CliError(f"cannot read the env file {path}: {exc.strerror}") from exc
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").lstrip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not _KEY.fullmatch(key):
            raise CliError(f"{path}:{number}: expected KEY=VALUE, found {raw.strip()[:40]!r}")
        values[key] = _unquote(value.strip(), f"{path}:{number}")
    return values


def _unquote(value: str, where: str) -> str:
    if value[:1] in {"'", '"'}:
        quote = value[0]
        end = _closing_quote(value, quote)
        if end < 0:
            raise CliError(f"{where}: the value's {quote} quote is not closed")
        inner = value[1:end]
        if quote == '"':
            inner = re.sub(r"\\([\"\\])", r"\1", inner)
        return inner
    comment = value.find(" #")
    return value[:comment].rstrip() if comment >= 0 else value


def _closing_quote(value: str, quote: str) -> int:
    index = 1
    while index < len(value):
        if value[index] == "\\" and quote == '"':
            index += 2
            continue
        if value[index] == quote:
            return index
        index += 1
    return -1


def cli_environment(
    env_file: Path | None, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The configuration a command runs with: the env file, overridden by the environment."""
    current = dict(os.environ if environ is None else environ)
    merged = {**(read_env_file(env_file) if env_file is not None else {}), **current}
    if not merged.get("OCI_AUTH", "").strip() and not merged.get("OCI_RESOURCE_PRINCIPAL_VERSION"):
        merged["OCI_AUTH"] = OciAuth.CONFIG_FILE.value
    return merged


def load_settings(env: Mapping[str, str]) -> Settings:
    """The function's settings from the command's configuration (ConfigError names the key)."""
    return Settings.from_env(env)


def is_terminal(stream: TextIO | None = None) -> bool:
    """Whether output goes to a person (a TTY) rather than to a pipe or a file."""
    target = stream or sys.stdout
    try:
        return target.isatty()
    except (AttributeError, ValueError):
        return False


def make_console(stream: TextIO | None = None) -> Console:
    """A rich console: styled on a terminal, plain text and a fixed width otherwise.

    The decision is the stream's own `isatty()`: FORCE_COLOR and friends must not turn
    `objstream check | grep FAIL` into escape codes.
    """
    target = stream or sys.stdout
    terminal = is_terminal(target)
    return Console(
        file=target,
        force_terminal=terminal,
        no_color=not terminal,
        width=None if terminal else PLAIN_WIDTH,
        highlight=False,
        emoji=False,
    )
