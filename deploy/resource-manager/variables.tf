# Set by Resource Manager.
variable "tenancy_ocid" {
  description = "OCID of the tenancy (set by Resource Manager)."
  type        = string
}

variable "region" {
  description = "Region of the stack (set by Resource Manager)."
  type        = string
}

variable "compartment_ocid" {
  description = "Compartment for every resource."
  type        = string
}

variable "policy_compartment_ocid" {
  description = "Compartment of the IAM policies (the compartment or an ancestor); empty: compartment_ocid."
  type        = string
  default     = ""
}

variable "name_prefix" {
  description = "Prefix of every display name."
  type        = string
  default     = "objstream"
}

variable "vcn_cidr" {
  description = "CIDR block of the VCN."
  type        = string
  default     = "10.20.0.0/16"
}

variable "subnet_cidr" {
  description = "CIDR block of the private subnet."
  type        = string
  default     = "10.20.1.0/24"
}

variable "bucket_name" {
  description = "The bucket to create and publish from."
  type        = string
}

variable "bucket_kms_key_ocid" {
  description = "Customer-managed key for the bucket, optional."
  type        = string
  default     = ""
}

variable "stream_name" {
  description = "The stream (Kafka topic)."
  type        = string
  default     = "objstream"
}

variable "stream_partitions" {
  description = "Partitions of the stream."
  type        = number
  default     = 1
}

variable "stream_retention_hours" {
  description = "Retention of the stream, 24 to 168 hours."
  type        = number
  default     = 24
}

variable "stream_user_tenancy_name" {
  description = "Tenancy name (first part of the SASL user name)."
  type        = string
}

variable "stream_user_domain_name" {
  description = "Identity domain of the stream user; empty for the Default domain."
  type        = string
  default     = ""
}

variable "stream_user_name" {
  description = "The user whose auth token is the SASL password."
  type        = string
}

variable "stream_user_group_name" {
  description = "That user's group (gets use stream-push on the pool)."
  type        = string
}

variable "create_stream_push_policy" {
  description = "Create the group's stream-push policy."
  type        = bool
  default     = true
}

variable "use_existing_secret" {
  description = "Use an existing Vault secret that holds the auth token."
  type        = bool
  default     = false
}

variable "auth_token" {
  description = "The stream user's auth token (stored in a new Vault secret)."
  type        = string
  default     = null
  sensitive   = true
}

variable "existing_auth_token_secret_ocid" {
  description = "The existing secret holding the auth token."
  type        = string
  default     = ""
}

variable "existing_auth_token_secret_compartment_ocid" {
  description = "Compartment of that secret; empty: compartment_ocid."
  type        = string
  default     = ""
}

variable "function_image" {
  description = "The objstream image in OCI Registry."
  type        = string
}

variable "function_image_digest" {
  description = "Digest of the image (sha256:…), optional."
  type        = string
  default     = ""
}

variable "function_memory_mb" {
  description = "Memory of the function in MB."
  type        = number
  default     = 512
}

variable "function_timeout_seconds" {
  description = "Timeout of a synchronous invocation (at most 300)."
  type        = number
  default     = 300
}

variable "function_detached_timeout_seconds" {
  description = "Timeout of a detached invocation (at most 3600)."
  type        = number
  default     = 3600
}

variable "continuation" {
  description = "CONTINUATION: detached or off."
  type        = string
  default     = "detached"
}

variable "record_format" {
  description = "RECORD_FORMAT."
  type        = string
  default     = "auto"
}

variable "bad_record_policy" {
  description = "BAD_RECORD_POLICY: dead-letter, skip or fail."
  type        = string
  default     = "dead-letter"
}

variable "log_retention_days" {
  description = "Retention of the logs in days (30 to 180, in 30-day steps)."
  type        = number
  default     = 30
}

variable "metrics_enabled" {
  description = "Post objstream's metrics to OCI Monitoring."
  type        = bool
  default     = true
}

variable "metrics_namespace" {
  description = "METRICS_NAMESPACE."
  type        = string
  default     = "objstream"
}

variable "alarm_email" {
  description = "E-mail for alarms, optional."
  type        = string
  default     = ""
}

variable "lag_alarm_threshold_seconds" {
  description = "Alarm above this lag, in seconds."
  type        = number
  default     = 600
}
