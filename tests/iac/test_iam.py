"""IAM: what the README asks for is in the module, and nothing broader.

Every statement is parsed into subject, verb, resource type, scope and `where` condition. The
README's statements (the console steps) must each have a module statement with the same
subject kind, verb and resource type, at least as narrow; deploy/README-section.md lists the
module's statements exactly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from objstream.testing.terraform import (
    DEPLOY,
    ROOT,
    literal,
    module_locals,
    policy_statements_in_source,
    resource,
)

_STATEMENT = re.compile(
    r"^allow (?P<kind>group|dynamic-group|any-user|service)(?: id)? (?P<who>\S+) "
    r"to (?P<verb>inspect|read|use|manage) (?P<resource>[a-z-]+) "
    r"in (?P<scope>tenancy|compartment(?: id)? (?:<[^>]+>|\S+))"
    r"(?: where (?P<where>.+))?$",
    flags=re.IGNORECASE,
)
_ONE_TARGET = re.compile(r"^target\.[a-z.]+ = '[^']+'$")


@dataclass(frozen=True, slots=True)
class Statement:
    text: str
    kind: str
    verb: str
    resource: str
    scope: str
    where: str | None

    @property
    def where_variable(self) -> str | None:
        return self.where.split(" ", 1)[0] if self.where else None


def parse(text: str) -> Statement:
    match = _STATEMENT.fullmatch(text.strip())
    assert match, f"not a policy statement objstream knows how to read: {text}"
    return Statement(
        text=text,
        kind=match["kind"].lower(),
        verb=match["verb"].lower(),
        resource=match["resource"].lower(),
        scope=match["scope"],
        where=match["where"],
    )


def module_statements() -> list[Statement]:
    return [parse(text) for text in policy_statements_in_source()]


def readme_statements(path: str) -> list[Statement]:
    text = (ROOT / path).read_text(encoding="utf-8")
    lines = re.MULTILINE | re.IGNORECASE
    found = re.findall(r"^\s*(allow (?:group|dynamic-group) .+?)\s*$", text, flags=lines)
    inline = re.findall(r"`(allow (?:group|dynamic-group) [^`]+)`", text, flags=re.IGNORECASE)
    return [parse(statement.strip("`")) for statement in [*found, *inline] if "`" not in statement]


def test_module_has_the_expected_statements() -> None:
    got = {(s.kind, s.verb, s.resource, s.where_variable) for s in module_statements()}
    assert got == {
        ("group", "use", "stream-push", "target.streampool.id"),
        ("dynamic-group", "read", "objects", "target.bucket.name"),
        ("dynamic-group", "read", "secret-bundles", "target.secret.id"),
        ("dynamic-group", "use", "fn-invocation", "target.function.id"),
        ("dynamic-group", "read", "fn-function", "target.function.id"),
        ("dynamic-group", "use", "ons-topics", "target.topic.id"),
        ("dynamic-group", "use", "metrics", "target.metrics.namespace"),
    }


@pytest.mark.parametrize("readme", ["README.md", "deploy/README-section.md"])
def test_every_readme_statement_is_in_the_module(readme: str) -> None:
    listed = readme_statements(readme)
    assert listed, f"{readme} lists no IAM statement"
    module = module_statements()
    for wanted in listed:
        assert any(
            s.kind == wanted.kind
            and s.verb == wanted.verb
            and s.resource == wanted.resource
            and (wanted.where_variable is None or s.where_variable == wanted.where_variable)
            for s in module
        ), f"{readme} asks for {wanted.text!r}; the module has no such statement"


def test_section_lists_the_module_statements_exactly() -> None:
    text = (DEPLOY / "README-section.md").read_text(encoding="utf-8")
    for statement in policy_statements_in_source():
        assert statement in text, f"deploy/README-section.md lacks: {statement}"


@pytest.mark.parametrize("text", policy_statements_in_source())
def test_no_statement_is_broad(text: str) -> None:
    statement = parse(text)
    assert statement.verb != "manage", text
    assert "all-resources" not in text
    assert not statement.resource.endswith("-family"), text
    assert statement.kind in {"group", "dynamic-group"}, text
    assert statement.scope.startswith("compartment id "), f"not scoped to a compartment: {text}"
    assert statement.where is not None, f"no where condition: {text}"
    assert _ONE_TARGET.fullmatch(statement.where), f"not one target: {statement.where}"


def test_dynamic_group_matches_this_function_only() -> None:
    group = resource("oci_identity_dynamic_group.function").body
    assert group["matching_rule"] == (
        "\"ALL {resource.type = 'fnfunc', resource.id = '${oci_functions_function.this.id}'}\""
    )
    assert group["compartment_id"] == "${var.tenancy_ocid}"
    assert module_locals()["function_principal"] == (
        '"dynamic-group id ${oci_identity_dynamic_group.function.id}"'
    )


def test_policies_hold_the_statement_lists() -> None:
    function_policy = resource("oci_identity_policy.function").body
    assert function_policy["statements"] == "${local.function_statements}"
    push_policy = resource("oci_identity_policy.stream_push").body
    assert push_policy["statements"] == "${local.stream_push_statements}"
    for policy in (function_policy, push_policy):
        assert literal(policy["provider"]) is None  # a reference: oci.home
        assert policy["provider"] == "${oci.home}"
