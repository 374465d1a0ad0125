"""The text form of the offline plan: an indented tree of resources with their key inputs."""

from __future__ import annotations

import json
from typing import Any, Optional

from stacks.plan import Plan

# Inputs worth a line in the text tree, by resource type. Other inputs are in
# the JSON output.
_KEY_INPUTS = {
    "hcloud:index/network:Network": ["ipRange"],
    "hcloud:index/networkSubnet:NetworkSubnet": ["networkZone", "ipRange"],
    "hcloud:index/firewall:Firewall": ["rules"],
    "hcloud:index/server:Server": ["serverType", "location", "image", "networks", "userData"],
    "hcloud:index/primaryIp:PrimaryIp": ["type", "location"],
    "hcloud:index/loadBalancer:LoadBalancer": ["loadBalancerType", "location"],
    "hcloud:index/loadBalancerNetwork:LoadBalancerNetwork": ["ip"],
    "hcloud:index/loadBalancerTarget:LoadBalancerTarget": ["type", "labelSelector", "usePrivateIp"],
    "hcloud:index/loadBalancerService:LoadBalancerService": ["protocol", "listenPort", "destinationPort"],
    "command:remote:Command": ["connection"],
    "pulumi:providers:kubernetes": ["kubeconfig", "context"],
    "kubernetes:helm.sh/v3:Release": ["chart", "version", "namespace"],
    "kubernetes:core/v1:Secret": ["metadata", "stringData"],
    "kubernetes:storage.k8s.io/v1:StorageClass": ["provisioner", "reclaimPolicy"],
    "kubernetes:apps/v1:StatefulSet": ["metadata", "spec.replicas"],
    "kubernetes:apps/v1:Deployment": ["metadata", "spec.replicas"],
    "digitalocean:index/vpc:Vpc": ["region", "ipRange"],
    "digitalocean:index/kubernetesCluster:KubernetesCluster": ["region", "version", "ha", "nodePool", "controlPlaneFirewall"],
    "digitalocean:index/kubernetesNodePool:KubernetesNodePool": ["size", "nodeCount", "autoScale", "minNodes", "maxNodes"],
    "digitalocean:index/loadBalancer:LoadBalancer": ["region", "dropletTag", "forwardingRules"],
    "digitalocean:index/firewall:Firewall": ["tags", "inboundRules"],
}


def render_tree(plan: Plan) -> str:
    """Render the plan as an indented tree of `type name` lines with their key inputs."""
    children: dict[Optional[str], list] = {}
    for resource in plan.resources:
        children.setdefault(resource.parent, []).append(resource)

    lines = [f"stack {plan.stack}: {len(plan.resources)} resources"]

    def visit(parent: Optional[str], depth: int) -> None:
        for resource in children.get(parent, []):
            indent = "  " * depth
            lines.append(f"{indent}+ {resource.type}  {resource.name}")
            for key in _KEY_INPUTS.get(resource.type, []):
                value = _lookup(resource.inputs, key)
                if value is not None:
                    lines.append(f"{indent}    {key}: {_short(value)}")
            visit(resource.urn, depth + 1)

    visit(None, 1)
    if plan.outputs:
        lines.append("outputs:")
        lines += [f"  {key}: {_short(value)}" for key, value in plan.outputs.items()]
    return "\n".join(lines)


def _lookup(inputs: dict[str, Any], dotted: str) -> Any:
    value: Any = inputs
    for part in dotted.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _short(value: Any, limit: int = 160) -> str:
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), sort_keys=True)
    text = text.replace("\n", "\\n")
    return text if len(text) <= limit else text[: limit - 3] + "..."
