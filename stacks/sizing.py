"""Cost-optimal node sizing: the node type and count that fit the swarms for the least monthly price.

The solver tries every node type that the price catalog prices in the
location. For each it finds the fewest nodes on which the capacity check
places every container, counting CPU, memory, one volume per container, the
system reserve and the per-node volume limit. It keeps the cheapest layout.
On a tie in price it prefers fewer nodes, then the type name, so the choice
is the same on every run.

The lower bound prices the requests alone at the catalog's cheapest vCPU and
cheapest GiB of memory, and every layout pays at least the larger of the two.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Optional

from pydantic import ValidationError

from stacks import hetzner_facts
from stacks.capacity import CapacityReport, node_group, node_groups, stack_demands
from stacks.catalog import Catalog, Price, UnknownPriceError
from stacks.config import StackConfig
from stacks.config_pools import SIZING_RESOLVED
from stacks.placement import Demand, NodeGroup, containers_per_node, place_demands, placement_problems

# Families of x86 node types considered. Hetzner's Arm types (cax) are left
# out, because a swarm image may exist for amd64 only.
CANDIDATE_PREFIXES = {"hetzner": ("cx", "cpx", "ccx"), "digitalocean": ("s-", "g-", "c-", "m-")}

# The maximum number of nodes the solver tries per type. Hetzner puts at most 100 servers
# in one private network. For DOKS the number is a search bound, not a platform limit.
MAX_NODES = {"hetzner": 100, "digitalocean": 1000}


class SizingError(ValueError):
    """Raised when no node type in the catalog has room for the swarms."""


@dataclass(frozen=True)
class Layout:
    """A node type, how many of it, and their monthly price."""

    price: Price
    nodes: int
    # What each node costs beside its type's price, such as a Hetzner agent's primary IPv4.
    extra_per_node: Decimal = Decimal(0)

    @property
    def sku(self) -> str:
        return self.price.sku

    @property
    def monthly(self) -> Decimal:
        return (self.price.monthly + self.extra_per_node) * self.nodes

    def describe(self) -> str:
        """Describe the layout as the plan and the cost report show it, such as "3 x cx43 (47.97 EUR)"."""
        return f"{self.nodes} x {self.sku} ({self.monthly} {self.price.currency})"


def candidates(catalog: Catalog, provider: str, location: str, only: Optional[str] = None) -> list[Price]:
    """List the node types the solver may choose: priced in the location, with hardware figures, not deprecated.

    With `only`, the list contains that type alone, of any family, when the catalog prices it in the location.
    """
    kind = "server" if provider == "hetzner" else "droplet"
    if only is not None:
        return [
            price for price in catalog.of_kind(provider, kind, location) if price.sku == only and price.vcpus and price.memory_gb
        ]
    return [
        price
        for price in catalog.of_kind(provider, kind, location)
        if price.sku.startswith(CANDIDATE_PREFIXES[provider]) and price.vcpus and price.memory_gb and not price.deprecated
    ]


def extra_per_node(catalog: Catalog, provider: str, location: str) -> Decimal:
    """Return what each worker node costs beside its type: a Hetzner agent's primary IPv4, nothing on DigitalOcean."""
    if provider != "hetzner":
        return Decimal(0)
    try:
        return catalog.price("hetzner", "primary-ipv4", location).monthly
    except UnknownPriceError:
        return Decimal(0)


def fewest_nodes(
    catalog: Catalog, price: Price, demands: list[Demand], max_nodes: int, min_nodes: int = 1
) -> Optional[int]:
    """Return the fewest nodes of one type, at least `min_nodes`, that hold every demand, or None when the type cannot."""
    if not any(demand.count for demand in demands):
        return min_nodes
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


