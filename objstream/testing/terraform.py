"""Reading objstream's Terraform (python-hcl2) and matching OCI Events rule conditions.

python-hcl2 keeps HCL's quotes on string literals (`"SASL_SSL"` → `'"SASL_SSL"'`) and on block
labels, and gives expressions as `${…}` strings; `literal` and `labels` undo that.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import hcl2

ROOT = Path(__file__).resolve().parent.parent.parent
DEPLOY = ROOT / "deploy"
MODULE = DEPLOY / "terraform" / "modules" / "objstream"
EXAMPLE = DEPLOY / "terraform" / "examples" / "complete"
STACK = DEPLOY / "resource-manager"

JsonValue = object
Block = dict[str, object]


def load(path: Path) -> dict[str, list[Block]]:
    """One .tf file, as python-hcl2 reads it."""
    with path.open(encoding="utf-8") as handle:
        return cast("dict[str, list[Block]]", hcl2.load(handle))


def unquote(text: str) -> str:
    """`'"x"'` → `'x'`; anything else unchanged."""
    if len(text) >= 2 and text.startswith('"') and text.endswith('"'):
        return text[1:-1]
    return text


def literal(value: object) -> str | None:
    """A string literal's text, or None for an expression (`${…}`) or a non-string."""
    if not isinstance(value, str):
        return None
    if value.startswith("${") and value.endswith("}"):
        return None
    text = unquote(value)
    return None if "${" in text else text


@dataclass(frozen=True, slots=True)
class Resource:
    """One resource (or data) block of the module."""

    kind: str  # oci_core_subnet
    name: str  # private
    body: Block
    path: Path

    @property
    def address(self) -> str:
        """`oci_core_subnet.private`."""
        return f"{self.kind}.{self.name}"


def blocks(directory: Path, block_type: str = "resource") -> list[Resource]:
    """Every `resource` (or `data`) block of the .tf files in a folder."""
    found: list[Resource] = []
    for path in sorted(directory.glob("*.tf")):
        for entry in load(path).get(block_type, []):
            for kind, named in entry.items():
                for name, body in cast("dict[str, Block]", named).items():
                    found.append(Resource(unquote(kind), unquote(name), body, path))
    return found


def resources_of(kind: str, directory: Path = MODULE) -> list[Resource]:
    """The module's resources of one type."""
    return [resource for resource in blocks(directory) if resource.kind == kind]


def resource(address: str, directory: Path = MODULE) -> Resource:
    """The module's one resource at `type.name`."""
    matches = [found for found in blocks(directory) if found.address == address]
    assert len(matches) == 1, f"{address}: {len(matches)} blocks in {directory}"
    return matches[0]


def nested(body: Block, name: str) -> list[Block]:
    """The nested blocks of that name (`private_endpoint_settings { … }`)."""
    value = body.get(name, [])
    if isinstance(value, dict):
        return [cast("Block", value)]
    return cast("list[Block]", value)


def module_locals(directory: Path = MODULE) -> dict[str, object]:
    """Every `locals` entry of the module's files."""
    merged: dict[str, object] = {}
    for path in sorted(directory.glob("*.tf")):
        for entry in load(path).get("locals", []):
            merged.update(entry)
    return merged


def variables(directory: Path) -> dict[str, Block]:
    """The `variable` blocks of a folder, by name."""
    found: dict[str, Block] = {}
    for path in sorted(directory.glob("*.tf")):
        for entry in load(path).get("variable", []):
            for name, body in entry.items():
                found[unquote(name)] = cast("Block", body)
    return found


def outputs(directory: Path) -> dict[str, Block]:
    """The `output` blocks of a folder, by name."""
    found: dict[str, Block] = {}
    for path in sorted(directory.glob("*.tf")):
        for entry in load(path).get("output", []):
            for name, body in entry.items():
                found[unquote(name)] = cast("Block", body)
    return found


# A Terraform string literal that is a policy statement: "Allow …" up to its closing quote (the
# statements hold no double quote of their own).
_STATEMENT_LITERAL = re.compile(r'"((?:Allow|allow|ALLOW) [^"\n]*)"')


