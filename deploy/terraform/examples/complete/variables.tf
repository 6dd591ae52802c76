variable "tenancy_ocid" {
  description = "OCID of the tenancy."
  type        = string
}

variable "region" {
  description = "Region to deploy to, e.g. us-ashburn-1."
  type        = string
}

variable "compartment_ocid" {
  description = "Compartment for every resource."
  type        = string
}

variable "name_prefix" {
  description = "Prefix of every display name."
  type        = string
  default     = "objstream"
}

variable "bucket_name" {
  description = "The bucket to create and publish from."
  type        = string
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

variable "auth_token" {
  description = "The stream user's auth token (stored in a new Vault secret); null with existing_auth_token_secret_ocid."
  type        = string
  default     = null
  sensitive   = true
}

variable "existing_auth_token_secret_ocid" {
  description = "An existing Vault secret holding the auth token (then no vault, key or secret is created)."
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

variable "alarm_email" {
  description = "E-mail for alarms, optional."
  type        = string
  default     = ""
}
