# ---------------------------------------------------------------------------------------------
# Where
# ---------------------------------------------------------------------------------------------

variable "tenancy_ocid" {
  description = "OCID of the tenancy (the dynamic group is created there)."
  type        = string
}

variable "compartment_ocid" {
  description = "OCID of the compartment that receives every resource of the module."
  type        = string
}

variable "policy_compartment_ocid" {
  description = "Compartment the IAM policies are attached to: the compartment itself or one of its ancestors (and an ancestor of the existing secret's compartment, when one is used). Empty: compartment_ocid."
  type        = string
  default     = ""
}

variable "name_prefix" {
  description = "Prefix of every display name (lower case letters, digits and dashes)."
  type        = string
  default     = "objstream"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,23}$", var.name_prefix))
    error_message = "name_prefix: 1 to 24 lower case letters, digits or dashes, starting with a letter."
  }
}

variable "freeform_tags" {
  description = "Free-form tags put on every resource that takes tags."
  type        = map(string)
  default     = {}
}

# ---------------------------------------------------------------------------------------------
# Network
# ---------------------------------------------------------------------------------------------

variable "vcn_cidr" {
  description = "CIDR block of the VCN."
  type        = string
  default     = "10.20.0.0/16"

  validation {
    condition     = can(cidrhost(var.vcn_cidr, 0))
    error_message = "vcn_cidr must be a CIDR block, e.g. 10.20.0.0/16."
  }
}

variable "subnet_cidr" {
  description = "CIDR block of the private subnet (function and stream pool endpoint), inside vcn_cidr."
  type        = string
  default     = "10.20.1.0/24"

  validation {
    condition     = can(cidrhost(var.subnet_cidr, 0))
    error_message = "subnet_cidr must be a CIDR block, e.g. 10.20.1.0/24."
  }
}

# ---------------------------------------------------------------------------------------------
# Bucket
# ---------------------------------------------------------------------------------------------

variable "bucket_name" {
  description = "Name of the bucket whose new and updated objects are published (created by the module)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{1,256}$", var.bucket_name))
    error_message = "bucket_name: 1 to 256 letters, digits, dashes, underscores or periods."
  }
}

variable "bucket_kms_key_ocid" {
  description = "Vault key that encrypts the bucket (customer-managed). Empty: the module's own key when it creates a vault, else Oracle-managed keys."
  type        = string
  default     = ""
}

# ---------------------------------------------------------------------------------------------
# Streaming
# ---------------------------------------------------------------------------------------------

variable "stream_name" {
  description = "Name of the stream (the Kafka topic, STREAM_TOPIC)."
  type        = string
  default     = "objstream"
}

variable "stream_partitions" {
  description = "Partitions of the stream. One object goes to one partition (default key); each takes about 1 MB/s."
  type        = number
  default     = 1

  validation {
    condition     = var.stream_partitions >= 1 && var.stream_partitions == floor(var.stream_partitions)
    error_message = "stream_partitions must be a whole number of at least 1."
  }
}

variable "stream_retention_hours" {
  description = "How long the stream keeps messages, in hours (OCI Streaming: 24 to 168)."
  type        = number
  default     = 24

  validation {
    condition     = var.stream_retention_hours >= 24 && var.stream_retention_hours <= 168
    error_message = "stream_retention_hours must be between 24 and 168."
  }
}

variable "stream_user_tenancy_name" {
  description = "Tenancy name, the first part of STREAM_USERNAME (<tenancy>/<user>/<stream pool OCID>)."
  type        = string
}

variable "stream_user_domain_name" {
  description = "Identity domain of the stream user and its group; empty for the Default domain or a tenancy without identity domains."
  type        = string
  default     = ""
}

variable "stream_user_name" {
  description = "The user whose auth token the function sends as the SASL password."
  type        = string
}

variable "stream_user_group_name" {
  description = "The group of that user; it gets use stream-push on this stream pool only."
  type        = string
}

variable "create_stream_push_policy" {
  description = "Create the policy that lets stream_user_group_name push to the pool (false when it is managed elsewhere)."
  type        = bool
  default     = true
}

# ---------------------------------------------------------------------------------------------
# The auth token (SASL password), in OCI Vault
# ---------------------------------------------------------------------------------------------

variable "auth_token" {
  description = "The stream user's auth token. The module stores it in a Vault secret. Leave null to use existing_auth_token_secret_ocid. It ends up in the Terraform state: keep the state private."
  type        = string
  default     = null
  sensitive   = true
}

variable "existing_auth_token_secret_ocid" {
  description = "A Vault secret that already holds the auth token; then the module creates no vault, key or secret."
  type        = string
  default     = ""
}

variable "existing_auth_token_secret_compartment_ocid" {
  description = "Compartment of existing_auth_token_secret_ocid. Empty: compartment_ocid."
  type        = string
  default     = ""
}

