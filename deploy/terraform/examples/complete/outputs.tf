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

output "objstream_check_env" {
  description = "KEY=VALUE settings for `objstream check --env-file`."
  value       = module.objstream.objstream_check_env
}

output "iam_statements" {
  description = "The IAM statements the module wrote."
  value       = module.objstream.iam_statements
}
