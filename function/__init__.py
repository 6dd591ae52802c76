"""objstream's function package: the pure core (events, records) and its thin OCI adapters."""