variable "existing_vault_ocid" {
  description = "A vault to create the secret in (with existing_vault_key_ocid) instead of a new vault."
  type        = string
  default     = ""
}

variable "existing_vault_key_ocid" {
  description = "The master encryption key in existing_vault_ocid that encrypts the secret."
  type        = string
  default     = ""
}

variable "vault_key_protection_mode" {
  description = "Protection mode of the key the module creates: HSM or SOFTWARE."
  type        = string
  default     = "HSM"

  validation {
    condition     = contains(["HSM", "SOFTWARE"], var.vault_key_protection_mode)
    error_message = "vault_key_protection_mode must be HSM or SOFTWARE."
  }
}

# ---------------------------------------------------------------------------------------------
# The function
# ---------------------------------------------------------------------------------------------

variable "function_image" {
  description = "The function's image in OCI Registry, e.g. iad.ocir.io/<namespace>/objstream:0.1.0 (built from the repository's Dockerfile)."
  type        = string
}

variable "function_image_digest" {
  description = "Digest of function_image (sha256:…); empty: the digest the tag points to at deploy time."
  type        = string
  default     = ""
}

variable "function_memory_mb" {
  description = "Memory of the function in MB."
  type        = number
  default     = 512
}

variable "function_timeout_seconds" {
  description = "Timeout of a synchronous invocation (the Events rule's), at most 300."
  type        = number
  default     = 300

  validation {
    condition     = var.function_timeout_seconds >= 5 && var.function_timeout_seconds <= 300
    error_message = "function_timeout_seconds must be between 5 and 300."
  }
}

variable "function_detached_timeout_seconds" {
  description = "Timeout of a detached invocation (a continuation segment of a large object), at most 3600."
  type        = number
  default     = 3600

  validation {
    condition     = var.function_detached_timeout_seconds >= 5 && var.function_detached_timeout_seconds <= 3600
    error_message = "function_detached_timeout_seconds must be between 5 and 3600."
  }
}

variable "continuation" {
  description = "CONTINUATION: detached (hand the rest of a large object to a detached invocation) or off."
  type        = string
  default     = "detached"

  validation {
    condition     = contains(["detached", "off"], var.continuation)
    error_message = "continuation must be detached or off."
  }
}

variable "record_format" {
  description = "RECORD_FORMAT: auto, csv, json, jsonl, lines, raw (and parquet, avro where the function supports them)."
  type        = string
  default     = "auto"
}

variable "bad_record_policy" {
  description = "BAD_RECORD_POLICY: dead-letter, skip or fail."
  type        = string
  default     = "dead-letter"

  validation {
    condition     = contains(["dead-letter", "skip", "fail"], var.bad_record_policy)
    error_message = "bad_record_policy must be dead-letter, skip or fail."
  }
}

variable "function_extra_config" {
  description = "More function configuration (e.g. KAFKA_LINGER_MS, RECORD_KEY); it overrides the module's keys of the same name."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for key in keys(var.function_extra_config) : can(regex("^[A-Z][A-Z0-9_]*$", key))])
    error_message = "function_extra_config keys are upper case configuration keys, e.g. KAFKA_LINGER_MS."
  }
}

# ---------------------------------------------------------------------------------------------
# Logs, metrics and alarms
# ---------------------------------------------------------------------------------------------

variable "log_retention_days" {
  description = "Retention of the invoke and rule-execution logs, in days (30-day steps up to 180)."
  type        = number
  default     = 30

  validation {
    condition     = contains([30, 60, 90, 120, 150, 180], var.log_retention_days)
    error_message = "log_retention_days must be 30, 60, 90, 120, 150 or 180."
  }
}

variable "metrics_enabled" {
  description = "METRICS=oci (post objstream's own metrics to OCI Monitoring) when true, off when false."
  type        = bool
  default     = true
}

variable "metrics_namespace" {
  description = "METRICS_NAMESPACE: the custom metric namespace objstream posts to (and the alarms read)."
  type        = string
  default     = "objstream"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]*$", var.metrics_namespace)) && !startswith(var.metrics_namespace, "oci_") && !startswith(var.metrics_namespace, "oracle_")
    error_message = "metrics_namespace: lower case letters, digits and underscores, not starting with oci_ or oracle_."
  }
}

variable "alarm_email" {
  description = "E-mail address subscribed to the alarm topic (it must confirm the subscription); empty: no subscription."
  type        = string
  default     = ""
}

variable "lag_alarm_threshold_seconds" {
  description = "Alarm when objstream's lag_seconds (event time to published) goes above this."
  type        = number
  default     = 600
}

variable "alarms_enabled" {
  description = "Whether the alarms are enabled (they are created either way)."
  type        = bool
  default     = true
}