def cheapest_layout(
    catalog: Catalog,
    provider: str,
    location: str,
    demands: list[Demand],
    max_nodes: Optional[int] = None,
    only: Optional[str] = None,
    min_nodes: int = 1,
) -> Layout:
    """Choose the node type and count that hold the demands for the least monthly price, fewer nodes on a tie."""
    limit = max_nodes if max_nodes is not None else MAX_NODES[provider]
    extra = extra_per_node(catalog, provider, location)
    types = candidates(catalog, provider, location, only)
    if not types:
        raise SizingError(_no_type(catalog, provider, location, only))
    best: Optional[Layout] = None
    for price in types:
        nodes = fewest_nodes(catalog, price, demands, limit, min_nodes)
        if nodes is None:
            continue
        layout = Layout(price, nodes, extra)
        if best is None or (layout.monthly, layout.nodes, layout.sku) < (best.monthly, best.nodes, best.sku):
            best = layout
    if best is None:
        raise SizingError(_no_layout(catalog, types, demands, limit))
    return best


def _no_type(catalog: Catalog, provider: str, location: str, only: Optional[str]) -> str:
    if only is None:
        return f"the price catalog has no {provider} node type with a price in {location}; run `python -m stacks prices refresh`"
    return (
        f"the price catalog has no price and hardware figures for {only} in {location}; choose another type, "
        "or remove it to let the solver choose"
    )


def _no_layout(catalog: Catalog, types: list[Price], demands: list[Demand], limit: int) -> str:
    running = [demand for demand in demands if demand.count]
    largest_type = max(types, key=lambda price: (price.vcpus, price.memory_gb))
    group = node_group(catalog, largest_type, 1, name="largest", key="largest", count_key="")
    for demand in running:
        if containers_per_node(group, demand) == 0:
            return (
                f"no node type holds one container of {demand.label}, which requests {demand.millicores / 1000:g} "
                f"CPU and {demand.mebibytes / 1024:g} GiB; the largest, {largest_type.sku}, has "
                f"{group.millicores / 1000:g} CPU and {group.mebibytes / 1024:.2f} GiB allocatable; lower the requests"
            )
    volumes = sum(demand.count * demand.volumes for demand in running)
    return (
        f"no node type holds the swarms in at most {limit} nodes ({volumes} containers with a volume each); "
        "lower the replicas, or move swarms to another pool"
    )


def compute_lower_bound(catalog: Catalog, provider: str, location: str, demands: list[Demand]) -> Decimal:
    """Price the requests at the cheapest vCPU and the cheapest GiB of memory among the candidates.

    Any layout's nodes cost at least the larger of the two: their vCPUs hold
    every CPU request, and each vCPU costs at least the cheapest price per
    vCPU. The same holds for memory. A node's price here includes what each
    node costs beside its type, such as a Hetzner agent's IPv4.
    """
    types = candidates(catalog, provider, location)
    if not types:
        raise SizingError(_no_type(catalog, provider, location, None))
    extra = extra_per_node(catalog, provider, location)
    per_vcpu = min((price.monthly + extra) / price.vcpus for price in types)
    per_gib = min((price.monthly + extra) / price.memory_gb for price in types)
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
            "monthly": f"{self.layout.monthly:.2f} {self.layout.price.currency}",
            "lowerBound": f"{self.lower_bound:.2f} {self.layout.price.currency}",
        }


@dataclass(frozen=True)
class _AutoPool:
    key: str
    pool: Any
    provider: str
    location: str
    # The node type the pool fixes, so that the solver sizes only the count.
    pinned_type: Optional[str]


def _auto_pools(config: StackConfig) -> list[_AutoPool]:
    if config.platform == "hetzner-k3s" and config.hetzner is not None:
        return [
            _AutoPool(f"swarm:hetzner.workers[{index}]", pool, "hetzner", pool.location or config.hetzner.location, pool.server_type)
            for index, pool in enumerate(config.hetzner.workers)
            if pool.sizing == "auto"
        ]
    if config.platform == "doks" and config.doks is not None:
        return [
            _AutoPool(f"swarm:doks.nodePools[{index}]", pool, "digitalocean", config.doks.region, pool.size)
            for index, pool in enumerate(config.doks.node_pools)
            if pool.sizing == "auto"
        ]
    return []


