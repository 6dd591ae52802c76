# The stream user's auth token (the SASL password) in a Vault secret, unless an existing secret
# is named (existing_auth_token_secret_ocid): then nothing here is created.

resource "oci_kms_vault" "this" {
  count = local.create_vault ? 1 : 0

  compartment_id = var.compartment_ocid
  display_name   = "${var.name_prefix}-vault"
  vault_type     = "DEFAULT"
  freeform_tags  = var.freeform_tags
}

resource "oci_kms_key" "this" {
  count = local.create_vault ? 1 : 0

  compartment_id      = var.compartment_ocid
  display_name        = "${var.name_prefix}-secrets-key"
  management_endpoint = oci_kms_vault.this[0].management_endpoint
  protection_mode     = var.vault_key_protection_mode
  freeform_tags       = var.freeform_tags

  key_shape {
    algorithm = "AES"
    length    = 32
  }
}

resource "oci_vault_secret" "auth_token" {
  count = local.use_existing_secret ? 0 : 1

  compartment_id = var.compartment_ocid
  vault_id       = local.vault_ocid
  key_id         = local.vault_key_ocid
  secret_name    = "${var.name_prefix}-stream-auth-token"
  description    = "Auth token of ${var.stream_user_name}: objstream's SASL password for the stream pool"
  freeform_tags  = var.freeform_tags

  secret_content {
    content_type = "BASE64"
    content      = base64encode(coalesce(var.auth_token, "unset"))
    name         = "initial"
  }

  lifecycle {
    precondition {
      condition     = var.auth_token != null && var.auth_token != ""
      error_message = "Set auth_token (the stream user's auth token), or existing_auth_token_secret_ocid."
    }
    precondition {
      condition     = var.existing_vault_ocid == "" || var.existing_vault_key_ocid != ""
      error_message = "existing_vault_ocid needs existing_vault_key_ocid (the key that encrypts the secret)."
    }
    # A new token is put in by rotating the secret (a new version), not by recreating it.
    ignore_changes = [secret_content]
  }
}
