"""Capacity checks at plan time: do the swarms fit on the nodes the stack creates?

The check places every running container of every swarm on the nodes of the
pools it may use: its own pool when it names one, or else any pool without
taints. A node takes containers while their CPU and memory requests fit in
its allocatable capacity (its size minus the system reserve below) and while
it has a volume slot left. Autoscaling pools count at their maximum size,
because the autoscaler adds nodes only up to it.

The cloud limits checked here are those of the price catalog (volumes per
node, load balancer targets and services) and of `stacks.hetzner_facts`.
`stacks.placement` places the containers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Optional

from components.hetzner_k3s import firewall_rules
from components.ssh_entry import jump_host_config_data
from stacks import hetzner_facts
from stacks.catalog import Catalog, Price
from stacks.config import StackConfig, Swarm
from stacks.config_doks import DoksNodePool
from stacks.config_hetzner import WorkerPool
from stacks.config_checks import parse_quantity_exact
from stacks.placement import Demand, NodeGroup, placement_problems

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

    servers = config.hetzner.max_servers if provider == "hetzner" and config.hetzner is not None else 0
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


def _pool_size(pool: WorkerPool | DoksNodePool) -> int:
    """Return the most nodes a pool can have: its `autoscale.max`, or its `count`."""
    return pool.autoscale.max if pool.autoscale is not None else pool.count or 0


def _count_key(key: str, pool: WorkerPool | DoksNodePool) -> str:
    return f"{key}.autoscale.max" if pool.autoscale is not None else f"{key}.count"


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
    servers = config.hetzner.max_servers
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
