"""The choice of platform: build the cluster that `swarm:platform` names.

Every platform returns a `Cluster`, the contract that the swarm workloads and
the SSH entry are built on, so switching platforms is a one-key config change.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.hetzner_k3s import SSH_NODE_PORT, HetznerK3sCluster
from stacks.config import StackConfig
from stacks.config_loader import StackConfigError


@dataclass(frozen=True)
class Cluster:
    """The cluster handle that every platform returns to the workloads."""

    provider: k8s.Provider
    storage_class_name: pulumi.Output[str]
    # The public address and port of the SSH entry, and the node port behind it.
    ssh_host: pulumi.Output[str]
    ssh_port: int
    ssh_node_port: int
    kubeconfig: pulumi.Output[str]
    api_server_ip: pulumi.Output[str]
    # Private key that opens root SSH on the nodes, from the admin CIDRs.
    node_ssh_private_key: pulumi.Output[str]


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


def build_cluster(name: str, config: StackConfig) -> Cluster:
    """Create the cluster of the platform that the stack config names."""
    if config.platform == "hetzner-k3s":
        assert config.hetzner is not None  # guaranteed by parse_stack_config
        cluster = HetznerK3sCluster(
            name,
            config=config.hetzner,
            admin_cidrs=config.admin_cidrs,
            hcloud_token=read_hcloud_token(),
        )
        return Cluster(
            provider=cluster.provider,
            storage_class_name=cluster.storage_class_name,
            ssh_host=cluster.ssh_host,
            ssh_port=22,
            ssh_node_port=SSH_NODE_PORT,
            kubeconfig=cluster.kubeconfig,
            api_server_ip=cluster.api_server_ip,
            node_ssh_private_key=cluster.admin_private_key,
        )
    raise StackConfigError(f"invalid config swarm:platform = {config.platform}: no cluster builder for it")
