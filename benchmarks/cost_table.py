"""Monthly cost of reference workloads: auto-sized, hand-picked, and the lower bound no layout beats.

Each stack is priced whole with `stacks.cost_estimate.estimate`: control
plane, load balancer, IPv4 addresses, volumes and nodes. The lower bound is
`stacks.sizing.compute_lower_bound` for the worker nodes plus every line of
the auto-sized stack that belongs to no worker node. A worker's own IPv4
address on Hetzner belongs to the worker, because a layout of fewer nodes
pays for fewer addresses.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Optional

from stacks.capacity import node_group, stack_demands
from stacks.catalog import Catalog, Price, UnknownPriceError
from stacks.cost import CENT, StackCost
from stacks.cost_estimate import estimate
from stacks.placement import Demand, containers_per_node
from stacks.sizing import candidates, compute_lower_bound, extra_per_node

from benchmarks.stack_files import Platform, SizedStack, Workload, auto_sized, hand_picked, location

# Reference containers: 1 vCPU, 2 GiB of memory and a 20 GiB workspace each.
REFERENCE_SIZES = (3, 12, 48, 200)


def reference_workload(containers: int) -> Workload:
    return Workload(swarms=1, replicas=containers, cpu="1", memory="2Gi", storage="20Gi")


@dataclass(frozen=True)
class PricedLayout:
    """A sized stack and its monthly total in the provider's currency.

    `unpriced` names a load balancer type without a price in the catalog; the
    total then leaves that load balancer out and is a lower figure.
    """

    stack: SizedStack
    monthly: Decimal
    unpriced: Optional[str] = None


@dataclass(frozen=True)
class CostRow:
    """One reference workload on one platform."""

    platform: Platform
    containers: int
    currency: str
    lower_bound: Decimal
    # A tighter lower bound that counts whole containers per node, for explaining the gap.
    per_container_bound: Decimal
    # The types whose vCPU and GiB the lower bound prices, and the cheapest slot of the largest swarm.
    cheapest_per_unit: tuple[Price, Price]
    slot: ContainerSlot
    auto: PricedLayout
    hand: PricedLayout
    usd_per_eur: Decimal

    def over_bound(self, monthly: Decimal) -> Decimal:
        """Return how far `monthly` lies above the lower bound, in percent."""
        return (monthly / self.lower_bound - 1) * 100

    def in_eur(self, amount: Decimal) -> Decimal:
        return amount if self.currency == "EUR" else amount / self.usd_per_eur


def worker_names(stack: SizedStack) -> set[str]:
    """Return the names that `stacks.cost_estimate.implied_resources` gives the worker nodes of a stack."""
    config = stack.config
    if config.hetzner is not None and config.platform == "hetzner-k3s":
        return {f"{pool.name}-{index}" for pool in config.hetzner.workers for index in range(pool.count)}
    assert config.doks is not None
    return {pool.name for pool in config.doks.node_pools}


def price_stack(stack: SizedStack, catalog: Catalog) -> tuple[StackCost, Optional[str]]:
    """Price a stack, or, when its Hetzner load balancer type has no price, the stack without the load balancer."""
    try:
        return estimate("benchmark", stack.config, catalog), None
    except UnknownPriceError:
        hetzner = stack.config.hetzner
        if hetzner is None or hetzner.load_balancer_type == "lb11":
            raise
    # Price the stack with lb11, which the catalog prices, and drop that line.
    priced_as = stack.config.model_copy(update={"hetzner": hetzner.model_copy(update={"load_balancer_type": "lb11"})})
    cost = estimate("benchmark", priced_as, catalog)
    cost.lines = [line for line in cost.lines if line.sku != "lb11"]
    return cost, hetzner.load_balancer_type


def monthly(cost: StackCost) -> Decimal:
    low, high = cost.total(cost.currency)
    if low != high:
        raise ValueError(f"the stack's cost is a range {low} - {high}, but every benchmark stack has fixed node counts")
    return low


@dataclass(frozen=True)
class ContainerSlot:
    """The node type with the lowest price per container of one kind, and how many containers one node takes."""

    price: Price
    per_node: int
    # Containers per node by the type's vCPUs and memory alone, without the system reserve and the volume limit.
    per_node_by_size: int
    volume_limit: int
    # What each node costs beside its type, such as a Hetzner agent's primary IPv4.
    extra_per_node: Decimal = Decimal(0)

    @property
    def per_container(self) -> Decimal:
        return (self.price.monthly + self.extra_per_node) / self.per_node


def cheapest_slot(catalog: Catalog, provider: str, place: str, demand: Demand) -> ContainerSlot:
    """Find the candidate node type with the lowest price per container that one node of it takes.

    A node takes whole containers within its allocatable CPU and memory (after
    the system reserve) and its volume limit, and each container needs its CPU
    and memory on one node.
    """
    slots = []
    for price in candidates(catalog, provider, place):
        group = node_group(catalog, price, 1, name="bound", key="bound", count_key="")
        per_node = containers_per_node(group, demand)
        if per_node:
            assert price.vcpus is not None and price.memory_gb is not None  # candidates have hardware figures
            by_size = min(price.vcpus * 1000 // demand.millicores, int(price.memory_gb * 1024) // demand.mebibytes)
            slots.append(ContainerSlot(price, per_node, by_size, group.volumes, extra_per_node(catalog, provider, place)))
    if not slots:
        raise ValueError(f"no {provider} node type in {place} takes one container of {demand.label}")
    return min(slots, key=lambda slot: (slot.per_container, slot.price.sku))


def per_container_bound(catalog: Catalog, provider: str, place: str, demands: list[Demand]) -> Decimal:
    """Price each kind of container at its cheapest slot, and return the largest of those prices.

    Any layout of the candidate types pays at least `count x price per
    container` of the cheapest slot for each kind of container, before the
    node count is rounded up.
    """
    bound = Decimal(0)
    for demand in demands:
        if demand.count:
            bound = max(bound, demand.count * cheapest_slot(catalog, provider, place, demand).per_container)
    return bound.quantize(CENT)


def cheapest_per_unit(catalog: Catalog, provider: str, place: str) -> tuple[Price, Price]:
    """Return the candidate types with the cheapest vCPU and the cheapest GiB, as `compute_lower_bound` prices them."""
    types = candidates(catalog, provider, place)
    per_vcpu = min(types, key=lambda price: price.monthly / price.vcpus)
    per_gib = min(types, key=lambda price: price.monthly / price.memory_gb)
    return per_vcpu, per_gib


def cost_row(platform: Platform, containers: int, catalog: Catalog) -> CostRow:
    workload = reference_workload(containers)
    auto = auto_sized(platform, workload, catalog)
    hand = hand_picked(platform, workload, catalog)
    auto_cost, auto_unpriced = price_stack(auto, catalog)
    hand_cost, hand_unpriced = price_stack(hand, catalog)

    workers = worker_names(auto)
    # The layout's price covers each worker's server and, on Hetzner, its primary IPv4.
    worker_compute = sum(line.monthly_low for line in auto_cost.lines if line.resource in workers)
    if worker_compute != auto.layout.monthly:
        raise ValueError(
            f"the worker lines of the auto-sized stack cost {worker_compute}, but its layout is {auto.layout.describe()}, "
            "so worker_names no longer matches the names of stacks.cost_estimate.implied_resources. Update worker_names."
        )
    fixed = sum(line.monthly_low for line in auto_cost.lines if line.resource not in workers)

    demands = stack_demands(auto.config)
    place = location(platform, auto.config)
    swarm = max(demands, key=lambda demand: demand.count)
    return CostRow(
        platform=platform,
        containers=containers,
        currency=auto_cost.currency,
        lower_bound=(compute_lower_bound(catalog, platform.provider, place, demands) + fixed).quantize(CENT),
        per_container_bound=(per_container_bound(catalog, platform.provider, place, demands) + fixed).quantize(CENT),
        cheapest_per_unit=cheapest_per_unit(catalog, platform.provider, place),
        slot=cheapest_slot(catalog, platform.provider, place, swarm),
        auto=PricedLayout(auto, monthly(auto_cost), auto_unpriced),
        hand=PricedLayout(hand, monthly(hand_cost), hand_unpriced),
        usd_per_eur=catalog.exchange_rate.usd_per_eur,
    )


def cost_rows(platforms: tuple[Platform, ...], sizes: tuple[int, ...], catalog: Catalog) -> list[CostRow]:
    return [cost_row(platform, containers, catalog) for platform in platforms for containers in sizes]
