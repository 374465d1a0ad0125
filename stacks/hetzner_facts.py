"""Limits and names of Hetzner Cloud that the config and the cluster depend on.

Sources, read on 2026-12-04:
- locations fsn1, nbg1, hel1, ash and hil: docs.cnap.tech/compute/providers/hetzner.
  Singapore (sin) and the zone of each location are as the Hetzner Cloud API's
  `network_zone` field of a location names them.
- 100 servers per private network, 10 servers per placement group, 50
  placement groups per project: Hetzner's limits as quoted in
  kube-hetzner/terraform-hcloud-kube-hetzner pull request 1217, and "a placement
  group holds up to 10 servers by default" in betterstack's placement group docs.
- 500 effective rules per firewall, where each source range of a rule counts
  as one: docs.hetzner.com/cloud/firewalls/faq ("What are the limitations of
  Firewalls?", page last changed 2022-02-25).
"""

from __future__ import annotations

from stacks.config_checks import nearest_name

NETWORK_ZONES: dict[str, str] = {
    "fsn1": "eu-central",
    "nbg1": "eu-central",
    "hel1": "eu-central",
    "ash": "us-east",
    "hil": "us-west",
    "sin": "ap-southeast",
}

MAX_SERVERS_PER_NETWORK = 100
MAX_SERVERS_PER_PLACEMENT_GROUP = 10
MAX_PLACEMENT_GROUPS_PER_PROJECT = 50
MAX_EFFECTIVE_FIREWALL_RULES = 500


def placement_groups_needed(servers: int) -> int:
    """Return how many spread placement groups `servers` servers of one pool need."""
    return -(-servers // MAX_SERVERS_PER_PLACEMENT_GROUP)


def network_zone(location: str) -> str:
    """Return the network zone of a location, such as eu-central for fsn1."""
    return NETWORK_ZONES[location]


def check_location(location: str) -> str:
    """Validate a Hetzner location name, suggesting the nearest known one."""
    if location in NETWORK_ZONES:
        return location
    allowed = ", ".join(NETWORK_ZONES)
    nearest = nearest_name(location, NETWORK_ZONES)
    hint = f" (nearest: {nearest})" if nearest else ""
    raise ValueError(f"must be one of {allowed}{hint}")
