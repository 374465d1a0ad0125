"""Stack configs of a given size for the benchmarks, sized so that they pass the plan-time capacity check.

Each platform starts from its example stack: Pulumi.dev.yaml for Hetzner
K3s, Pulumi.prod.yaml for DOKS. The platform section, `adminCidrs` and the
SSH key of the first swarm stay. The swarms are replaced by the workload,
and the worker pools by one pool of a chosen node type and count.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from stacks import hetzner_facts
from stacks.capacity import stack_demands
from stacks.catalog import Catalog
from stacks.config import StackConfig
from stacks.config_loader import NAMESPACE, parse_stack_config
from stacks.plan import ROOT
from stacks.sizing import Layout, cheapest_layout, fewest_nodes


@dataclass(frozen=True)
class Platform:
    """A platform as the benchmarks use it: its example stack and its provider in the price catalog."""

    name: str
    example_stack: str
    provider: str
    # The node type of the example stack's hand-picked worker pool.
    hand_picked_type: str


PLATFORMS = (
    Platform("hetzner-k3s", "dev", "hetzner", "cx33"),
    Platform("doks", "prod", "digitalocean", "s-4vcpu-8gb"),
)

WORKER_POOL = "general"


@dataclass(frozen=True)
class Workload:
    """Swarms of equal size, each container with the same requests and workspace volume."""

    swarms: int
    replicas: int
    cpu: str = "1"
    memory: str = "2Gi"
    storage: str = "20Gi"

    @property
    def containers(self) -> int:
        return self.swarms * self.replicas

    def describe(self) -> str:
        return f"{self.swarms} x {self.replicas}"


def example_config(platform: Platform) -> dict[str, Any]:
    """Return the `config:` mapping of the platform's example stack file."""
    document = yaml.safe_load((ROOT / f"Pulumi.{platform.example_stack}.yaml").read_text())
    return copy.deepcopy(document["config"])


def with_swarms(config: dict[str, Any], workload: Workload) -> dict[str, Any]:
    """Replace the swarms with the workload's, all with the SSH keys of the example's first swarm."""
    config = copy.deepcopy(config)
    keys = config[f"{NAMESPACE}:swarms"][0]["sshPublicKeys"]
    config[f"{NAMESPACE}:swarms"] = [
        {
            "name": f"team-{index:02d}",
            "replicas": workload.replicas,
            "cpu": workload.cpu,
            "memory": workload.memory,
            "storage": workload.storage,
            "sshPublicKeys": list(keys),
        }
        for index in range(workload.swarms)
    ]
    return config


def with_layout(config: dict[str, Any], platform: Platform, layout: Layout, catalog: Catalog) -> dict[str, Any]:
    """Replace the worker pools with one pool of the layout, and on Hetzner pick a load balancer that targets every server."""
    config = copy.deepcopy(config)
    if platform.provider == "hetzner":
        section = config[f"{NAMESPACE}:hetzner"]
        section["workers"] = [{"name": WORKER_POOL, "serverType": layout.sku, "count": layout.nodes}]
        servers = section["controlPlane"].get("count", 1) + layout.nodes
        section["loadBalancerType"] = load_balancer_type(catalog, servers)
    else:
        config[f"{NAMESPACE}:doks"]["nodePools"] = [{"name": WORKER_POOL, "size": layout.sku, "count": layout.nodes}]
    return config


def load_balancer_type(catalog: Catalog, servers: int) -> str:
    """Return the Hetzner load balancer type with the fewest targets that still targets `servers` servers."""
    types = sorted(catalog.load_balancer_limits["hetzner"].types.items(), key=lambda item: item[1].targets)
    for name, limits in types:
        if limits.targets >= servers:
            return name
    raise ValueError(f"no Hetzner load balancer type in the price catalog targets {servers} servers")


def swarm_values(config: dict[str, Any]) -> dict[str, Any]:
    """Return the `swarm:` keys without their namespace, as `parse_stack_config` takes them."""
    prefix = NAMESPACE + ":"
    return {key[len(prefix) :]: value for key, value in config.items() if key.startswith(prefix)}


def unchecked_config(config: dict[str, Any]) -> StackConfig:
    """Validate the config's models without the capacity check, to read its demands before the nodes are chosen."""
    return StackConfig.model_validate(swarm_values(config), by_alias=True, by_name=False)


def checked_config(config: dict[str, Any]) -> StackConfig:
    """Parse the config as the plan does, capacity check included, raising StackConfigError when it fails."""
    return parse_stack_config(swarm_values(config), "benchmark stack")


def location(platform: Platform, config: StackConfig) -> str:
    if platform.provider == "hetzner":
        assert config.hetzner is not None
        return config.hetzner.location
    assert config.doks is not None
    return config.doks.region


def max_worker_nodes(platform: Platform, config: StackConfig) -> int | None:
    """Return the most worker nodes the platform allows beside its other nodes, or None for the solver's default."""
    if platform.provider == "hetzner":
        assert config.hetzner is not None
        # The K3s servers share the private network with the agents.
        return hetzner_facts.MAX_SERVERS_PER_NETWORK - config.hetzner.control_plane.count
    return None


@dataclass(frozen=True)
class SizedStack:
    """A stack config whose workers have room for its swarms, with the layout chosen for it."""

    platform: Platform
    workload: Workload
    layout: Layout
    values: dict[str, Any]
    config: StackConfig


def auto_sized(platform: Platform, workload: Workload, catalog: Catalog) -> SizedStack:
    """Size the workers with `stacks.sizing.cheapest_layout`: the cheapest single node type and count."""
    draft = with_swarms(example_config(platform), workload)
    unchecked = unchecked_config(draft)
    layout = cheapest_layout(
        catalog,
        platform.provider,
        location(platform, unchecked),
        stack_demands(unchecked),
        max_nodes=max_worker_nodes(platform, unchecked),
    )
    return _sized(platform, workload, layout, draft, catalog)


def hand_picked(platform: Platform, workload: Workload, catalog: Catalog) -> SizedStack:
    """Size the workers with the example stack's node type, at the fewest nodes that pass the capacity check."""
    draft = with_swarms(example_config(platform), workload)
    unchecked = unchecked_config(draft)
    price = catalog.price(platform.provider, platform.hand_picked_type, location(platform, unchecked))
    limit = max_worker_nodes(platform, unchecked) or 1000
    nodes = fewest_nodes(catalog, price, stack_demands(unchecked), limit)
    if nodes is None:
        raise ValueError(
            f"{workload.containers} containers do not fit on at most {limit} nodes of {price.sku} on {platform.name}"
        )
    return _sized(platform, workload, Layout(price, nodes), draft, catalog)


def _sized(platform: Platform, workload: Workload, layout: Layout, draft: dict[str, Any], catalog: Catalog) -> SizedStack:
    values = with_layout(draft, platform, layout, catalog)
    return SizedStack(platform, workload, layout, values, checked_config(values))


def write_stack_file(directory: Path, stack: str, values: dict[str, Any]) -> Path:
    """Write `Pulumi.<stack>.yaml` into `directory` and return its path."""
    path = directory / f"Pulumi.{stack}.yaml"
    path.write_text(yaml.safe_dump({"config": values}, sort_keys=False))
    return path
