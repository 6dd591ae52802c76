# The whole objstream architecture in one compartment: network, stream pool and stream, Vault
# secret for the auth token, bucket, Events rule, function, IAM, logs and alarms.

module "objstream" {
  source = "../../modules/objstream"

  providers = {
    oci      = oci
    oci.home = oci.home
  }

  tenancy_ocid     = var.tenancy_ocid
  compartment_ocid = var.compartment_ocid
  name_prefix      = var.name_prefix

  bucket_name = var.bucket_name

  stream_name            = var.stream_name
  stream_partitions      = var.stream_partitions
  stream_retention_hours = var.stream_retention_hours

  stream_user_tenancy_name = var.stream_user_tenancy_name
  stream_user_domain_name  = var.stream_user_domain_name
  stream_user_name         = var.stream_user_name
  stream_user_group_name   = var.stream_user_group_name

  auth_token                      = var.auth_token
  existing_auth_token_secret_ocid = var.existing_auth_token_secret_ocid

  function_image        = var.function_image
  function_image_digest = var.function_image_digest

  alarm_email = var.alarm_email
}
