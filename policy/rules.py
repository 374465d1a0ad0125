"""The rules of the swarm policy pack, as plain functions of one resource.

Each rule gets the resource's type, its inputs, its URN and whether it is
protected, and returns the violations it finds, so that tests can call it on
recorded resources without a Pulumi engine. `__main__.py` wraps them as
CrossGuard policies.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Iterator

ADMIN_PORTS = (22, 6443)
WORLD = ("0.0.0.0/0", "::/0")

# Resource types whose inputs hold a pod template, and where in them.
_POD_TEMPLATES = {
    "kubernetes:apps/v1:Deployment": ("spec", "template", "spec"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:ReplicaSet": ("spec", "template", "spec"),
    "kubernetes:batch/v1:Job": ("spec", "template", "spec"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "kubernetes:core/v1:Pod": ("spec",),
}


def _port_range_contains(port: str | None, target: int) -> bool:
    if port is None or port == "any":
        return True
    if "-" in port:
        low, high = port.split("-", 1)
        return int(low) <= target <= int(high)
    return int(port) == target


def _covers_world(sources: list[str]) -> bool:
    for source in sources:
        try:
            if ipaddress.ip_network(source, strict=False).prefixlen == 0:
                return True
        except ValueError:
            continue
    return False


def admin_ports_closed_to_world(resource_type: str, props: dict[str, Any]) -> Iterator[str]:
    """A firewall must not open SSH (22) or the Kubernetes API (6443) to the whole internet."""
    if resource_type == "hcloud:index/firewall:Firewall":
        for rule in props.get("rules") or []:
            if rule.get("direction", "in") != "in" or rule.get("protocol") not in ("tcp", None):
                continue
            for port in ADMIN_PORTS:
                if _port_range_contains(rule.get("port"), port) and _covers_world(rule.get("sourceIps") or []):
                    yield f"firewall rule opens port {port} to {', '.join(rule.get('sourceIps'))}"
    if resource_type == "digitalocean:index/kubernetesCluster:KubernetesCluster":
        firewall = props.get("controlPlaneFirewall") or {}
        if not firewall.get("enabled"):
            yield "the DOKS control plane firewall is off, so the Kubernetes API is open to the whole internet"
        elif _covers_world(firewall.get("allowedAddresses") or []):
            yield "the DOKS control plane firewall admits the whole internet"


def storage_class_retains_volumes(resource_type: str, props: dict[str, Any]) -> Iterator[str]:
    """A storage class must keep its volumes when their claims go, because the volumes are the workspaces."""
    if resource_type == "kubernetes:storage.k8s.io/v1:StorageClass":
        policy = props.get("reclaimPolicy", "Delete")
        if policy != "Retain":
            yield f"storage class reclaimPolicy is {policy}, which deletes a workspace volume with its claim; use Retain"


def _pod_spec(resource_type: str, props: dict[str, Any]) -> dict[str, Any] | None:
    path = _POD_TEMPLATES.get(resource_type)
    if path is None:
        return None
    value: Any = props
    for part in path:
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value if isinstance(value, dict) else None


def no_privileged_pods(resource_type: str, props: dict[str, Any]) -> Iterator[str]:
    """A pod must not run privileged containers or share the node's namespaces."""
    spec = _pod_spec(resource_type, props)
    if spec is None:
        return
    for namespace in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(namespace):
            yield f"pod sets {namespace}: true"
    for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        security = container.get("securityContext") or {}
        if security.get("privileged"):
            yield f"container {container.get('name')} is privileged"
        if "SYS_ADMIN" in ((security.get("capabilities") or {}).get("add") or []):
            yield f"container {container.get('name')} adds SYS_ADMIN"


def _stack_of(urn: str) -> str:
    return urn.split("::", 1)[0].removeprefix("urn:pulumi:")


def control_plane_protected(resource_type: str, props: dict[str, Any], urn: str, protected: bool) -> Iterator[str]:
    """Outside the dev stack, the control plane must be protected, because deleting it loses the cluster."""
    if _stack_of(urn) == "dev" or protected:
        return
    is_k3s_server = resource_type == "hcloud:index/server:Server" and (props.get("labels") or {}).get("swarm-role") == "server"
    if is_k3s_server or resource_type == "digitalocean:index/kubernetesCluster:KubernetesCluster":
        yield f"control plane resource is not protected in stack {_stack_of(urn)}; set swarm:protect to true"
