"""Capacity checks at plan time: do the swarms fit on the nodes the stack creates?

The check places every running container of every swarm on the nodes of the
pools it may use: its own pool when it names one, or else any pool without
taints. A node takes containers while their CPU and memory requests fit in
its allocatable capacity (its size minus the system reserve below) and while
it has a volume slot left. Autoscaling pools count at their maximum size,
because the autoscaler adds nodes only up to it.

The cloud limits checked here are those of the price catalog (volumes per
node, load balancer targets and services) and of `stacks.hetzner_facts`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Optional

from components.hetzner_k3s import firewall_rules
from components.ssh_entry import jump_host_config_data
from stacks import hetzner_facts
from stacks.catalog import Catalog, Price
from stacks.config import StackConfig, Swarm
from stacks.config_checks import parse_quantity_exact

# Memory that the kubelet keeps free before it evicts pods, the Kubernetes
# default of `evictionHard: memory.available<100Mi`.
EVICTION_THRESHOLD_MIB = 100

# The system reserve per node follows the tiers that Google publishes for GKE
# nodes (cloud.google.com/kubernetes-engine/docs/concepts/plan-node-sizes,
# "Memory and CPU reservations"). Memory: 25% of the first 4 GiB, 20% of the
# next 4 GiB, 10% of the next 8 GiB, 6% of the next 112 GiB and 2% above
# 128 GiB, as the README of hatemosphere/gke-node-allocatable-memory-calculator
# quotes that page (read 2026-12-04). CPU: 6% of the first core, 1% of the
# second, 0.5% of the third and fourth and 0.25% of every further core.
# NOTE: the CPU tiers are quoted from memory of the same page, not re-read.
_CPU_TIERS = ((1, Decimal("0.06")), (1, Decimal("0.01")), (2, Decimal("0.005")), (None, Decimal("0.0025")))
_MEMORY_TIERS_GIB = (
    (4, Decimal("0.25")),
    (4, Decimal("0.20")),
    (8, Decimal("0.10")),
    (112, Decimal("0.06")),
    (None, Decimal("0.02")),
)

# A K3s server that also runs swarm containers keeps the API server, etcd and
# the controllers beside them. This allowance for them is an estimate, not a
# published figure.
K3S_SERVER_EXTRA_MILLICORES = 500
K3S_SERVER_EXTRA_MIB = 1024

# The maximum size of the data in one ConfigMap that the Kubernetes API server accepts.
MAX_CONFIG_MAP_BYTES = 1024 * 1024

# The SSH entry's jump host: two replicas with these requests (components/ssh_entry.py).
JUMP_HOST_REPLICAS = 2
JUMP_HOST_MILLICORES = 50
JUMP_HOST_MIB = 64


@dataclass(frozen=True)
class Reserve:
    """CPU and memory of a node that pods cannot request."""

    millicores: int
    mebibytes: int


def system_reserve(vcpus: int, memory_gib: Decimal) -> Reserve:
    """Return the reserve of a node of this size: the tiers above plus the eviction threshold."""
    return Reserve(
        millicores=math.ceil(_tiered(Decimal(vcpus), _CPU_TIERS) * 1000),
        mebibytes=math.ceil(_tiered(Decimal(memory_gib), _MEMORY_TIERS_GIB) * 1024) + EVICTION_THRESHOLD_MIB,
    )


def _tiered(amount: Decimal, tiers: tuple) -> Decimal:
    reserved = Decimal(0)
    left = amount
    for size, share in tiers:
        part = left if size is None else min(left, Decimal(size))
        reserved += part * share
        left -= part
        if left <= 0:
            break
    return reserved


@dataclass(frozen=True)
class NodeGroup:
    """Nodes of one size that carry swarm containers: a worker pool, or the K3s servers without agents."""

    name: str
    key: str
    sku: str
    nodes: int
    millicores: int
    mebibytes: int
    volumes: int
    tainted: bool
    # The config key that sets the node count (`count` or `autoscale.max`), empty for the K3s servers.
    count_key: str
    # The maximum number of nodes the group may have within the platform's limits, or None for no limit.
    max_nodes: Optional[int] = None
    # False when the catalog has no vCPU and memory figures for the type: only volumes are counted then.
    hardware_known: bool = True

    def describe(self) -> str:
        """Describe one node's allocatable capacity, as error messages show it."""
        if not self.hardware_known:
            return f"{self.sku} with unknown CPU and memory and {self.volumes} volumes per node"
        return (
            f"{self.sku} with {self.millicores / 1000:g} CPU, {self.mebibytes / 1024:.2f} GiB and "
            f"{self.volumes} volumes allocatable per node after the system reserve"
        )


