# Logs: the application's invoke log (the function's output, detached-delivery failures) and the
# Events rule's execution log (failed deliveries from the rule to the function).

resource "oci_logging_log_group" "this" {
  compartment_id = var.compartment_ocid
  display_name   = "${var.name_prefix}-logs"
  description    = "objstream: function invocations and Events rule executions"
  freeform_tags  = var.freeform_tags
}

resource "oci_logging_log" "function_invoke" {
  display_name       = "${var.name_prefix}-invoke"
  log_group_id       = oci_logging_log_group.this.id
  log_type           = "SERVICE"
  is_enabled         = true
  retention_duration = var.log_retention_days
  freeform_tags      = var.freeform_tags

  configuration {
    compartment_id = var.compartment_ocid

    source {
      source_type = "OCISERVICE"
      service     = "functions"
      category    = "invoke"
      resource    = oci_functions_application.this.id
    }
  }
}

resource "oci_logging_log" "rule_execution" {
  display_name       = "${var.name_prefix}-rule-execution"
  log_group_id       = oci_logging_log_group.this.id
  log_type           = "SERVICE"
  is_enabled         = true
  retention_duration = var.log_retention_days
  freeform_tags      = var.freeform_tags

  configuration {
    compartment_id = var.compartment_ocid

    source {
      source_type = "OCISERVICE"
      service     = "cloudevents"
      category    = "ruleexecutionlog"
      resource    = oci_events_rule.objects.id
    }
  }
}
