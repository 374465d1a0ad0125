"""Price a stack's swarms on another platform, with a plain node choice for that platform.

For `python -m stacks cost dev --on hetzner-k3s,doks`: the swarms stay as
they are, and each platform gets the cheapest layout of one node type from
its catalog that holds the swarms as the capacity check places them (CPU,
memory and volumes per node). The choice is a first estimate for "Hetzner +
K3s or DOKS?" with one node type, not an optimum over mixed pools.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from stacks.capacity import Demand, containers_per_node, node_group, placement_problems, stack_demands
from stacks.catalog import Catalog, Price
from stacks.config import StackConfig
from stacks.config_loader import StackConfigError

# Node families considered: Hetzner's shared x86 CX line, DigitalOcean's
# basic Droplets. Both are the lowest-priced general nodes of their provider.
_CANDIDATE_PREFIXES = {"hetzner": ("cx",), "digitalocean": ("s-",)}

DEFAULT_LOCATION = {"hetzner-k3s": "fsn1", "doks": "fra1"}


# Nodes tried per type before giving up on it: the servers of one Hetzner network.
_MAX_NODES = 100


def choose_nodes(catalog: Catalog, provider: str, location: str, config: StackConfig) -> tuple[Price, int]:
    """Pick the node type and count that hold the swarms at the lowest monthly price, fewer nodes on a tie.

    The swarms must fit as the capacity check places them: CPU and memory
    requests within each node's allocatable capacity, and at most as many
    volumes per node as the platform's CSI driver attaches.
    """
    platform = "hetzner-k3s" if provider == "hetzner" else "doks"
    demands = stack_demands(config.model_copy(update={"platform": platform}), bound_to_pools=False)
    best: tuple[Decimal, int, Price] | None = None
    for price in catalog.of_kind(provider, "server" if provider == "hetzner" else "droplet", location):
        if not price.sku.startswith(_CANDIDATE_PREFIXES[provider]) or not price.vcpus or not price.memory_gb:
            continue
        if price.deprecated:
            continue
        nodes = _nodes_needed(catalog, price, demands)
        if nodes is None:
            continue
        total = price.monthly * nodes
        if best is None or (total, nodes) < (best[0], best[1]):
            best = (total, nodes, price)
    if best is None:
        largest = max(demands, key=lambda demand: (demand.millicores, demand.mebibytes))
        raise StackConfigError(
            f"no {provider} node type in {location} in the price catalog has room for the swarms; the largest "
            f"container requests {largest.millicores / 1000:g} CPU and {largest.mebibytes / 1024:g} GiB"
        )
    return best[2], best[1]


def _nodes_needed(catalog: Catalog, price: Price, demands: list[Demand]) -> int | None:
    """Return the fewest nodes of one type that hold every demand, or None when no count up to the limit does."""
    for nodes in range(1, _MAX_NODES + 1):
        group = node_group(catalog, price, nodes, name="general", key="general", count_key="")
        if any(demand.count and containers_per_node(group, demand) == 0 for demand in demands):
            return None
        if not placement_problems([group], demands):
            return nodes
    return None


def stack_values_on(platform: str, config: StackConfig, values: dict[str, Any], catalog: Catalog) -> dict[str, Any]:
    """Return the `swarm:` values of the same swarms on `platform`, with a node choice for it."""
    target = {key: value for key, value in values.items() if key in ("swarms", "adminCidrs")}
    # The other platform has one pool, so swarms that name a pool lose the name.
    target["swarms"] = [{key: item for key, item in swarm.items() if key != "pool"} for swarm in target.get("swarms", [])]
    target["platform"] = platform
    target.setdefault("adminCidrs", ["203.0.113.7/32"])

    if platform == "hetzner-k3s":
        location = config.hetzner.location if config.hetzner else DEFAULT_LOCATION[platform]
        node, count = choose_nodes(catalog, "hetzner", location, config)
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
        node, count = choose_nodes(catalog, "digitalocean", region, config)
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