def policy_statements_in_source(directory: Path = MODULE) -> list[str]:
    """Every IAM statement literal written anywhere in the module's .tf files.

    A `${local.x}` whose local is a plain string template (`function_principal`) is put in, so
    the statements read as the policy will; conditional locals stay references.
    """
    templates = {
        name: unquote(value)
        for name, value in module_locals(directory).items()
        if isinstance(value, str) and value.startswith('"') and value.endswith('"')
    }

    def expand(match: re.Match[str]) -> str:
        return templates.get(match.group(1), match.group(0))

    return [
        re.sub(r"\$\{local\.([a-z0-9_]+)\}", expand, statement)
        for path in sorted(directory.glob("*.tf"))
        for statement in _STATEMENT_LITERAL.findall(path.read_text(encoding="utf-8"))
    ]


# ---------------------------------------------------------------------------------------------
# OCI Events conditions
# ---------------------------------------------------------------------------------------------


def rule_condition_from_locals() -> dict[str, JsonValue]:
    """The module's Events rule condition (local.rule_condition = jsonencode({…})), as JSON."""
    raw = module_locals()["rule_condition"]
    assert isinstance(raw, str), raw
    match = re.fullmatch(r"\$\{jsonencode\((.*)\)\}", raw, flags=re.DOTALL)
    assert match, f"local.rule_condition is not jsonencode({{…}}): {raw}"
    # The object is HCL; re-read it through python-hcl2 as an attribute to get the structure.
    parsed = cast("dict[str, object]", hcl2.loads(f"condition = {match.group(1)}\n"))
    return cast("dict[str, JsonValue]", _resolve(parsed["condition"]))


def _resolve(value: object) -> JsonValue:
    """Literals as plain JSON values; `local.event_types` from the module's locals; `var.x` kept."""
    if isinstance(value, dict):
        return {
            unquote(key): _resolve(item) for key, item in value.items() if key != "__is_block__"
        }
    if isinstance(value, list):
        return [_resolve(item) for item in value]
    if isinstance(value, str):
        reference = re.fullmatch(r"\$\{local\.([A-Za-z0-9_]+)\}", value)
        if reference:
            return _resolve(module_locals()[reference.group(1)])
        text = literal(value)
        return text if text is not None else value
    return value


def substitute(condition: JsonValue, values: dict[str, str]) -> JsonValue:
    """Put values in for Terraform references (`${var.bucket_name}` → "uploads")."""
    if isinstance(condition, dict):
        return {key: substitute(item, values) for key, item in condition.items()}
    if isinstance(condition, list):
        return [substitute(item, values) for item in condition]
    if isinstance(condition, str) and condition in values:
        return values[condition]
    return condition


def condition_matches(condition: JsonValue, event: JsonValue) -> bool:
    """OCI Events' matching of a rule condition against an event.

    A condition is a JSON object whose keys are event attributes. A list of values matches when
    the event's attribute equals any of them (`eventType: [a, b]`); an object descends into the
    event's object of that name (`data: {additionalDetails: {bucketName: [...]}}`); a single
    value matches that value. Every key of the condition must match (AND); an attribute the
    event lacks does not match. A value may end in `*` (a prefix wildcard, as the console's
    attribute filters allow).
    """
    if not isinstance(condition, dict):
        return _value_matches(condition, event)
    if not isinstance(event, dict):
        return False
    for key, wanted in condition.items():
        if key not in event:
            return False
        if not condition_matches(wanted, event[key]):
            return False
    return True


def _value_matches(wanted: JsonValue, actual: JsonValue) -> bool:
    if isinstance(wanted, list):
        return any(_value_matches(option, actual) for option in wanted)
    if not isinstance(actual, str | int | float | bool) or isinstance(wanted, dict):
        return False
    if isinstance(wanted, str) and wanted.endswith("*") and isinstance(actual, str):
        return actual.startswith(wanted[:-1])
    return wanted == actual


def event_samples() -> dict[str, bytes]:
    """tests/events/*.json: real OCI event bodies, by file name."""
    folder = ROOT / "tests" / "events"
    return {path.name: path.read_bytes() for path in sorted(folder.glob("*.json"))}


def json_body(body: bytes) -> JsonValue:
    """An event body as JSON."""
    return cast("JsonValue", json.loads(body))
