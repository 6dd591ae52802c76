# IAM, each statement scoped to its one target by a `where` condition.
#
# The dynamic group matches this one function by its OCID. That is the order Terraform creates
# things in anyway: the function first (its configuration needs nothing from IAM), then the
# dynamic group naming it, then the policies naming the group, and last the Events rule, which
# depends on the policies so that the first event finds them in place. (A rule on
# resource.compartment.id would be known earlier but would let every function in the
# compartment read the bucket and the token.)

resource "oci_identity_dynamic_group" "function" {
  provider = oci.home

  compartment_id = var.tenancy_ocid
  name           = "${var.name_prefix}-function"
  description    = "The objstream function ${oci_functions_function.this.display_name}, only"
  matching_rule  = "ALL {resource.type = 'fnfunc', resource.id = '${oci_functions_function.this.id}'}"
  freeform_tags  = var.freeform_tags
}

locals {
  function_principal = "dynamic-group id ${oci_identity_dynamic_group.function.id}"

  function_base_statements = [
    "Allow ${local.function_principal} to read objects in compartment id ${var.compartment_ocid} where target.bucket.name = '${oci_objectstorage_bucket.this.name}'",
    "Allow ${local.function_principal} to read secret-bundles in compartment id ${local.secret_compartment_ocid} where target.secret.id = '${local.auth_token_secret_ocid}'",
    # A large object continues in a detached invocation of this same function.
    "Allow ${local.function_principal} to use fn-invocation in compartment id ${var.compartment_ocid} where target.function.id = '${oci_functions_function.this.id}'",
    # GetFunction, for that function's invoke endpoint (it cannot be put in the function's own
    # configuration: that would be a dependency cycle).
    "Allow ${local.function_principal} to read fn-function in compartment id ${var.compartment_ocid} where target.function.id = '${oci_functions_function.this.id}'",
    # The failure destination of detached invocations (the alarm topic).
    "Allow ${local.function_principal} to use ons-topics in compartment id ${var.compartment_ocid} where target.topic.id = '${oci_ons_notification_topic.alarms.id}'",
  ]
  # METRICS=oci: objstream posts its own metrics, to its namespace only.
  function_metrics_statements = [
    "Allow ${local.function_principal} to use metrics in compartment id ${var.compartment_ocid} where target.metrics.namespace = '${var.metrics_namespace}'",
  ]
  function_statements = concat(
    local.function_base_statements,
    var.metrics_enabled ? local.function_metrics_statements : [],
  )

  stream_push_statements = [
    "Allow group ${local.stream_group} to use stream-push in compartment id ${var.compartment_ocid} where target.streampool.id = '${oci_streaming_stream_pool.this.id}'",
  ]
}

resource "oci_identity_policy" "function" {
  provider = oci.home

  compartment_id = local.policy_compartment_ocid
  name           = "${var.name_prefix}-function"
  description    = "What the objstream function may do: read its bucket and its token, continue itself, post its metrics"
  statements     = local.function_statements
  freeform_tags  = var.freeform_tags
}

resource "oci_identity_policy" "stream_push" {
  count    = var.create_stream_push_policy ? 1 : 0
  provider = oci.home

  compartment_id = local.policy_compartment_ocid
  name           = "${var.name_prefix}-stream-push"
  description    = "The stream user's group may publish to the objstream stream pool only"
  statements     = local.stream_push_statements
  freeform_tags  = var.freeform_tags
}
