"""The choice of platform: build the cluster that `swarm:platform` names.

Every platform returns a `Cluster`, the contract that the swarm workloads and
the SSH entry are built on, so switching platforms is a one-key config change
and the swarm definitions stay as they are.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Literal, Optional

import pulumi
import pulumi_kubernetes as k8s

from components import doks, hetzner_k3s
from components.doks import DoksCluster
from components.existing_cluster import ExistingCluster
from components.hetzner_k3s import HetznerK3sCluster
from stacks.config import StackConfig
from stacks.config_checks import world_open_ranges
from stacks.config_loader import StackConfigError


@dataclass(frozen=True)
class Cluster:
    """The cluster handle that every platform returns to the workloads."""

    provider: k8s.Provider
    # None means the cluster's default storage class.
    storage_class_name: Optional[pulumi.Output[str]]
    # The Service type of the SSH entry: a node port behind the platform's load
    # balancer or a given address, or a LoadBalancer Service of the cluster.
    ssh_service_type: Literal["NodePort", "LoadBalancer"]
    ssh_port: int
    ssh_node_port: Optional[int]
    # None means the address of the jump host's LoadBalancer Service.
    ssh_host: Optional[pulumi.Output[str]]
    # Node label that marks the nodes for swarm containers, if the platform has other nodes.
    pool_label: Optional[str]
    # Platform-specific stack outputs, such as the kubeconfig.
    outputs: dict[str, pulumi.Output] = field(default_factory=dict)


def read_hcloud_token() -> pulumi.Output[str]:
    """Return the Hetzner Cloud API token as a secret, from `hcloud:token` or HCLOUD_TOKEN."""
    token = pulumi.Config("hcloud").get_secret("token")
    if token is not None:
        return token
    if os.environ.get("HCLOUD_TOKEN"):
        return pulumi.Output.secret(os.environ["HCLOUD_TOKEN"])
    raise StackConfigError(
        "missing config key hcloud:token: the Hetzner Cloud API token (read and write) is required "
        "when swarm:platform is hetzner-k3s; set it with: pulumi config set --secret hcloud:token <token>"
    )


def check_digitalocean_token() -> None:
    """Fail early when neither `digitalocean:token` nor DIGITALOCEAN_TOKEN is set."""
    if pulumi.Config("digitalocean").get_secret("token") is not None:
        return
    if os.environ.get("DIGITALOCEAN_TOKEN") or os.environ.get("DIGITALOCEAN_ACCESS_TOKEN"):
        return
    raise StackConfigError(
        "missing config key digitalocean:token: a DigitalOcean API token is required when swarm:platform "
        "is doks; set it with: pulumi config set --secret digitalocean:token <token>"
    )


def build_cluster(name: str, config: StackConfig, protect: bool = False) -> Cluster:
    """Create the cluster of the platform that the stack config names."""
    if config.admin_cidrs and config.allow_public_admin:
        open_ranges = world_open_ranges(config.admin_cidrs)
        if open_ranges:
            pulumi.log.warn(
                f"swarm:adminCidrs covers {' and '.join(open_ranges)}: the Kubernetes API and node SSH are open to "
                "the whole internet, because swarm:allowPublicAdmin is true"
            )
    if config.platform == "hetzner-k3s":
        return _hetzner_k3s(name, config, protect)
    if config.platform == "doks":
        return _doks(name, config, protect)
    return _existing(name, config)


def _hetzner_k3s(name: str, config: StackConfig, protect: bool) -> Cluster:
    assert config.hetzner is not None and config.admin_cidrs is not None  # checked by parse_stack_config
    cluster = HetznerK3sCluster(
        name,
        config=config.hetzner,
        admin_cidrs=config.admin_cidrs,
        hcloud_token=read_hcloud_token(),
        protect=protect,
    )
    return Cluster(
        provider=cluster.provider,
        storage_class_name=cluster.storage_class_name,
        ssh_service_type="NodePort",
        ssh_port=22,
        ssh_node_port=hetzner_k3s.SSH_NODE_PORT,
        ssh_host=cluster.ssh_host,
        # Without agents the swarms run on the K3s servers, which carry no pool label.
        pool_label=hetzner_k3s.POOL_LABEL if config.hetzner.has_agents else None,
        outputs={
            "kubeconfig": cluster.kubeconfig,
            "api_server_ip": cluster.api_server_ip,
            "node_ssh_private_key": cluster.admin_private_key,
        },
    )


def _doks(name: str, config: StackConfig, protect: bool) -> Cluster:
    assert config.doks is not None and config.admin_cidrs is not None  # checked by parse_stack_config
    check_digitalocean_token()
    cluster = DoksCluster(name, config=config.doks, admin_cidrs=config.admin_cidrs, protect=protect)
    return Cluster(
        provider=cluster.provider,
        storage_class_name=cluster.storage_class_name,
        ssh_service_type="NodePort",
        ssh_port=22,
        ssh_node_port=doks.SSH_NODE_PORT,
        ssh_host=cluster.ssh_host,
        pool_label=doks.POOL_LABEL,
        outputs={"kubeconfig": cluster.kubeconfig, "cluster_version": cluster.cluster_version},
    )


def _existing(name: str, config: StackConfig) -> Cluster:
    assert config.kubeconfig is not None  # checked by parse_stack_config
    if config.admin_cidrs:
        pulumi.log.warn(
            "swarm:adminCidrs is not used with swarm:platform kubeconfig: the cluster's own settings "
            "decide who reaches its API; it applies again when the stack switches to hetzner-k3s or doks"
        )
    settings = config.kubeconfig
    cluster = ExistingCluster(name, config=settings)
    node_port = settings.client_port() if settings.ssh_service == "NodePort" else None
    return Cluster(
        provider=cluster.provider,
        storage_class_name=pulumi.Output.from_input(settings.storage_class) if settings.storage_class else None,
        ssh_service_type=settings.ssh_service,
        ssh_port=settings.client_port(),
        ssh_node_port=node_port,
        ssh_host=pulumi.Output.from_input(settings.ssh_host) if settings.ssh_host else None,
        pool_label=None,
    )
