"""Cost-optimal node sizing: the node type and count that hold the swarms for the least monthly price.

The solver tries every node type that the price catalog prices in the
location, finds for each the fewest nodes on which the capacity check places
every container (CPU, memory, one volume per container, the system reserve
and the per-node volume limit), and keeps the cheapest layout. On a tie in
price it prefers fewer nodes, then the type name, so the choice is the same
on every run.

The lower bound prices the requests alone at the catalog's cheapest vCPU and
cheapest GiB of memory: every layout pays at least that much for its nodes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Optional

from stacks.capacity import Demand, NodeGroup, containers_per_node, node_group, placement_problems
from stacks.catalog import Catalog, Price

# Families of x86 node types considered. Hetzner's Arm types (cax) are left
# out, because a swarm image may exist for amd64 only.
CANDIDATE_PREFIXES = {"hetzner": ("cx", "cpx", "ccx"), "digitalocean": ("s-", "g-", "c-", "m-")}

# The most nodes the solver tries per type: Hetzner puts at most 100 servers
# in one private network; for DOKS it is a search bound, not a platform limit.
MAX_NODES = {"hetzner": 100, "digitalocean": 1000}


class SizingError(ValueError):
    """No node type in the catalog holds the swarms."""


@dataclass(frozen=True)
class Layout:
    """A node type, how many of it, and their monthly price."""

    price: Price
    nodes: int

    @property
    def sku(self) -> str:
        return self.price.sku

    @property
    def monthly(self) -> Decimal:
        return self.price.monthly * self.nodes

    def describe(self) -> str:
        """Describe the layout as the plan and the cost report show it, such as "3 x cx43 (47.97 EUR)"."""
        return f"{self.nodes} x {self.sku} ({self.monthly} {self.price.currency})"


def candidates(catalog: Catalog, provider: str, location: str) -> list[Price]:
    """List the node types the solver may choose: priced in the location, with hardware figures, not deprecated."""
    kind = "server" if provider == "hetzner" else "droplet"
    return [
        price
        for price in catalog.of_kind(provider, kind, location)
        if price.sku.startswith(CANDIDATE_PREFIXES[provider]) and price.vcpus and price.memory_gb and not price.deprecated
    ]


def fewest_nodes(catalog: Catalog, price: Price, demands: list[Demand], max_nodes: int) -> Optional[int]:
    """Return the fewest nodes of one type that hold every demand, or None when the type cannot."""
    group = node_group(catalog, price, 1, name="auto", key="auto", count_key="")
    if any(demand.count and containers_per_node(group, demand) == 0 for demand in demands):
        return None
    low = max(1, _nodes_by_totals(group, demands))
    if low > max_nodes or not _holds(group, max_nodes, demands):
        return None
    # Identical nodes filled first-fit hold more with every node added, so the
    # fewest nodes that hold the demands can be found by bisection.
    high = max_nodes
    while low < high:
        middle = (low + high) // 2
        if _holds(group, middle, demands):
            high = middle
        else:
            low = middle + 1
    return low


def _holds(group: NodeGroup, nodes: int, demands: list[Demand]) -> bool:
    return not placement_problems([NodeGroup(**{**group.__dict__, "nodes": nodes})], demands)


def _nodes_by_totals(group: NodeGroup, demands: list[Demand]) -> int:
    """Return the nodes that the summed requests need at least, ignoring how containers split across nodes."""
    millicores = sum(demand.count * demand.millicores for demand in demands)
    mebibytes = sum(demand.count * demand.mebibytes for demand in demands)
    volumes = sum(demand.count * demand.volumes for demand in demands)
    return max(
        math.ceil(millicores / group.millicores),
        math.ceil(mebibytes / group.mebibytes),
        math.ceil(volumes / group.volumes) if group.volumes else 0,
    )


def cheapest_layout(catalog: Catalog, provider: str, location: str, demands: list[Demand], max_nodes: Optional[int] = None) -> Layout:
    """Choose the node type and count that hold the demands for the least monthly price, fewer nodes on a tie."""
    limit = max_nodes if max_nodes is not None else MAX_NODES[provider]
    best: Optional[Layout] = None
    for price in candidates(catalog, provider, location):
        nodes = fewest_nodes(catalog, price, demands, limit)
        if nodes is None:
            continue
        layout = Layout(price, nodes)
        if best is None or (layout.monthly, layout.nodes, layout.sku) < (best.monthly, best.nodes, best.sku):
            best = layout
    if best is None:
        raise SizingError(_no_layout(catalog, provider, location, demands, limit))
    return best


def _no_layout(catalog: Catalog, provider: str, location: str, demands: list[Demand], limit: int) -> str:
    running = [demand for demand in demands if demand.count]
    if not running:
        return f"no {provider} node type in {location} is in the price catalog"
    largest = max(running, key=lambda demand: (demand.millicores, demand.mebibytes))
    return (
        f"no {provider} node type in {location} holds the swarms in at most {limit} nodes: the largest container "
        f"({largest.label}) requests {largest.millicores / 1000:g} CPU and {largest.mebibytes / 1024:g} GiB, and "
        f"{sum(demand.count for demand in running)} containers need a volume each; lower the requests or replicas, "
        "or split the swarms across pools"
    )


def compute_lower_bound(catalog: Catalog, provider: str, location: str, demands: list[Demand]) -> Decimal:
    """Price the requests at the cheapest vCPU and the cheapest GiB of memory among the candidates.

    Any layout's nodes cost at least the larger of the two: their vCPUs hold
    every CPU request, and each vCPU costs at least the cheapest price per
    vCPU; the same holds for memory.
    """
    types = candidates(catalog, provider, location)
    if not types:
        raise SizingError(f"no {provider} node type in {location} is in the price catalog")
    per_vcpu = min(price.monthly / price.vcpus for price in types)
    per_gib = min(price.monthly / price.memory_gb for price in types)
    cpus = Decimal(sum(demand.count * demand.millicores for demand in demands)) / 1000
    gibibytes = Decimal(sum(demand.count * demand.mebibytes for demand in demands)) / 1024
    return max(cpus * per_vcpu, gibibytes * per_gib).quantize(Decimal("0.01"))