@dataclass(frozen=True)
class Demand:
    """Containers of one kind that must be placed."""

    label: str
    key: Optional[str]
    count: int
    millicores: int
    mebibytes: int
    volumes: int
    pool: Optional[str]


@dataclass
class CapacityReport:
    """The outcome of the check: problems stop the plan, warnings only inform."""

    problems: list[str]
    warnings: list[str]


def check_capacity(config: StackConfig, catalog: Catalog) -> CapacityReport:
    """Check that the stack's swarms fit on its nodes and that its cloud limits hold."""
    report = CapacityReport(problems=[], warnings=[])
    report.problems += jump_host_config_problems(config)
    groups = node_groups(config, catalog, report)
    if groups is None:
        return report
    if config.platform == "hetzner-k3s":
        report.problems += load_balancer_problems(config, catalog)
        report.problems += firewall_problems(config)
    report.problems += placement_problems(groups, stack_demands(config))
    return report


def swarm_demand(index: int, swarm: Swarm) -> Demand:
    """Return what the running containers of one swarm request, each with one workspace volume."""
    return Demand(
        label=f"swarm {swarm.name}",
        key=f"swarm:swarms[{index}]",
        count=swarm.running_replicas,
        millicores=math.ceil(parse_quantity_exact(swarm.cpu) * 1000),
        mebibytes=math.ceil(parse_quantity_exact(swarm.memory) / 2**20),
        volumes=1,
        pool=swarm.pool,
    )


@dataclass(frozen=True)
class _PoolSpec:
    name: str
    key: str
    sku: str
    nodes: int
    tainted: bool
    count_key: str
    k3s_server: bool = False


def node_groups(config: StackConfig, catalog: Catalog, report: CapacityReport) -> Optional[list[NodeGroup]]:
    """List the node groups that carry swarm containers, or None when the platform's nodes are unknown."""
    if config.platform == "hetzner-k3s" and config.hetzner is not None:
        provider = "hetzner"
        specs = [
            _PoolSpec(pool.name, f"swarm:hetzner.workers[{index}]", pool.server_type, _pool_size(pool),
                      bool(pool.taints), _count_key(f"swarm:hetzner.workers[{index}]", pool))
            for index, pool in enumerate(config.hetzner.workers)
        ]
        if not any(spec.nodes for spec in specs):
            # Without agents the K3s servers carry the swarms, untainted.
            plane = config.hetzner.control_plane
            specs = [_PoolSpec("control plane", "swarm:hetzner.controlPlane", plane.server_type, plane.count,
                               False, "", k3s_server=True)]
    elif config.platform == "doks" and config.doks is not None:
        provider = "digitalocean"
        specs = [
            _PoolSpec(pool.name, f"swarm:doks.nodePools[{index}]", pool.size, _pool_size(pool),
                      bool(pool.taints), _count_key(f"swarm:doks.nodePools[{index}]", pool))
            for index, pool in enumerate(config.doks.node_pools)
        ]
    else:
        return None

    servers = config.hetzner.control_plane.count + sum(_pool_size(pool) for pool in config.hetzner.workers) if provider == "hetzner" else 0
    groups = []
    for spec in specs:
        # A Hetzner pool may grow until the cluster fills its private network.
        max_nodes = hetzner_facts.MAX_SERVERS_PER_NETWORK - servers + spec.nodes if provider == "hetzner" else None
        if spec.k3s_server:
            max_nodes = spec.nodes
        hardware = catalog.hardware(provider, spec.sku)
        if hardware is None:
            report.warnings.append(
                f"CPU and memory of {spec.key} not checked: the price catalog has no vCPU and memory figures for "
                f"{spec.sku}; run `python -m stacks prices refresh` or add them"
            )
            volumes = catalog.volume_limits[provider].max_per_node
            groups.append(
                NodeGroup(spec.name, spec.key, spec.sku, spec.nodes, _UNKNOWN_CAPACITY, _UNKNOWN_CAPACITY, volumes,
                          spec.tainted, spec.count_key, max_nodes, hardware_known=False)
            )
            continue
        group = node_group(
            catalog, hardware, spec.nodes, name=spec.name, key=spec.key, count_key=spec.count_key,
            k3s_server=spec.k3s_server,
        )
        groups.append(NodeGroup(**{**group.__dict__, "tainted": spec.tainted, "max_nodes": max_nodes}))
    return groups


# The CPU and memory that a node of unknown hardware is taken to have, so
# that only its volumes limit what it holds.
_UNKNOWN_CAPACITY = 10**12


