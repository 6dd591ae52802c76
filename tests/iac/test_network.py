"""The network is private: no way in or out but the service gateway and the pool's endpoint."""

from __future__ import annotations

from objstream.testing.terraform import (
    DEPLOY,
    MODULE,
    blocks,
    literal,
    nested,
    resource,
    resources_of,
)


def test_subnet_is_private() -> None:
    (subnet,) = resources_of("oci_core_subnet")
    assert subnet.body["prohibit_public_ip_on_vnic"] is True
    assert subnet.body["prohibit_internet_ingress"] is True
    assert subnet.body["route_table_id"] == "${oci_core_route_table.private.id}"


def test_no_gateway_to_the_internet() -> None:
    kinds = {
        found.kind
        for folder in (MODULE, DEPLOY / "terraform" / "examples" / "complete")
        for found in blocks(folder)
    }
    assert "oci_core_internet_gateway" not in kinds
    assert "oci_core_nat_gateway" not in kinds
    assert "oci_core_drg" not in kinds
    assert "oci_core_public_ip" not in kinds


def test_routes_go_to_the_service_gateway_only() -> None:
    (table,) = resources_of("oci_core_route_table")
    rules = nested(table.body, "route_rules")
    assert len(rules) == 1
    (rule,) = rules
    assert literal(rule["destination_type"]) == "SERVICE_CIDR_BLOCK"
    assert rule["network_entity_id"] == "${oci_core_service_gateway.this.id}"
    assert rule["destination"] == "${local.services_cidr}"


def test_service_gateway_is_for_all_services() -> None:
    (services,) = [
        found for found in blocks(MODULE, "data") if found.address == "oci_core_services.all"
    ]
    (service_filter,) = nested(services.body, "filter")
    assert service_filter["values"] == ['"All .* Services In Oracle Services Network"']
    gateway = resource("oci_core_service_gateway.this").body
    (service,) = nested(gateway, "services")
    assert service["service_id"] == "${local.services_id}"


def test_stream_pool_endpoint_is_private_in_the_subnet() -> None:
    pool = resource("oci_streaming_stream_pool.this").body
    (endpoint,) = nested(pool, "private_endpoint_settings")
    assert endpoint["subnet_id"] == "${oci_core_subnet.private.id}"
    assert endpoint["nsg_ids"] == ["${oci_core_network_security_group.stream_pool.id}"]
    (kafka,) = nested(pool, "kafka_settings")
    assert kafka["auto_create_topics_enable"] is False


def test_function_application_is_in_the_private_subnet() -> None:
    application = resource("oci_functions_application.this").body
    assert application["subnet_ids"] == ["${oci_core_subnet.private.id}"]


def _rule(found: dict[str, object]) -> tuple[object, ...]:
    options = nested(found, "tcp_options") or nested(found, "udp_options")
    (ports,) = nested(options[0], "destination_port_range")
    target = found.get("destination", found.get("source"))
    target_type = found.get("destination_type", found.get("source_type"))
    return (
        found["network_security_group_id"],
        literal(found["direction"]),
        literal(found["protocol"]),
        target,
        literal(target_type),
        ports["min"],
        ports["max"],
    )


def test_nsg_rules_are_least_privilege() -> None:
    rules = {
        _rule(found.body) for found in resources_of("oci_core_network_security_group_security_rule")
    }
    function = "${oci_core_network_security_group.function.id}"
    pool = "${oci_core_network_security_group.stream_pool.id}"
    assert rules == {
        (function, "EGRESS", "6", "${local.services_cidr}", "SERVICE_CIDR_BLOCK", 443, 443),
        (function, "EGRESS", "6", pool, "NETWORK_SECURITY_GROUP", 9092, 9092),
        (function, "EGRESS", "17", "${local.vcn_resolver_cidr}", "CIDR_BLOCK", 53, 53),
        (pool, "INGRESS", "6", function, "NETWORK_SECURITY_GROUP", 9092, 9092),
    }


def test_security_lists_have_no_rules() -> None:
    for kind in ("oci_core_security_list", "oci_core_default_security_list"):
        (found,) = resources_of(kind)
        assert "ingress_security_rules" not in found.body, kind
        assert "egress_security_rules" not in found.body, kind


def test_nothing_open_to_the_world() -> None:
    for path in sorted(MODULE.glob("*.tf")):
        assert "0.0.0.0/0" not in path.read_text(encoding="utf-8"), path.name
