terraform {
  required_version = ">= 1.5.0"

  required_providers {
    oci = {
      source  = "oracle/oci"
      version = ">= 7.23.0"
    }
  }
}

# Credentials come from the usual places (~/.oci/config, or OCI_CLI_* / TF_VAR_* variables).
provider "oci" {
  region = var.region
}

# IAM (dynamic group, policies) is written in the tenancy's home region.
data "oci_identity_region_subscriptions" "home" {
  tenancy_id = var.tenancy_ocid

  filter {
    name   = "is_home_region"
    values = [true]
  }
}

provider "oci" {
  alias  = "home"
  region = data.oci_identity_region_subscriptions.home.region_subscriptions[0].region_name
}
