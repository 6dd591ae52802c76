terraform {
  required_version = ">= 1.5.0"

  required_providers {
    oci = {
      source = "oracle/oci"
      # detached_mode_timeout_in_seconds and failure_destination on oci_functions_function
      # are in the provider's documentation from the 7.2x releases on.
      version               = ">= 7.23.0"
      configuration_aliases = [oci.home]
    }
  }
}
