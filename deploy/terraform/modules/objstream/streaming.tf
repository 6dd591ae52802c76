# A stream pool reachable only through its private endpoint in the private subnet, behind the
# pool's NSG (Kafka from the function's NSG only), and the stream objstream writes to.

resource "oci_streaming_stream_pool" "this" {
  compartment_id = var.compartment_ocid
  name           = "${var.name_prefix}-pool"
  freeform_tags  = var.freeform_tags

  private_endpoint_settings {
    subnet_id = oci_core_subnet.private.id
    nsg_ids   = [oci_core_network_security_group.stream_pool.id]
  }

  kafka_settings {
    # objstream publishes to one stream made here; a typo in STREAM_TOPIC must fail, not create
    # a new topic.
    auto_create_topics_enable = false
    log_retention_hours       = var.stream_retention_hours
    num_partitions            = var.stream_partitions
  }
}

resource "oci_streaming_stream" "this" {
  name               = var.stream_name
  partitions         = var.stream_partitions
  retention_in_hours = var.stream_retention_hours
  stream_pool_id     = oci_streaming_stream_pool.this.id
  freeform_tags      = var.freeform_tags
}
