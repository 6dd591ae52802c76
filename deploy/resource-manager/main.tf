# The Resource Manager stack's root: the objstream module, with every choice from schema.yaml.
# `make rm-stack` puts the module at ./modules/objstream inside the zip.

module "objstream" {
  source = "./modules/objstream"

  providers = {
    oci      = oci
    oci.home = oci.home
  }

  tenancy_ocid            = var.tenancy_ocid
  compartment_ocid        = var.compartment_ocid
  policy_compartment_ocid = var.policy_compartment_ocid
  name_prefix             = var.name_prefix

  vcn_cidr    = var.vcn_cidr
  subnet_cidr = var.subnet_cidr

  bucket_name         = var.bucket_name
  bucket_kms_key_ocid = var.bucket_kms_key_ocid

  stream_name               = var.stream_name
  stream_partitions         = var.stream_partitions
  stream_retention_hours    = var.stream_retention_hours
  stream_user_tenancy_name  = var.stream_user_tenancy_name
  stream_user_domain_name   = var.stream_user_domain_name
  stream_user_name          = var.stream_user_name
  stream_user_group_name    = var.stream_user_group_name
  create_stream_push_policy = var.create_stream_push_policy

  auth_token                                  = var.use_existing_secret ? null : var.auth_token
  existing_auth_token_secret_ocid             = var.use_existing_secret ? var.existing_auth_token_secret_ocid : ""
  existing_auth_token_secret_compartment_ocid = var.use_existing_secret ? var.existing_auth_token_secret_compartment_ocid : ""

  function_image                    = var.function_image
  function_image_digest             = var.function_image_digest
  function_memory_mb                = var.function_memory_mb
  function_timeout_seconds          = var.function_timeout_seconds
  function_detached_timeout_seconds = var.function_detached_timeout_seconds
  continuation                      = var.continuation
  record_format                     = var.record_format
  bad_record_policy                 = var.bad_record_policy

  log_retention_days          = var.log_retention_days
  metrics_enabled             = var.metrics_enabled
  metrics_namespace           = var.metrics_namespace
  alarm_email                 = var.alarm_email
  lag_alarm_threshold_seconds = var.lag_alarm_threshold_seconds
}