def pool_demands(config: StackConfig, catalog: Catalog, auto_pool: Any) -> list[Demand]:
    """List what an auto-sized pool must hold.

    That is the swarms that name it and, when it has no taints and is the
    first such auto-sized pool, the containers of swarms that name no pool
    which the fixed pools without taints leave without room.
    """
    demands = stack_demands(config)
    bound = [replace(demand, pool=None) for demand in demands if demand.pool == auto_pool.name]
    untainted_auto = [pool for pool in _auto_pools(config) if not pool.pool.taints]
    if auto_pool.taints or not untainted_auto or untainted_auto[0].pool.name != auto_pool.name:
        return bound
    unbound = [demand for demand in demands if demand.pool is None]
    fixed = [group for group in _fixed_groups(config, catalog) if not group.tainted]
    _, overflow = place_demands(fixed, unbound)
    if not fixed:
        return bound + unbound
    left = {demand.label: count for unplaced in overflow.values() for demand, _, count in unplaced}
    # Containers that no fixed pool can hold at all do not show as overflow; they count whole.
    too_large = [demand for demand in unbound if not any(containers_per_node(group, demand) for group in fixed)]
    spilled = [replace(demand, count=left[demand.label]) for demand in unbound if demand.label in left]
    return bound + spilled + [demand for demand in too_large if demand.label not in left]


def _fixed_groups(config: StackConfig, catalog: Catalog) -> list[NodeGroup]:
    """List the node groups of the pools that are not auto-sized, without the K3s servers."""
    if config.platform == "hetzner-k3s" and config.hetzner is not None:
        workers = [pool for pool in config.hetzner.workers if pool.sizing != "auto"]
        fixed = config.model_copy(update={"hetzner": config.hetzner.model_copy(update={"workers": workers})})
    elif config.platform == "doks" and config.doks is not None:
        pools = [pool for pool in config.doks.node_pools if pool.sizing != "auto"]
        fixed = config.model_copy(update={"doks": config.doks.model_copy(update={"node_pools": pools})})
    else:
        return []
    groups = node_groups(fixed, catalog, CapacityReport(problems=[], warnings=[])) or []
    return [group for group in groups if group.count_key]


def size_auto_pools(config: StackConfig, catalog: Catalog) -> list[AutoSizedPool]:
    """Choose the layout of every `sizing: auto` pool, raising SizingError with the pool's key when none fits."""
    sized = []
    for auto in _auto_pools(config):
        demands = pool_demands(config, catalog, auto.pool)
        try:
            # A Hetzner pool may have no servers; a DOKS node pool has at least one node.
            layout = cheapest_layout(
                catalog, auto.provider, auto.location, demands, _max_nodes(config, auto), only=auto.pinned_type,
                min_nodes=0 if auto.provider == "hetzner" else 1,
            )
            bound = compute_lower_bound(catalog, auto.provider, auto.location, demands)
        except SizingError as error:
            raise SizingError(f"{auto.key} has sizing: auto, but {error}") from None
        sized.append(AutoSizedPool(auto.key, auto.pool.name, layout, bound))
    return sized


def _max_nodes(config: StackConfig, auto: _AutoPool) -> Optional[int]:
    """Return the nodes an auto-sized pool may have: on Hetzner, what the network leaves beside the other servers."""
    if auto.provider != "hetzner" or config.hetzner is None:
        return None
    others = config.hetzner.control_plane.count + sum(
        pool.max_servers for pool in config.hetzner.workers if pool.name != auto.pool.name and pool.sizing != "auto"
    )
    return hetzner_facts.MAX_SERVERS_PER_NETWORK - others


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
    try:
        resolved = StackConfig.model_validate(document, by_alias=True, by_name=False, context={SIZING_RESOLVED: True})
    except ValidationError as error:
        layouts = ", ".join(f"{choice.key}: {choice.layout.nodes} x {choice.layout.sku}" for choice in sized)
        reasons = "; ".join(problem["msg"].removeprefix("Value error, ") for problem in error.errors(include_url=False))
        raise SizingError(f"the auto-sized layout ({layouts}) breaks a rule of the stack: {reasons}") from None
    return resolved, sized
