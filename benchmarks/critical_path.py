"""The provisioning critical path: the longest chain of dependent resources before the first container is reachable.

The graph is the one a real Pulumi engine orders its steps by. A resource
waits for:
- the resources whose outputs it consumes and those in its `depends_on`
  (`PlannedResource.dependencies`, where the SDK has already replaced a
  component by the custom resources inside it);
- its explicit provider resource, such as the Kubernetes provider built from
  the cluster's kubeconfig, which the plan records apart from the
  dependencies;
- a custom resource that is its parent, because the SDK waits for the
  parent's URN, which the engine returns once the parent exists.
A component parent does not delay its children, so components are no steps.

Every step counts as one, whether it takes a second (a Kubernetes object) or
minutes (a server that boots K3s), so the length counts steps, not time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

import yaml
from pulumi.runtime import mocks

from stacks.catalog import Catalog
from stacks.config_loader import resource_prefix
from stacks.plan import ROOT, Plan, PlannedResource, PreviewMocks, RecordingMonitor, run_plan

from benchmarks.stack_files import Platform, Workload, auto_sized, write_stack_file

PROJECT = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["name"]

STATEFULSET = "kubernetes:apps/v1:StatefulSet"
SWARM_WORKLOADS = "swarm:workloads:SwarmWorkloads"
SSH_ENTRY = "swarm:workloads:SshEntry"
SSH_ENTRY_STEPS = ("kubernetes:apps/v1:Deployment", "kubernetes:core/v1:Service")
LOAD_BALANCERS = ("hcloud:index/loadBalancer:LoadBalancer", "digitalocean:index/loadBalancer:LoadBalancer")


class GraphMonitor(RecordingMonitor):
    """A recording monitor that also stores which registrations are custom resources, not components."""

    def __init__(self, mock_engine: mocks.Mocks) -> None:
        super().__init__(mock_engine)
        self.custom: dict[str, bool] = {}

    def RegisterResource(self, request):  # noqa: N802 - gRPC method name
        response = super().RegisterResource(request)
        self.custom[response.urn] = request.custom
        return response


def plan_with_graph(stack_file: str) -> tuple[Plan, dict[str, bool]]:
    """Run the offline plan and return it with the custom flag of every resource URN."""
    engine = PreviewMocks()
    monitor = GraphMonitor(engine)
    plan = run_plan(stack_file, engine=engine, monitor=monitor)
    return plan, monitor.custom


def provider_urn(reference: str) -> str:
    """Return the URN part of a provider reference, `<provider urn>::<provider id>`."""
    return reference.rsplit("::", 1)[0]


def waits_for(resources: list[PlannedResource], custom: dict[str, bool]) -> dict[str, list[str]]:
    """Map each custom resource's URN to the URNs of the custom resources it waits for, in program order."""
    steps = {resource.urn for resource in resources if custom.get(resource.urn)}
    graph: dict[str, list[str]] = {}
    for resource in resources:
        if resource.urn not in steps:
            continue
        unknown = [urn for urn in resource.dependencies if urn not in custom]
        if unknown:
            raise ValueError(f"{resource.urn} depends on {unknown}, which the plan did not register")
        before = list(resource.dependencies)
        # A default provider is not registered by the program, so it is no step.
        if resource.provider and provider_urn(resource.provider) in steps:
            before.append(provider_urn(resource.provider))
        if resource.parent in steps:
            before.append(resource.parent)
        graph[resource.urn] = [urn for urn in dict.fromkeys(before) if urn in steps]
    return graph


@dataclass(frozen=True)
class Chain:
    """A chain of steps, first to last, each waiting for the one before."""

    urns: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.urns)


def longest_chains(graph: dict[str, list[str]], order: list[str]) -> dict[str, Chain]:
    """Return, for every step, the longest chain that ends with it.

    `order` lists the steps in program order, in which every step comes after
    those it waits for. On a tie, the chain through the earlier step wins.
    """
    position = {urn: index for index, urn in enumerate(order)}
    chains: dict[str, Chain] = {}
    for urn in order:
        best: Optional[Chain] = None
        for before in sorted(graph[urn], key=position.__getitem__):
            if before not in chains:
                raise ValueError(f"{urn} waits for {before}, which comes later in program order")
            if best is None or len(chains[before]) > len(best):
                best = chains[before]
        chains[urn] = Chain((best.urns if best else ()) + (urn,))
    return chains


