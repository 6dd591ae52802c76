output "function_ocid" {
  description = "OCID of the objstream function."
  value       = module.objstream.function_ocid
}

output "stream_ocid" {
  description = "OCID of the stream."
  value       = module.objstream.stream_ocid
}

output "stream_pool_endpoint_fqdn" {
  description = "The stream pool's private endpoint FQDN."
  value       = module.objstream.stream_pool_endpoint_fqdn
}

output "bootstrap_servers" {
  description = "STREAM_BOOTSTRAP_SERVERS."
  value       = module.objstream.bootstrap_servers
}

output "auth_token_secret_ocid" {
  description = "The secret holding the auth token."
  value       = module.objstream.auth_token_secret_ocid
}

output "alarm_topic_ocid" {
  description = "The alarm topic."
  value       = module.objstream.alarm_topic_ocid
}

output "objstream_check_env" {
  description = "KEY=VALUE settings for `objstream check --env-file`."
  value       = module.objstream.objstream_check_env
}

output "iam_statements" {
  description = "The IAM statements the stack wrote."
  value       = module.objstream.iam_statements
}
