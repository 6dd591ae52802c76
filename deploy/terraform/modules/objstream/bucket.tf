# The bucket objstream reads: private, object events on (the Events rule needs them).

data "oci_objectstorage_namespace" "this" {
  compartment_id = var.tenancy_ocid
}

resource "oci_objectstorage_bucket" "this" {
  #checkov:skip=CKV_OCI_9:Customer-managed encryption is a choice (bucket_kms_key_ocid), not a default: it needs a service policy for Object Storage on that key, which belongs to whoever owns the key. Oracle-managed AES-256 encryption applies otherwise.
  compartment_id        = var.compartment_ocid
  namespace             = data.oci_objectstorage_namespace.this.namespace
  name                  = var.bucket_name
  access_type           = "NoPublicAccess"
  object_events_enabled = true
  versioning            = "Enabled"
  kms_key_id            = var.bucket_kms_key_ocid != "" ? var.bucket_kms_key_ocid : null
  freeform_tags         = var.freeform_tags
}
