"""`--env-file`: KEY=VALUE lines, and the environment wins over the file."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from function.errors import CliError
from objstream.cli.config import cli_environment, read_env_file

if TYPE_CHECKING:
    from pathlib import Path


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "objstream.env"
    path.write_text(text, "utf-8")
    return path


def test_comments_blank_lines_export_and_quotes_are_understood(tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        "# the demo broker\n"
        "\n"
        "STREAM_TOPIC=orders\n"
        "export STREAM_USERNAME = tenancy/user/ocid1.streampool.oc1..x\n"
        "STREAM_AUTH_TOKEN='a#b \"c\"'\n"
        'KAFKA_CLIENT_ID="say \\"hi\\""\n'
        "RECORD_FORMAT=csv  # trailing comment\n"
        "STREAM_DLQ_TOPIC=\n",
    )
    assert read_env_file(path) == {
        "STREAM_TOPIC": "orders",
        "STREAM_USERNAME": "tenancy/user/ocid1.streampool.oc1..x",
        "STREAM_AUTH_TOKEN": 'a#b "c"',
        "KAFKA_CLIENT_ID": 'say "hi"',
        "RECORD_FORMAT": "csv",
        "STREAM_DLQ_TOPIC": "",
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("STREAM_TOPIC\n", "objstream.env:1: expected KEY=VALUE", id="no-equals"),
        pytest.param("1KEY=x\n", "objstream.env:1: expected KEY=VALUE", id="bad-key"),
        pytest.param(
            "\nA='open\n", "objstream.env:2: the value's ' quote is not closed", id="quote"
        ),
    ],
)
def test_a_malformed_line_is_named(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(CliError, match=message):
        read_env_file(_file(tmp_path, text))


def test_the_environment_wins_over_the_file(tmp_path: Path) -> None:
    path = _file(tmp_path, "STREAM_TOPIC=from-file\nSTREAM_BOOTSTRAP_SERVERS=file:9092\n")
    merged = cli_environment(path, {"STREAM_TOPIC": "from-env"})
    assert merged["STREAM_TOPIC"] == "from-env"
    assert merged["STREAM_BOOTSTRAP_SERVERS"] == "file:9092"


def test_oci_auth_defaults_to_the_config_file_on_a_workstation() -> None:
    assert cli_environment(None, {})["OCI_AUTH"] == "config_file"
    assert cli_environment(None, {"OCI_AUTH": "instance_principal"})["OCI_AUTH"] == (
        "instance_principal"
    )


def test_oci_auth_keeps_the_resource_principal_where_functions_set_it_up() -> None:
    merged = cli_environment(None, {"OCI_RESOURCE_PRINCIPAL_VERSION": "2.2"})
    assert "OCI_AUTH" not in merged