@dataclass(frozen=True)
class CriticalPath:
    """The chain that decides when the first container is reachable over SSH."""

    chain: Chain
    names: tuple[str, ...]


def first_reachable_container(plan: Plan, custom: dict[str, bool]) -> CriticalPath:
    """Find the longest chain before one swarm's StatefulSet and everything SSH needs exist.

    SSH needs the SSH entry's Deployment and Service, the cloud load balancer
    and the resources that attach it (its service, target, network or
    firewall rule), which are those that wait for the load balancer directly.
    Any one StatefulSet is enough, so the earliest one counts.
    """
    # NOTE: a StatefulSet "waits until its status is ready" (its docstring in
    # pulumi-kubernetes 4.34.2), and that needs worker nodes that no dependency
    # links, such as a DOKS node pool. So a real update can wait longer than this chain shows.
    graph = waits_for(plan.resources, custom)
    order = [resource.urn for resource in plan.resources if resource.urn in graph]
    chains = longest_chains(graph, order)
    by_urn = {resource.urn: resource for resource in plan.resources}

    def parent_type(resource: PlannedResource) -> Optional[str]:
        parent = by_urn.get(resource.parent) if resource.parent else None
        return parent.type if parent else None

    statefulsets = [
        urn for urn in order if by_urn[urn].type == STATEFULSET and parent_type(by_urn[urn]) == SWARM_WORKLOADS
    ]
    if not statefulsets:
        raise ValueError(f"the plan of {plan.stack} has no swarm StatefulSet")
    load_balancers = {urn for urn in order if by_urn[urn].type in LOAD_BALANCERS}
    ssh_steps = [
        urn
        for urn in order
        if (by_urn[urn].type in SSH_ENTRY_STEPS and parent_type(by_urn[urn]) == SSH_ENTRY)
        or urn in load_balancers
        or load_balancers.intersection(graph[urn])
    ]

    earliest_statefulset = min((chains[urn] for urn in statefulsets), key=len)
    candidates = [earliest_statefulset] + [chains[urn] for urn in ssh_steps]
    critical = max(candidates, key=len)
    return CriticalPath(critical, tuple(by_urn[urn].name for urn in critical.urns))


def strip_prefix(names: Iterable[str], prefix: str) -> list[str]:
    """Drop the stack's resource prefix, `<project>-<stack>-`, from each name."""
    return [name.removeprefix(prefix + "-") for name in names]


# Containers and swarms of each size: 3 in 1 swarm, 200 in 10 swarms of 20.
PATH_WORKLOADS = {3: Workload(1, 3), 200: Workload(10, 20)}


@dataclass(frozen=True)
class PathRow:
    """The critical path of one auto-sized stack."""

    platform: Platform
    containers: int
    workload: Workload
    path: CriticalPath
    # Names without the stack's resource prefix.
    short_names: tuple[str, ...]


def critical_path_rows(
    platforms: tuple[Platform, ...], sizes: tuple[int, ...], catalog: Catalog, directory: Path
) -> list[PathRow]:
    """Plan the auto-sized stack of every platform and size, and find its critical path."""
    rows = []
    for platform in platforms:
        for containers in sizes:
            workload = PATH_WORKLOADS[containers]
            stack = auto_sized(platform, workload, catalog)
            stack_name = f"path-{platform.example_stack}-{containers}"
            plan, custom = plan_with_graph(str(write_stack_file(directory, stack_name, stack.values)))
            path = first_reachable_container(plan, custom)
            prefix = resource_prefix(PROJECT, plan.stack)
            rows.append(PathRow(platform, containers, workload, path, tuple(strip_prefix(path.names, prefix))))
    return rows
