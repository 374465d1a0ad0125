"""Placement of containers on node groups: the bin packing behind the capacity check and the sizing solver.

Containers of one kind (a swarm, or the jump host) are a `Demand`; nodes of
one type are a `NodeGroup`. Demands are placed first-fit, largest first, and
those bound to a pool before the rest. What does not fit becomes one line per
node group that names the node count which makes the whole placement fit.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional

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