def node_group(
    catalog: Catalog, hardware: Price, nodes: int, *, name: str, key: str, count_key: str, k3s_server: bool = False
) -> NodeGroup:
    """Describe `nodes` nodes of one server type or Droplet size with their allocatable capacity."""
    reserve = system_reserve(hardware.vcpus, hardware.memory_gb)
    millicores = hardware.vcpus * 1000 - reserve.millicores
    mebibytes = int(hardware.memory_gb * 1024) - reserve.mebibytes
    if k3s_server:
        millicores -= K3S_SERVER_EXTRA_MILLICORES
        mebibytes -= K3S_SERVER_EXTRA_MIB
    volumes = catalog.volume_limits[hardware.provider].max_per_node
    return NodeGroup(name, key, hardware.sku, nodes, millicores, mebibytes, volumes, False, count_key)


def stack_demands(config: StackConfig, bound_to_pools: bool = True) -> list[Demand]:
    """List what the stack's running containers request: every swarm, and on Hetzner the jump host.

    The jump host has no node affinity. On DOKS the system pool, which swarm
    containers never use, has room for its two small pods, so it is not
    counted there.
    """
    demands = [swarm_demand(index, swarm) for index, swarm in enumerate(config.swarms)]
    if not bound_to_pools:
        demands = [Demand(**{**demand.__dict__, "pool": None}) for demand in demands]
    if config.platform == "hetzner-k3s":
        demands.append(
            Demand("the SSH entry's jump host", None, JUMP_HOST_REPLICAS, JUMP_HOST_MILLICORES, JUMP_HOST_MIB, 0, None)
        )
    return demands


def _pool_size(pool) -> int:
    autoscale = getattr(pool, "autoscale", None)
    if autoscale is not None:
        return autoscale.max
    return pool.count or 0


def _count_key(key: str, pool) -> str:
    return f"{key}.autoscale.max" if getattr(pool, "autoscale", None) is not None else f"{key}.count"


