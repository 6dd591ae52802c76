"""The Resource Manager stack and the example root pass the module what it needs."""

from __future__ import annotations

import zipfile
from typing import TYPE_CHECKING, cast

import pytest
import yaml

from objstream.testing.terraform import (
    EXAMPLE,
    MODULE,
    STACK,
    Block,
    literal,
    load,
    outputs,
    unquote,
    variables,
)

if TYPE_CHECKING:
    from pathlib import Path

RM_SET = {"tenancy_ocid", "region"}  # Resource Manager fills these


def schema() -> dict[str, object]:
    with (STACK / "schema.yaml").open(encoding="utf-8") as handle:
        return cast("dict[str, object]", yaml.safe_load(handle))


def module_call(root: Path) -> Block:
    (entry,) = load(root / "main.tf")["module"]
    return cast("Block", entry['"objstream"'])


def test_every_module_variable_is_described_and_typed() -> None:
    for name, body in variables(MODULE).items():
        assert literal(body.get("description")), f"{name} has no description"
        assert "type" in body, f"{name} has no type"


def test_the_token_is_sensitive() -> None:
    for folder in (MODULE, EXAMPLE, STACK):
        assert variables(folder)["auth_token"]["sensitive"] is True, folder


@pytest.mark.parametrize("root", [EXAMPLE, STACK], ids=["example", "resource-manager"])
def test_roots_pass_every_required_module_variable(root: Path) -> None:
    call = module_call(root)
    required = {name for name, body in variables(MODULE).items() if "default" not in body}
    missing = required - set(call)
    assert not missing, f"{root.name} does not pass {sorted(missing)}"
    unknown = set(call) - set(variables(MODULE)) - {"source", "providers", "__is_block__"}
    assert not unknown, f"{root.name} passes unknown variables {sorted(unknown)}"


def test_schema_covers_every_stack_variable_in_one_group() -> None:
    document = schema()
    declared = set(variables(STACK))
    described = set(cast("dict[str, object]", document["variables"]))
    assert declared == described, f"schema.yaml vs variables.tf: {sorted(declared ^ described)}"
    grouped: list[str] = []
    for group in cast("list[dict[str, object]]", document["variableGroups"]):
        grouped.extend(cast("list[str]", group["variables"]))
    assert sorted(grouped) == sorted(declared), "each variable in exactly one group"


def test_schema_hides_the_token_and_requires_what_terraform_requires() -> None:
    described = cast("dict[str, dict[str, object]]", schema()["variables"])
    assert described["auth_token"]["type"] == "password"
    for name, body in variables(STACK).items():
        if "default" not in body and name not in RM_SET:
            assert described[name].get("required") is True, f"{name} is required in Terraform"


def test_schema_outputs_exist() -> None:
    document = schema()
    declared = set(outputs(STACK))
    shown = set(cast("dict[str, object]", document["outputs"]))
    assert shown <= declared
    assert {
        "function_ocid",
        "stream_ocid",
        "stream_pool_endpoint_fqdn",
        "objstream_check_env",
    } <= shown
    for group in cast("list[dict[str, object]]", document["outputGroups"]):
        assert set(cast("list[str]", group["outputs"])) <= shown


def test_stack_zip_holds_the_module_where_main_tf_looks(tmp_path: Path) -> None:
    from scripts.rm_stack import build

    output = tmp_path / "stack.zip"
    names = build(output)
    source = literal(module_call(STACK)["source"])
    assert source == "./modules/objstream"
    module_files = {f"modules/objstream/{path.name}" for path in MODULE.glob("*.tf")}
    assert module_files <= set(names)
    assert {"main.tf", "variables.tf", "outputs.tf", "versions.tf", "schema.yaml"} <= set(names)
    with zipfile.ZipFile(output) as archive:
        assert archive.read("modules/objstream/iam.tf") == (MODULE / "iam.tf").read_bytes()
    assert build(tmp_path / "again.zip") == names
    assert (tmp_path / "again.zip").read_bytes() == output.read_bytes()  # reproducible


def test_module_outputs() -> None:
    declared = outputs(MODULE)
    for name in (
        "function_ocid",
        "stream_ocid",
        "stream_pool_endpoint_fqdn",
        "objstream_check_env",
    ):
        assert name in declared
    assert declared["stream_pool_endpoint_fqdn"]["value"] == (
        "${oci_streaming_stream_pool.this.endpoint_fqdn}"
    )
    assert unquote("x") == "x"
