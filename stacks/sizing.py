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
from typing import Any, Optional

from stacks.capacity import Demand, NodeGroup, containers_per_node, node_group, placement_problems, stack_demands
from stacks.catalog import Catalog, Price
from stacks.config import StackConfig
from stacks.config_pools import SIZING_RESOLVED

# Families of x86 node types considered. Hetzner's Arm types (cax) are left
# out, because a swarm image may exist for amd64 only.
CANDIDATE_PREFIXES = {"hetzner": ("cx", "cpx", "ccx"), "digitalocean": ("s-", "g-", "c-", "m-")}

# The maximum number of nodes the solver tries per type: Hetzner puts at most 100 servers
# in one private network; for DOKS it is a search bound, not a platform limit.
MAX_NODES = {"hetzner": 100, "digitalocean": 1000}


class SizingError(ValueError):
    """Raised when no node type in the catalog has room for the swarms."""


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


@dataclass(frozen=True)
class AutoSizedPool:
    """The solver's choice for one `sizing: auto` pool, and the lower bound of its nodes' price."""

    key: str
    pool: str
    layout: Layout
    lower_bound: Decimal

    def as_output(self) -> dict[str, str]:
        """Describe the choice as the `autoSizing` stack output shows it."""
        return {
            "layout": f"{self.layout.nodes} x {self.layout.sku}",
            "monthly": f"{self.layout.monthly} {self.layout.price.currency}",
            "lowerBound": f"{self.lower_bound} {self.layout.price.currency}",
        }


@dataclass(frozen=True)
class _AutoPool:
    key: str
    pool: Any
    provider: str
    location: str
    type_field: str


def _auto_pools(config: StackConfig) -> list[_AutoPool]:
    if config.platform == "hetzner-k3s" and config.hetzner is not None:
        return [
            _AutoPool(f"swarm:hetzner.workers[{index}]", pool, "hetzner", pool.location or config.hetzner.location, "serverType")
            for index, pool in enumerate(config.hetzner.workers)
            if pool.sizing == "auto"
        ]
    if config.platform == "doks" and config.doks is not None:
        return [
            _AutoPool(f"swarm:doks.nodePools[{index}]", pool, "digitalocean", config.doks.region, "size")
            for index, pool in enumerate(config.doks.node_pools)
            if pool.sizing == "auto"
        ]
    return []


def pool_demands(config: StackConfig, pool: Any) -> list[Demand]:
    """List what an auto-sized pool must hold: the swarms that name it, and with no taints the swarms that name none."""
    demands = []
    for demand in stack_demands(config):
        if demand.pool == pool.name or (demand.pool is None and not pool.taints):
            demands.append(demand)
    return demands


def size_auto_pools(config: StackConfig, catalog: Catalog) -> list[AutoSizedPool]:
    """Choose the layout of every `sizing: auto` pool, raising SizingError with the pool's key when none fits."""
    sized = []
    for auto in _auto_pools(config):
        demands = pool_demands(config, auto.pool)
        chosen = getattr(auto.pool, "server_type" if auto.provider == "hetzner" else "size")
        catalog_view = catalog if chosen is None else _only_type(catalog, auto.provider, chosen)
        try:
            layout = cheapest_layout(catalog_view, auto.provider, auto.location, demands)
            bound = compute_lower_bound(catalog_view, auto.provider, auto.location, demands)
        except SizingError as error:
            raise SizingError(f"{auto.key} has sizing: auto, but {error}") from None
        sized.append(AutoSizedPool(auto.key, auto.pool.name, layout, bound))
    return sized


def _only_type(catalog: Catalog, provider: str, sku: str) -> Catalog:
    """Narrow the catalog to one node type of a provider, for a pool that fixes its type and sizes its count."""
    prices = [price for price in catalog.prices if price.provider != provider or price.kind not in ("server", "droplet") or price.sku == sku]
    return catalog.model_copy(update={"prices": prices})


def resolve_auto_sizing(config: StackConfig, catalog: Catalog) -> tuple[StackConfig, list[AutoSizedPool]]:
    """Return the config with every `sizing: auto` pool given its chosen node type and count."""
    sized = size_auto_pools(config, catalog)
    if not sized:
        return config, []
    document = config.model_dump(by_alias=True, exclude_none=True)
    section, pools_key, type_key = (
        ("hetzner", "workers", "serverType") if config.platform == "hetzner-k3s" else ("doks", "nodePools", "size")
    )
    by_name = {choice.pool: choice for choice in sized}
    for pool in document[section][pools_key]:
        choice = by_name.get(pool["name"])
        if choice is not None:
            pool[type_key] = choice.layout.sku
            pool["count"] = choice.layout.nodes
    resolved = StackConfig.model_validate(document, by_alias=True, by_name=False, context={SIZING_RESOLVED: True})
    return resolved, sized
