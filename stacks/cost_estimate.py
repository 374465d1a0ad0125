"""The `estimatedMonthlyCost` stack output: the cost report's total, computed from the config alone.

`pulumi up` runs the program, not the offline plan, so the program prices the
resources that its config implies. The components create exactly these; a
test checks that this estimate equals the plan-based cost of the example stacks.
"""

from __future__ import annotations

from typing import Any

from components import doks, hetzner_autoscaler
from stacks.catalog import Catalog, UnknownPriceError
from stacks.config import HetznerConfig, StackConfig
from stacks.cost import StackCost, price_resources
from stacks.cost_sources import PricedResource


def implied_resources(config: StackConfig) -> list[PricedResource]:
    """List the billable resources that the components create for a config, with the inputs pricing reads."""
    resources: list[PricedResource] = []
    if config.platform == "hetzner-k3s" and config.hetzner is not None:
        hetzner = config.hetzner
        for index in range(hetzner.control_plane.count):
            resources.append(PricedResource("hcloud:index/primaryIp:PrimaryIp", f"server-{index}-ipv4", {"type": "ipv4", "location": hetzner.location}))
            resources.append(
                PricedResource(
                    "hcloud:index/server:Server",
                    f"server-{index}",
                    {
                        "serverType": hetzner.control_plane.server_type,
                        "location": hetzner.location,
                        "labels": {"swarm-role": "server"},
                        "publicNets": [{"ipv4Enabled": True, "ipv4": "primary"}],
                    },
                )
            )
        for pool in hetzner.workers:
            for index in range(pool.fixed_count):
                resources.append(
                    PricedResource(
                        "hcloud:index/server:Server",
                        f"{pool.name}-{index}",
                        {
                            "serverType": pool.server_type,
                            "location": pool.location or hetzner.location,
                            "labels": {"swarm-role": "agent"},
                            "publicNets": [{"ipv4Enabled": True}],
                        },
                    )
                )
        if hetzner.autoscaled_pools:
            resources.append(PricedResource("kubernetes:helm.sh/v3:Release", "autoscaler", _autoscaler_values(hetzner)))
        resources.append(
            PricedResource("hcloud:index/loadBalancer:LoadBalancer", "lb", {"loadBalancerType": hetzner.load_balancer_type, "location": hetzner.location})
        )
    elif config.platform == "doks" and config.doks is not None:
        resources.append(
            PricedResource(
                "digitalocean:index/kubernetesCluster:KubernetesCluster",
                "cluster",
                {"ha": config.doks.ha, "nodePool": {"size": doks.SYSTEM_POOL_SIZE, "nodeCount": doks.SYSTEM_POOL_NODES}},
            )
        )
        for pool in config.doks.node_pools:
            inputs: dict[str, Any] = {"size": pool.size, "nodeCount": pool.count, "autoScale": pool.autoscale is not None}
            if pool.autoscale is not None:
                inputs.update(minNodes=pool.autoscale.min, maxNodes=pool.autoscale.max)
            resources.append(PricedResource("digitalocean:index/kubernetesNodePool:KubernetesNodePool", pool.name, inputs))
        resources.append(PricedResource("digitalocean:index/loadBalancer:LoadBalancer", "lb", {}))

    for swarm in config.swarms:
        resources.append(
            PricedResource(
                "kubernetes:apps/v1:StatefulSet",
                swarm.name,
                {
                    "metadata": {"name": swarm.name, "annotations": {"swarm/workspaces": str(swarm.replicas)}},
                    "spec": {
                        "replicas": swarm.running_replicas,
                        "volumeClaimTemplates": [{"spec": {"resources": {"requests": {"storage": swarm.storage}}}}],
                    },
                },
            )
        )
    return resources


def _autoscaler_values(hetzner: HetznerConfig) -> dict[str, Any]:
    """Return the release inputs that pricing reads: the chart and its autoscaling groups."""
    groups = [
        {
            "name": pool.name,
            "minSize": pool.autoscale.min,
            "maxSize": pool.autoscale.max,
            "instanceType": pool.server_type,
            "region": pool.location or hetzner.location,
        }
        for pool in hetzner.autoscaled_pools
        if pool.autoscale is not None
    ]
    return {
        "chart": hetzner_autoscaler.CHART_NAME,
        "values": {
            "cloudProvider": "hetzner",
            "autoscalingGroups": groups,
            "extraEnv": {"HCLOUD_PUBLIC_IPV4": hetzner_autoscaler.SERVER_PUBLIC_IPV4},
        },
    }


def estimate(stack: str, config: StackConfig, catalog: Catalog) -> StackCost:
    return price_resources(stack, implied_resources(config), catalog)


def estimate_or_none(stack: str, config: StackConfig, catalog: Catalog) -> StackCost | None:
    """Price the stack, or return None when the catalog lacks a price that `estimate_output` then names."""
    try:
        return estimate(stack, config, catalog)
    except UnknownPriceError:
        return None


def estimate_output(stack: str, config: StackConfig, catalog: Catalog) -> dict[str, str]:
    """Return the stack output: totals in EUR and USD as text, or why there is no estimate."""
    try:
        cost = estimate(stack, config, catalog)
    except UnknownPriceError as error:
        return {"unknown": str(error)}

    def text(low_high: tuple) -> str:
        low, high = low_high
        return str(low) if low == high else f"{low} - {high}"

    output = {
        "EUR": text(cost.total("EUR")),
        "USD": text(cost.total("USD")),
        "catalog": str(catalog.updated_on),
    }
    if cost.notes:
        output["note"] = "; ".join(cost.notes)
    return output
