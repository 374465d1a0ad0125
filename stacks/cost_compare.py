"""Price a stack's swarms on another platform, with a plain node choice for that platform.

For `python -m stacks cost dev --on hetzner-k3s,doks`: the swarms stay as
they are, and each platform gets the cheapest layout of one node type from
its catalog with room for the swarms' CPU and memory requests. The choice is
a first estimate for "Hetzner + K3s or DOKS?", not an optimum.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from stacks.catalog import Catalog, Price
from stacks.config import StackConfig
from stacks.config_checks import parse_quantity
from stacks.config_loader import StackConfigError

# The share of each node that the kubelet, the container runtime and the
# cluster's own pods keep. An estimate, the same on both platforms.
NODE_RESERVED_CPU = Decimal("0.5")
NODE_RESERVED_MEMORY_GB = Decimal("1")

# Node families considered: Hetzner's shared x86 CX line, DigitalOcean's
# basic Droplets. Both are the lowest-priced general nodes of their provider.
_CANDIDATE_PREFIXES = {"hetzner": ("cx",), "digitalocean": ("s-",)}

DEFAULT_LOCATION = {"hetzner-k3s": "fsn1", "doks": "fra1"}


@dataclass(frozen=True)
class Requests:
    """The swarms' CPU and memory requests in total, and those of the largest container."""

    cpu: Decimal
    memory_gb: Decimal
    largest_cpu: Decimal
    largest_memory_gb: Decimal


def swarm_requests(config: StackConfig) -> Requests:
    cpu = memory_gb = largest_cpu = largest_memory_gb = Decimal(0)
    for swarm in config.swarms:
        container_cpu = Decimal(str(parse_quantity(swarm.cpu)))
        container_memory_gb = Decimal(str(parse_quantity(swarm.memory))) / Decimal(2**30)
        cpu += container_cpu * swarm.replicas
        memory_gb += container_memory_gb * swarm.replicas
        if swarm.replicas:
            largest_cpu = max(largest_cpu, container_cpu)
            largest_memory_gb = max(largest_memory_gb, container_memory_gb)
    return Requests(cpu, memory_gb, largest_cpu, largest_memory_gb)


def choose_nodes(catalog: Catalog, provider: str, location: str, requests: Requests) -> tuple[Price, int]:
    """Pick the node type and count that hold the requests at the lowest monthly price.

    A node type qualifies only if the largest container fits on one node. The
    number of volumes a node can attach is not checked yet.
    """
    best: tuple[Decimal, int, Price] | None = None
    cpu, memory_gb = requests.cpu, requests.memory_gb
    for price in catalog.of_kind(provider, "server" if provider == "hetzner" else "droplet", location):
        if not price.sku.startswith(_CANDIDATE_PREFIXES[provider]) or not price.vcpus or not price.memory_gb:
            continue
        if price.deprecated:
            continue
        usable_cpu = Decimal(price.vcpus) - NODE_RESERVED_CPU
        usable_memory = price.memory_gb - NODE_RESERVED_MEMORY_GB
        if usable_cpu < requests.largest_cpu or usable_memory < requests.largest_memory_gb:
            continue
        if usable_cpu <= 0 or usable_memory <= 0:
            continue
        nodes = max(1, math.ceil(cpu / usable_cpu), math.ceil(memory_gb / usable_memory))
        total = price.monthly * nodes
        # Cheapest first; on a tie, fewer nodes.
        if best is None or (total, nodes) < (best[0], best[1]):
            best = (total, nodes, price)
    if best is None:
        raise StackConfigError(
            f"no {provider} node type in {location} in the price catalog has room for a container of "
            f"{requests.largest_cpu} CPU and {requests.largest_memory_gb:.1f} GiB"
        )
    return best[2], best[1]


def stack_values_on(platform: str, config: StackConfig, values: dict[str, Any], catalog: Catalog) -> dict[str, Any]:
    """Return the `swarm:` values of the same swarms on `platform`, with a node choice for it."""
    requests = swarm_requests(config)
    target = {key: value for key, value in values.items() if key in ("swarms", "adminCidrs")}
    target["platform"] = platform
    target.setdefault("adminCidrs", ["203.0.113.7/32"])

    if platform == "hetzner-k3s":
        location = config.hetzner.location if config.hetzner else DEFAULT_LOCATION[platform]
        node, count = choose_nodes(catalog, "hetzner", location, requests)
        # The control plane and load balancer of a Hetzner stack stay as they are.
        control_plane = (
            {"serverType": config.hetzner.control_plane.server_type, "count": config.hetzner.control_plane.count}
            if config.hetzner
            else {"serverType": "cx23", "count": 1}
        )
        target["hetzner"] = {
            "location": location,
            "controlPlane": control_plane,
            "workers": [{"name": "general", "serverType": node.sku, "count": count}],
            "loadBalancerType": config.hetzner.load_balancer_type if config.hetzner else "lb11",
        }
    elif platform == "doks":
        region = config.doks.region if config.doks else DEFAULT_LOCATION[platform]
        node, count = choose_nodes(catalog, "digitalocean", region, requests)
        # An HA control plane stays HA, and a Hetzner stack with three K3s servers gets one too.
        ha = config.doks.ha if config.doks else bool(config.hetzner and config.hetzner.control_plane.count > 1)
        target["doks"] = {
            "region": region,
            "ha": ha,
            "nodePools": [{"name": "general", "size": node.sku, "count": count}],
        }
    else:
        raise ValueError(f"no node choice for platform {platform}; use hetzner-k3s or doks")
    return target
