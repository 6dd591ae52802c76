# The Events rule: object create and update events of this bucket go to the function.

resource "oci_events_rule" "objects" {
  compartment_id = var.compartment_ocid
  display_name   = "${var.name_prefix}-objects"
  description    = "Objects created or updated in ${oci_objectstorage_bucket.this.name} are published by objstream"
  is_enabled     = true
  condition      = local.rule_condition
  freeform_tags  = var.freeform_tags

  actions {
    actions {
      action_type = "FAAS"
      is_enabled  = true
      function_id = oci_functions_function.this.id
      description = "objstream"
    }
  }

  # The first event after an apply must find the function's permissions in place.
  depends_on = [oci_identity_policy.function]
}
