"""Price a stack's swarms on another platform, with a plain node choice for that platform.

For `python -m stacks cost dev --on hetzner-k3s,doks`: the swarms stay as
they are, and each platform gets one pool of the layout that `sizing: auto`
would choose: the cheapest node type and count that hold the swarms as the
capacity check places them (CPU, memory and volumes per node).
"""

from __future__ import annotations

from typing import Any

from stacks.capacity import stack_demands
from stacks.catalog import Catalog, Price
from stacks.config import MINIMUM_STORAGE, StackConfig, parse_quantity
from stacks.sizing import SizingError, cheapest_layout
from stacks.config_loader import StackConfigError

DEFAULT_LOCATION = {"hetzner-k3s": "fsn1", "doks": "fra1"}


def choose_nodes(catalog: Catalog, provider: str, location: str, config: StackConfig) -> tuple[Price, int]:
    """Pick the node type and count that hold the swarms at the lowest monthly price, as `sizing: auto` does."""
    platform = "hetzner-k3s" if provider == "hetzner" else "doks"
    demands = stack_demands(config.model_copy(update={"platform": platform}), bound_to_pools=False)
    try:
        layout = cheapest_layout(catalog, provider, location, demands)
    except SizingError as error:
        raise StackConfigError(str(error)) from None
    return layout.price, layout.nodes


def stack_values_on(platform: str, config: StackConfig, values: dict[str, Any], catalog: Catalog) -> dict[str, Any]:
    """Return the `swarm:` values of the same swarms on `platform`, with a node choice for it."""
    target = {key: value for key, value in values.items() if key in ("swarms", "adminCidrs")}
    # The other platform has one pool, so swarms that name a pool lose the
    # name, and workspaces smaller than its smallest volume grow to it.
    minimum = parse_quantity(MINIMUM_STORAGE[platform]) if platform in MINIMUM_STORAGE else 0
    target["swarms"] = [
        {
            **{key: item for key, item in swarm.items() if key != "pool"},
            **({"storage": MINIMUM_STORAGE[platform]} if parse_quantity(str(swarm.get("storage", "20Gi"))) < minimum else {}),
        }
        for swarm in target.get("swarms", [])
    ]
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
            "loadBalancerType": _load_balancer_type(catalog, control_plane["count"] + count, config),
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


def _load_balancer_type(catalog: Catalog, servers: int, config: StackConfig) -> str:
    """Keep the stack's Hetzner load balancer type, or take the smallest that targets every server."""
    current = config.hetzner.load_balancer_type if config.hetzner else "lb11"
    table = catalog.load_balancer_limits.get("hetzner")
    if table is None or current not in table.types or table.types[current].targets >= servers:
        return current
    larger = sorted((limits.targets, name) for name, limits in table.types.items() if limits.targets >= servers)
    return larger[0][1] if larger else current