def containers_per_node(group: NodeGroup, demand: Demand) -> int:
    """Return how many containers of one demand an empty node of the group takes."""
    fits = [group.millicores // demand.millicores, group.mebibytes // demand.mebibytes]
    if demand.volumes:
        fits.append(group.volumes // demand.volumes)
    return max(0, min(fits))


Overflow = dict[str, list[tuple[Demand, list[NodeGroup], int]]]


def placement_problems(groups: list[NodeGroup], demands: list[Demand]) -> list[str]:
    """Place every demand, largest first, and describe what does not fit, one line per node group."""
    problems, overflow = place_demands(groups, demands)
    by_name = {group.name: group for group in groups}
    for name, unplaced in overflow.items():
        group = by_name[name]
        needed = group.nodes + _extra_nodes(group, unplaced)
        if len(overflow) == 1 and group.count_key:
            needed = _verified_count(groups, demands, group, needed)
        problems.append(_does_not_fit(group, unplaced, needed))
    return problems


def place_demands(groups: list[NodeGroup], demands: list[Demand]) -> tuple[list[str], Overflow]:
    """Place the demands; return the problems no node count solves and the containers left over, by target group."""
    free = {group.name: [_empty(group) for _ in range(group.nodes)] for group in groups}
    by_name = {group.name: group for group in groups}
    problems = []
    # Containers that find no room, by the node group that more nodes would go to.
    overflow: Overflow = {}
    # Demands bound to a pool go first, so that containers free to go
    # anywhere do not take the room that only a bound swarm can use.
    ordered = sorted(demands, key=lambda demand: (demand.pool is None, -demand.millicores, -demand.mebibytes))
    for demand in ordered:
        if demand.count == 0:
            continue
        if demand.pool and demand.pool not in by_name:
            # Only a Hetzner stack without agents lacks a group per pool.
            problems.append(
                f"{demand.label} runs on pool {demand.pool}, but no worker pool has servers, so the K3s servers "
                f"carry the swarms; give pool {demand.pool} servers, or remove {demand.key}.pool"
            )
            continue
        eligible = [by_name[demand.pool]] if demand.pool else [group for group in groups if not group.tainted]
        if not eligible:
            problems.append(
                f"{demand.label} names no pool, but every worker pool has taints, so its containers have no node to "
                f"run on; remove the taints of one pool, or set {demand.key}.pool"
                if demand.key
                else f"{demand.label} needs a worker pool without taints; remove "
                + " or ".join(f"{group.key}.taints" for group in groups)
                + ", or add a pool without taints"
            )
            continue
        left = demand.count
        for group in eligible:
            left = _place(free[group.name], demand, left)
        if not left:
            continue
        # More nodes go to the first group whose nodes can hold one container.
        target = next((group for group in eligible if containers_per_node(group, demand) > 0), None)
        if target is None:
            problems.append(_too_large(demand, eligible))
            continue
        overflow.setdefault(target.name, []).append((demand, eligible, left))
    return problems, overflow


def _verified_count(groups: list[NodeGroup], demands: list[Demand], target: NodeGroup, estimate: int) -> int:
    """Return the fewest nodes of `target`, from `estimate` up, with which the whole placement succeeds.

    The estimate packs the leftover containers onto new nodes on their own.
    Placing everything again can need a few more nodes, and the count that
    the error suggests must make the stack fit.
    """

    def fits(nodes: int) -> bool:
        resized = [replace(group, nodes=nodes) if group.name == target.name else group for group in groups]
        _, overflow = place_demands(resized, demands)
        return not overflow

    limit = target.max_nodes if target.max_nodes is not None else estimate * 2 + 10
    if estimate > limit or fits(estimate):
        return estimate
    low, high = estimate + 1, estimate + 1
    while high < limit and not fits(high):
        low, high = high + 1, min(limit, estimate + 2 * (high - estimate))
    if not fits(high):
        return limit + 1
    while low < high:
        middle = (low + high) // 2
        if fits(middle):
            high = middle
        else:
            low = middle + 1
    return low


def _empty(group: NodeGroup) -> list[int]:
    return [group.millicores, group.mebibytes, group.volumes]


def _place(nodes: list[list[int]], demand: Demand, count: int) -> int:
    """Fill the nodes in order with up to `count` containers; return how many found no room."""
    for node in nodes:
        if count == 0:
            break
        take = min(count, _fits(node, demand))
        node[0] -= take * demand.millicores
        node[1] -= take * demand.mebibytes
        node[2] -= take * demand.volumes
        count -= take
    return count


def _fits(node: list[int], demand: Demand) -> int:
    fits = [node[0] // demand.millicores, node[1] // demand.mebibytes]
    if demand.volumes:
        fits.append(node[2] // demand.volumes)
    return max(0, min(fits))


def _request(demand: Demand) -> str:
    request = f"{demand.millicores / 1000:g} CPU and {demand.mebibytes / 1024:g} GiB"
    return request + (" and one volume" if demand.volumes else "")


def _too_large(demand: Demand, eligible: list[NodeGroup]) -> str:
    if len(eligible) == 1:
        where = f"pool {eligible[0].name} ({eligible[0].key}: {eligible[0].describe()})"
        fix = f"choose a larger node type for {eligible[0].key}"
    else:
        where = "any pool without taints (" + "; ".join(f"{group.key}: {group.describe()}" for group in eligible) + ")"
        fix = "choose a larger node type for one of them"
    return (
        f"{demand.label} does not fit: each of its containers requests {_request(demand)}, more than one node of "
        f"{where} can hold; {fix}, or lower the requests of {demand.key or demand.label}"
    )


# The new nodes that a later demand may still fill: the last ones added,
# where the partly filled node of each earlier demand sits.
_REFILLED_NODES = 8


def _extra_nodes(group: NodeGroup, unplaced: list[tuple[Demand, list[NodeGroup], int]]) -> int:
    """Return how many empty nodes of `group` take the containers left over, filled in the same order."""
    extra: list[list[int]] = []
    for demand, _, left in unplaced:
        # Earlier demands may have left room in the last nodes added.
        left = _place(extra[-_REFILLED_NODES:], demand, left)
        if not left:
            continue
        per_node = containers_per_node(group, demand)
        full, rest = divmod(left, per_node)
        node = _empty(group)
        node[0] -= per_node * demand.millicores
        node[1] -= per_node * demand.mebibytes
        node[2] -= per_node * demand.volumes
        extra.extend([list(node) for _ in range(full)])
        if rest:
            partial = _empty(group)
            _place([partial], demand, rest)
            extra.append(partial)
    return len(extra)


def _does_not_fit(group: NodeGroup, unplaced: list[tuple[Demand, list[NodeGroup], int]], needed: int) -> str:
    """Describe the containers that find no room, and the `needed` nodes of `group` that would hold them all."""
    eligible = unplaced[0][1]
    where = (
        f"pool {group.name} ({group.key}: {group.nodes} x {group.describe()})"
        if len(eligible) == 1
        else "the pools without taints (" + "; ".join(f"{g.key}: {g.nodes} x {g.describe()}" for g in eligible) + ")"
    )
    alternatives = []
    if not group.count_key:
        alternatives.append("add a worker pool under swarm:hetzner.workers (the control plane has 1 or 3 servers)")
    elif group.max_nodes is not None and needed > group.max_nodes:
        alternatives.append(
            f"{group.key} would need {needed} nodes, but at most {group.max_nodes} fit the Hetzner private network "
            "with the other servers; add a second stack"
        )
    else:
        alternatives.append(f"fix with: pulumi config set --path '{group.count_key}' {needed}")
    keys = [demand.key for demand, _, _ in unplaced if demand.key]
    if len(keys) > _LISTED_DEMANDS:
        alternatives.append("lower the replicas of these swarms")
    elif keys:
        alternatives.append(f"lower {' or '.join(f'{key}.replicas' for key in keys)}")
    # A larger node helps only where CPU or memory, not the volume limit, binds.
    if group.nodes and any(_cpu_or_memory_binds(group, demand) for demand, _, _ in unplaced):
        alternatives.append("choose a larger node type")
    fixes = ", or ".join(alternatives)

    if len(unplaced) == 1:
        demand, _, left = unplaced[0]
        return (
            f"{demand.label} does not fit: {demand.count} containers of {_request(demand)} each, but {left} of "
            f"them find no room on {where}; {fixes}"
        )
    labels = [f"{demand.label} ({left} of {demand.count})" for demand, _, left in unplaced]
    if len(labels) > _LISTED_DEMANDS:
        labels[_LISTED_DEMANDS:] = [f"{len(labels) - _LISTED_DEMANDS} more swarms"]
    return f"containers find no room on {where}: {', '.join(labels)}; {fixes}"


# The swarms that one capacity error names before it counts the rest.
_LISTED_DEMANDS = 5


def _cpu_or_memory_binds(group: NodeGroup, demand: Demand) -> bool:
    if not demand.volumes:
        return True
    return containers_per_node(group, demand) < group.volumes // demand.volumes


def jump_host_config_problems(config: StackConfig) -> list[str]:
    """Check that the jump host's ConfigMap, one permitopen per key and container, stays within 1 MiB."""
    size = sum(len(text.encode()) for text in jump_host_config_data(config.swarms).values())
    if size <= MAX_CONFIG_MAP_BYTES:
        return []
    return [
        f"the SSH entry's ConfigMap would hold {size} bytes (each key lists every container it may reach), but "
        f"Kubernetes takes at most {MAX_CONFIG_MAP_BYTES} bytes in one ConfigMap; lower the replicas of the largest "
        "swarms, or give fewer swarms the same keys"
    ]


def firewall_problems(config: StackConfig) -> list[str]:
    """Check the effective rules of the nodes' Hetzner firewall: one per source range of each rule."""
    rules = firewall_rules(config.admin_cidrs or [])
    effective = sum(len(rule.source_ips or []) for rule in rules)
    if effective <= hetzner_facts.MAX_EFFECTIVE_FIREWALL_RULES:
        return []
    return [
        f"swarm:adminCidrs has {len(config.admin_cidrs or [])} ranges, which make {effective} effective rules in the "
        f"nodes' Hetzner firewall (each range counts once per rule), but a firewall takes at most "
        f"{hetzner_facts.MAX_EFFECTIVE_FIREWALL_RULES}; merge ranges into larger CIDRs"
    ]


def load_balancer_problems(config: StackConfig, catalog: Catalog) -> list[str]:
    """Check the Hetzner load balancer's targets (every server of the cluster) and services (SSH only)."""
    assert config.hetzner is not None
    table = catalog.load_balancer_limits.get("hetzner")
    kind = config.hetzner.load_balancer_type
    if table is None or kind not in table.types:
        return [
            f"swarm:hetzner.loadBalancerType = {kind} has no limits in the price catalog; "
            "run `python -m stacks prices refresh` or add them with their source"
        ]
    limits = table.types[kind]
    servers = config.hetzner.control_plane.count + sum(_pool_size(pool) for pool in config.hetzner.workers)
    services = 1
    problems = []
    if servers > limits.targets:
        larger = [name for name, other in sorted(table.types.items(), key=lambda item: item[1].targets) if other.targets >= servers]
        fix = f"pulumi config set --path 'swarm:hetzner.loadBalancerType' {larger[0]}" if larger else "use fewer, larger servers"
        problems.append(
            f"swarm:hetzner.loadBalancerType = {kind} takes at most {limits.targets} targets, but the load balancer "
            f"targets every server of the cluster, up to {servers}; fix with: {fix}"
        )
    if services > limits.services:
        problems.append(
            f"swarm:hetzner.loadBalancerType = {kind} takes at most {limits.services} services, but the stack needs {services}"
        )
    return problems
