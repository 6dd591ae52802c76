# Alarms, on OCI Functions' own metrics (namespace oci_faas) and on objstream's custom metrics
# (METRICS_NAMESPACE; dimensions bucket and outcome), to one notification topic. The same topic
# is the failure destination of detached invocations.

resource "oci_ons_notification_topic" "alarms" {
  compartment_id = var.compartment_ocid
  name           = "${var.name_prefix}-alarms"
  description    = "objstream alarms, and failed detached invocations"
  freeform_tags  = var.freeform_tags
}

resource "oci_ons_subscription" "email" {
  count = var.alarm_email != "" ? 1 : 0

  compartment_id = var.compartment_ocid
  topic_id       = oci_ons_notification_topic.alarms.id
  protocol       = "EMAIL"
  endpoint       = var.alarm_email
  freeform_tags  = var.freeform_tags
}

locals {
  function_dimension = "resourceId = \"${oci_functions_function.this.id}\""
  bucket_dimension   = "bucket = \"${var.bucket_name}\""

  alarms = {
    # oci_faas: invocations that answered with an error (the handler raised: broker, Object
    # Storage or Vault failing, or the deadline with CONTINUATION=off).
    function_errors = {
      namespace = "oci_faas"
      query     = "FunctionResponseCount[5m]{${local.function_dimension}, responseType = \"Error\"}.sum() > 0"
      severity  = "CRITICAL"
      summary   = "objstream: function invocations failed"
      body      = "The objstream function answered with errors in the last 5 minutes. Look at the invoke log (${var.name_prefix}-invoke) and the README's troubleshooting table. Failed segments of large objects also arrive on this topic as invocation records."
    }
    # oci_faas: 429s: more events than the function's concurrency allows.
    function_throttled = {
      namespace = "oci_faas"
      query     = "FunctionResponseCount[5m]{${local.function_dimension}, responseType = \"Throttled\"}.sum() > 0"
      severity  = "WARNING"
      summary   = "objstream: function invocations throttled"
      body      = "Invocations of the objstream function were throttled (429). Events retries them; a lasting rate needs a higher Functions limit or provisioned concurrency."
    }
    # objstream: objects whose publication failed (outcome = failed).
    objects_failed = {
      namespace = var.metrics_namespace
      query     = "records[5m]{${local.bucket_dimension}, outcome = \"failed\"}.count() > 0"
      severity  = "CRITICAL"
      summary   = "objstream: objects failed to publish"
      body      = "objstream reported failed objects for bucket ${var.bucket_name}. The retry republishes with the same ids; if it persists, check the broker, Vault and Object Storage (invoke log)."
    }
    # objstream: rejected objects (unsupported, too large to decompress safely, too many bad
    # records under BAD_RECORD_POLICY=fail): they will never be published without a change.
    objects_rejected = {
      namespace = var.metrics_namespace
      query     = "records[5m]{${local.bucket_dimension}, outcome = \"rejected\"}.count() > 0"
      severity  = "WARNING"
      summary   = "objstream: objects rejected"
      body      = "objstream rejected objects of bucket ${var.bucket_name}; the stream has an objstream.object.rejected marker with the reason for each."
    }
    # objstream: invalid records dead-lettered (or skipped).
    invalid_records = {
      namespace = var.metrics_namespace
      query     = "invalid_records[5m]{${local.bucket_dimension}}.sum() > 0"
      severity  = "WARNING"
      summary   = "objstream: invalid records"
      body      = "objstream found records it could not decode in bucket ${var.bucket_name} (objstream.record.invalid messages on the DLQ topic)."
    }
    # objstream: from the event's time to the object's last message.
    lag = {
      namespace = var.metrics_namespace
      query     = "lag_seconds[5m]{${local.bucket_dimension}}.max() > ${var.lag_alarm_threshold_seconds}"
      severity  = "WARNING"
      summary   = "objstream: publishing lags behind uploads"
      body      = "Objects of bucket ${var.bucket_name} reach the stream more than ${var.lag_alarm_threshold_seconds} s after their event: partitions at their 1 MB/s, large objects in many segments, or retries."
    }
  }
}

resource "oci_monitoring_alarm" "this" {
  for_each = local.alarms

  compartment_id        = var.compartment_ocid
  metric_compartment_id = var.compartment_ocid
  display_name          = "${var.name_prefix}-${replace(each.key, "_", "-")}"
  namespace             = each.value.namespace
  query                 = each.value.query
  severity              = each.value.severity
  alarm_summary         = each.value.summary
  body                  = each.value.body
  destinations          = [oci_ons_notification_topic.alarms.id]
  is_enabled            = var.alarms_enabled
  message_format        = "ONS_OPTIMIZED"
  pending_duration      = "PT5M"
  freeform_tags         = var.freeform_tags
}
