"""Benchmarks of the offline plan, the provisioning order and the node sizing: `python -m benchmarks`."""
