"""Test support shared by the suites: stand-ins for the services objstream talks to."""
