output "function_ocid" {
  description = "OCID of the objstream function."
  value       = oci_functions_function.this.id
}

output "function_invoke_endpoint" {
  description = "The function's invoke endpoint (for objstream backfill and manual invocations)."
  value       = oci_functions_function.this.invoke_endpoint
}

output "application_ocid" {
  description = "OCID of the Functions application."
  value       = oci_functions_application.this.id
}

output "stream_ocid" {
  description = "OCID of the stream."
  value       = oci_streaming_stream.this.id
}

output "stream_name" {
  description = "Name of the stream (the Kafka topic)."
  value       = oci_streaming_stream.this.name
}

output "stream_pool_ocid" {
  description = "OCID of the stream pool."
  value       = oci_streaming_stream_pool.this.id
}

output "stream_pool_endpoint_fqdn" {
  description = "FQDN of the stream pool's private endpoint (Kafka on :9092, reachable from the VCN only)."
  value       = oci_streaming_stream_pool.this.endpoint_fqdn
}

output "bootstrap_servers" {
  description = "STREAM_BOOTSTRAP_SERVERS: the pool's private endpoint FQDN on 9092."
  value       = local.bootstrap_servers
}

output "auth_token_secret_ocid" {
  description = "OCID of the Vault secret that holds the auth token (the created or the existing one)."
  value       = local.auth_token_secret_ocid
}

output "bucket_name" {
  description = "The bucket whose objects are published."
  value       = oci_objectstorage_bucket.this.name
}

output "bucket_namespace" {
  description = "The tenancy's Object Storage namespace."
  value       = data.oci_objectstorage_namespace.this.namespace
}

output "vcn_ocid" {
  description = "OCID of the VCN."
  value       = oci_core_vcn.this.id
}

output "private_subnet_ocid" {
  description = "OCID of the private subnet (function and stream pool endpoint)."
  value       = oci_core_subnet.private.id
}

output "function_nsg_ocid" {
  description = "OCID of the function's NSG (put a host that runs objstream check or tail in it)."
  value       = oci_core_network_security_group.function.id
}

output "dynamic_group_ocid" {
  description = "OCID of the dynamic group that matches the function."
  value       = oci_identity_dynamic_group.function.id
}

output "alarm_topic_ocid" {
  description = "OCID of the notification topic of the alarms and failed detached invocations."
  value       = oci_ons_notification_topic.alarms.id
}

output "log_group_ocid" {
  description = "OCID of the log group (invoke log and rule-execution log)."
  value       = oci_logging_log_group.this.id
}

output "function_config" {
  description = "The function's configuration as deployed (no secret in it: the token stays in Vault)."
  value       = local.function_config
}

output "objstream_check_env" {
  description = "KEY=VALUE lines for `objstream check --env-file FILE` / `objstream tail` from a host in the VCN (in the function's NSG) with OCI credentials that may read the secret."
  value       = local.check_env_file
}

output "iam_statements" {
  description = "Every IAM policy statement the module wrote."
  value       = concat(local.function_statements, var.create_stream_push_policy ? local.stream_push_statements : [])
}
