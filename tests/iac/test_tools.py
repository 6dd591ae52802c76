"""`tofu fmt -check` and checkov, as tests. In CI a missing tool fails (run the install step)."""

from __future__ import annotations

import os
import re
import subprocess
from typing import TYPE_CHECKING

import pytest

from objstream.testing.terraform import DEPLOY, ROOT

if TYPE_CHECKING:
    from pathlib import Path

TOFU = ROOT / ".tools" / "bin" / "tofu"
CHECKOV = ROOT / ".tools" / "checkov-venv" / "bin" / "checkov"

pytestmark = pytest.mark.iac_tools


def need(tool: Path) -> Path:
    if tool.is_file() and os.access(tool, os.X_OK):
        return tool
    message = f"{tool.relative_to(ROOT)} is missing: run `make tools-install`"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def run(*command: str | Path) -> subprocess.CompletedProcess[str]:
    # An empty CLI configuration: a missing ~/.terraformrc named by TF_CLI_CONFIG_FILE only
    # makes tofu warn.
    env = {**os.environ, "TF_CLI_CONFIG_FILE": os.devnull}
    return subprocess.run(  # noqa: PLW1510
        [str(part) for part in command], capture_output=True, text=True, env=env, timeout=240
    )


def test_tofu_fmt_check() -> None:
    result = run(need(TOFU), "fmt", "-check", "-recursive", "-diff", DEPLOY)
    assert result.returncode == 0, f"tofu fmt -check failed:\n{result.stdout}{result.stderr}"


def test_tofu_fmt_check_catches_bad_formatting(tmp_path: Path) -> None:
    (tmp_path / "bad.tf").write_text('locals {\n  x    =   "y"\n}\n', encoding="utf-8")
    result = run(need(TOFU), "fmt", "-check", "-recursive", tmp_path)
    assert result.returncode != 0


def test_checkov_is_clean() -> None:
    result = run(
        need(CHECKOV),
        "--skip-download",
        "--framework",
        "terraform",
        "--compact",
        "--quiet",
        "-d",
        DEPLOY / "terraform",
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"checkov found problems:\n{output}"
    counts = re.search(r"Passed checks: (\d+), Failed checks: (\d+), Skipped checks: (\d+)", output)
    assert counts, output
    passed, failed, _ = (int(number) for number in counts.groups())
    assert failed == 0
    assert passed > 0  # it did scan the module through the example root


def test_every_checkov_skip_says_why() -> None:
    skips = []
    for path in sorted((DEPLOY / "terraform").rglob("*.tf")):
        text = path.read_text(encoding="utf-8")
        skips.extend(re.findall(r"#checkov:skip=(\S+?)(?::(.*))?$", text, flags=re.MULTILINE))
    assert skips
    for check, reason in skips:
        assert re.fullmatch(r"CKV2?_OCI_\d+", check), check
        assert len(reason.strip()) > 20, f"{check}: no reason given"
