locals {
  policy_compartment_ocid = var.policy_compartment_ocid != "" ? var.policy_compartment_ocid : var.compartment_ocid

  # The auth token's secret: an existing one, or the one the module creates (in a new vault, or in
  # an existing vault with its key).
  use_existing_secret    = var.existing_auth_token_secret_ocid != ""
  create_vault           = !local.use_existing_secret && var.existing_vault_ocid == ""
  vault_ocid             = local.create_vault ? one(oci_kms_vault.this[*].id) : var.existing_vault_ocid
  vault_key_ocid         = local.create_vault ? one(oci_kms_key.this[*].id) : var.existing_vault_key_ocid
  auth_token_secret_ocid = local.use_existing_secret ? var.existing_auth_token_secret_ocid : one(oci_vault_secret.auth_token[*].id)
  secret_compartment_ocid = (
    local.use_existing_secret && var.existing_auth_token_secret_compartment_ocid != ""
    ? var.existing_auth_token_secret_compartment_ocid
    : var.compartment_ocid
  )

  # OCI Streaming's SASL user name: <tenancy>/<user>/<pool OCID>, or with an identity domain
  # <tenancy>/<domain>/<user>/<pool OCID>.
  stream_user_path = (
    var.stream_user_domain_name == ""
    ? "${var.stream_user_tenancy_name}/${var.stream_user_name}"
    : "${var.stream_user_tenancy_name}/${var.stream_user_domain_name}/${var.stream_user_name}"
  )
  stream_username = "${local.stream_user_path}/${oci_streaming_stream_pool.this.id}"
  # A group of the Default domain by its name; with an identity domain, '<domain>'/'<group>'.
  stream_group = (
    var.stream_user_domain_name == ""
    ? var.stream_user_group_name
    : "'${var.stream_user_domain_name}'/'${var.stream_user_group_name}'"
  )

  # The private pool's Kafka endpoint: its FQDN on 9092 (SASL_SSL).
  bootstrap_servers = "${oci_streaming_stream_pool.this.endpoint_fqdn}:9092"

  # The function's configuration (CONTRACT.md §1); every key here is one objstream reads.
  # FUNCTION_OCID is left to FN_FN_ID (set by OCI Functions), and FUNCTION_INVOKE_ENDPOINT to the
  # function's own GetFunction lookup: the function cannot name its own invoke endpoint here
  # without a dependency cycle.
  base_function_config = {
    STREAM_BOOTSTRAP_SERVERS      = local.bootstrap_servers
    STREAM_TOPIC                  = oci_streaming_stream.this.name
    STREAM_SECURITY_PROTOCOL      = "SASL_SSL"
    STREAM_SASL_MECHANISM         = "PLAIN"
    STREAM_USERNAME               = local.stream_username
    STREAM_AUTH_TOKEN_SECRET_OCID = local.auth_token_secret_ocid
    OCI_AUTH                      = "resource_principal"
    RECORD_FORMAT                 = var.record_format
    BAD_RECORD_POLICY             = var.bad_record_policy
    CONTINUATION                  = var.continuation
    METRICS                       = var.metrics_enabled ? "oci" : "off"
    METRICS_NAMESPACE             = var.metrics_namespace
  }
  function_config = merge(local.base_function_config, var.function_extra_config)

  # The Events rule's condition: object create and update events of this one bucket.
  event_types = [
    "com.oraclecloud.objectstorage.createobject",
    "com.oraclecloud.objectstorage.updateobject",
  ]
  rule_condition = jsonencode({
    eventType = local.event_types
    data = {
      additionalDetails = {
        bucketName = [var.bucket_name]
      }
    }
  })

  # What `objstream check` and `objstream tail` need, as KEY=VALUE lines (an --env-file).
  # The secret's OCID, never the token.
  check_env_file = join("\n", [
    for key in ["STREAM_BOOTSTRAP_SERVERS", "STREAM_TOPIC", "STREAM_SECURITY_PROTOCOL", "STREAM_SASL_MECHANISM", "STREAM_USERNAME", "STREAM_AUTH_TOKEN_SECRET_OCID"] :
    "${key}=${local.base_function_config[key]}"
  ])
}
