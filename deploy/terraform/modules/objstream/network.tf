# A VCN with one private subnet: no internet gateway, no NAT gateway. The function reaches
# Object Storage, Vault, Monitoring and the Functions invoke API through the service gateway,
# and the stream pool through its private endpoint in the same subnet.

data "oci_core_services" "all" {
  filter {
    name   = "name"
    values = ["All .* Services In Oracle Services Network"]
    regex  = true
  }
}

locals {
  # e.g. "all-iad-services-in-oracle-services-network": the route rule's and NSG rule's target.
  services_cidr = data.oci_core_services.all.services[0].cidr_block
  services_id   = data.oci_core_services.all.services[0].id
  dns_label     = substr(replace(var.name_prefix, "-", ""), 0, 15)
  # The VCN's DNS resolver, which resolves the pool's private endpoint FQDN.
  vcn_resolver_cidr = "169.254.169.254/32"
}

resource "oci_core_vcn" "this" {
  compartment_id = var.compartment_ocid
  cidr_blocks    = [var.vcn_cidr]
  display_name   = "${var.name_prefix}-vcn"
  dns_label      = local.dns_label
  freeform_tags  = var.freeform_tags
}

# The VCN's default security list allows SSH from anywhere; take every rule away from it.
resource "oci_core_default_security_list" "this" {
  manage_default_resource_id = oci_core_vcn.this.default_security_list_id
  display_name               = "${var.name_prefix}-default-deny"
  freeform_tags              = var.freeform_tags
}

resource "oci_core_service_gateway" "this" {
  compartment_id = var.compartment_ocid
  vcn_id         = oci_core_vcn.this.id
  display_name   = "${var.name_prefix}-sgw"
  freeform_tags  = var.freeform_tags

  services {
    service_id = local.services_id
  }
}

resource "oci_core_route_table" "private" {
  compartment_id = var.compartment_ocid
  vcn_id         = oci_core_vcn.this.id
  display_name   = "${var.name_prefix}-private-rt"
  freeform_tags  = var.freeform_tags

  route_rules {
    description       = "All services in Oracle Services Network, through the service gateway"
    destination       = local.services_cidr
    destination_type  = "SERVICE_CIDR_BLOCK"
    network_entity_id = oci_core_service_gateway.this.id
  }
}

# The subnet's own security list has no rules: all traffic is allowed by the NSGs below only.
resource "oci_core_security_list" "private" {
  #checkov:skip=CKV_OCI_16:No ingress rule on purpose: the subnet's security list denies everything; the NSGs allow Kafka from the function's NSG only.
  #checkov:skip=CKV_OCI_19:The check takes a list without rules for open; it has no rules, so port 22 (like every port) is closed.
  compartment_id = var.compartment_ocid
  vcn_id         = oci_core_vcn.this.id
  display_name   = "${var.name_prefix}-private-sl"
  freeform_tags  = var.freeform_tags
}

resource "oci_core_subnet" "private" {
  compartment_id             = var.compartment_ocid
  vcn_id                     = oci_core_vcn.this.id
  cidr_block                 = var.subnet_cidr
  display_name               = "${var.name_prefix}-private"
  dns_label                  = "private"
  prohibit_public_ip_on_vnic = true
  prohibit_internet_ingress  = true
  route_table_id             = oci_core_route_table.private.id
  security_list_ids          = [oci_core_security_list.private.id]
  freeform_tags              = var.freeform_tags
}

# ---------------------------------------------------------------------------------------------
# NSGs: the function's and the stream pool endpoint's
# ---------------------------------------------------------------------------------------------

resource "oci_core_network_security_group" "function" {
  compartment_id = var.compartment_ocid
  vcn_id         = oci_core_vcn.this.id
  display_name   = "${var.name_prefix}-function-nsg"
  freeform_tags  = var.freeform_tags
}

resource "oci_core_network_security_group" "stream_pool" {
  compartment_id = var.compartment_ocid
  vcn_id         = oci_core_vcn.this.id
  display_name   = "${var.name_prefix}-stream-pool-nsg"
  freeform_tags  = var.freeform_tags
}

resource "oci_core_network_security_group_security_rule" "function_egress_services" {
  network_security_group_id = oci_core_network_security_group.function.id
  description               = "HTTPS to Object Storage, Vault, Monitoring and Functions, through the service gateway"
  direction                 = "EGRESS"
  protocol                  = "6"
  destination               = local.services_cidr
  destination_type          = "SERVICE_CIDR_BLOCK"
  stateless                 = false

  tcp_options {
    destination_port_range {
      min = 443
      max = 443
    }
  }
}

resource "oci_core_network_security_group_security_rule" "function_egress_kafka" {
  network_security_group_id = oci_core_network_security_group.function.id
  description               = "Kafka (SASL_SSL) to the stream pool's private endpoint"
  direction                 = "EGRESS"
  protocol                  = "6"
  destination               = oci_core_network_security_group.stream_pool.id
  destination_type          = "NETWORK_SECURITY_GROUP"
  stateless                 = false

  tcp_options {
    destination_port_range {
      min = 9092
      max = 9092
    }
  }
}

resource "oci_core_network_security_group_security_rule" "function_egress_dns" {
  network_security_group_id = oci_core_network_security_group.function.id
  description               = "DNS to the VCN resolver (the pool's private endpoint FQDN)"
  direction                 = "EGRESS"
  protocol                  = "17"
  destination               = local.vcn_resolver_cidr
  destination_type          = "CIDR_BLOCK"
  stateless                 = false

  udp_options {
    destination_port_range {
      min = 53
      max = 53
    }
  }
}

resource "oci_core_network_security_group_security_rule" "stream_pool_ingress_kafka" {
  #checkov:skip=CKV_OCI_21:Stateful on purpose: the source is the function's NSG only, and a stateless rule would need an egress rule back to every ephemeral port of the function.
  network_security_group_id = oci_core_network_security_group.stream_pool.id
  description               = "Kafka from the objstream function only"
  direction                 = "INGRESS"
  protocol                  = "6"
  source                    = oci_core_network_security_group.function.id
  source_type               = "NETWORK_SECURITY_GROUP"
  stateless                 = false

  tcp_options {
    destination_port_range {
      min = 9092
      max = 9092
    }
  }
}
