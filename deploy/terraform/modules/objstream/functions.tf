# The Functions application in the private subnet (behind the function's NSG) and the function.

resource "oci_functions_application" "this" {
  compartment_id             = var.compartment_ocid
  display_name               = "${var.name_prefix}-app"
  subnet_ids                 = [oci_core_subnet.private.id]
  network_security_group_ids = [oci_core_network_security_group.function.id]
  shape                      = "GENERIC_X86"
  freeform_tags              = var.freeform_tags
}

resource "oci_functions_function" "this" {
  application_id = oci_functions_application.this.id
  display_name   = var.name_prefix
  image          = var.function_image
  image_digest   = var.function_image_digest != "" ? var.function_image_digest : null
  memory_in_mbs  = var.function_memory_mb
  # A synchronous invocation (the Events rule's) lasts at most 300 s; a continuation segment of
  # a large object runs detached, up to an hour.
  timeout_in_seconds               = var.function_timeout_seconds
  detached_mode_timeout_in_seconds = var.function_detached_timeout_seconds
  config                           = local.function_config
  freeform_tags                    = var.freeform_tags

  # A detached segment that gives up (after CONTINUATION_MAX_ATTEMPTS) answers 502; OCI sends
  # the invocation record here, to the alarm topic.
  failure_destination {
    kind     = "NOTIFICATION"
    topic_id = oci_ons_notification_topic.alarms.id
  }

  lifecycle {
    precondition {
      condition     = local.auth_token_secret_ocid != null && local.auth_token_secret_ocid != ""
      error_message = "No auth token secret: set auth_token or existing_auth_token_secret_ocid."
    }
  }
}
