"""`HetznerAutoscaler`: the Kubernetes cluster autoscaler with its Hetzner provider, for autoscaled worker pools.

Pulumi creates no servers for an autoscaled pool. The autoscaler creates
and deletes them between `min` and `max`, from the cloud-init document of the
pool, in the network, firewall and SSH key that the cluster component made.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Optional, Sequence

import pulumi
import pulumi_kubernetes as k8s

# Chart and image versions, read on 2026-12-04 in references to the
# kubernetes/autoscaler release tags. Chart 9.59.0 (tag
# cluster-autoscaler-chart-9.59.0) is the newest chart those sources name, and
# it ships app v1.35.0. v1.35.2 (tag cluster-autoscaler-1.35.2, published
# 2026-07-23) is the newest 1.35 patch. The Hetzner provider's subnet setting
# (defaultSubnetIPRange), which keeps autoscaled nodes off the fixed
# addresses, was merged in autumn 2025, before the 1.35 releases of 2026.
# NOTE: upstream builds each autoscaler minor for the same Kubernetes minor,
# and the default K3s release is Kubernetes 1.34, one minor older. This
# pairing has not been run on a cluster.
CHART_NAME = "cluster-autoscaler"
CHART_VERSION = "9.59.0"
CHART_REPOSITORY = "https://kubernetes.github.io/autoscaler"
IMAGE_REPOSITORY = "registry.k8s.io/autoscaling/cluster-autoscaler"
IMAGE_TAG = "v1.35.2"

SECRET_NAME = "cluster-autoscaler-hcloud"
NAMESPACE = "kube-system"

# Autoscaled agents reach the internet (images, K3s releases) through public
# addresses of their own, as the Pulumi-created agents do, and Hetzner bills
# each public IPv4.
SERVER_PUBLIC_IPV4 = "true"
SERVER_PUBLIC_IPV6 = "true"

# The Hetzner provider labels every server it creates with its node group
# (nodeGroupLabel in cluster-autoscaler/cloudprovider/hetzner/hetzner_cloud_provider.go).
NODE_GROUP_LABEL = "hcloud/node-group"

# A node must stay underused this long before the autoscaler removes it.
# Removing a node evicts the swarm containers on it, which ends their SSH
# sessions and restarts them on another node, so a short dip (a swarm parked
# and resumed, a rollout) must not trigger it. The autoscaler's default is
# 10m (scale-down-unneeded-time in the chart's values.yaml).
SCALE_DOWN_UNNEEDED_TIME = "1h"


def node_group_name(cluster_name: str, pool_name: str) -> str:
    """Return the autoscaler's node group name of a pool, unique in the Hetzner project.

    The autoscaler names servers <node group>-<random hex> and labels them
    with the node group, so the cluster name keeps two stacks in one project apart.
    """
    return f"{cluster_name}-{pool_name}"


@dataclass(frozen=True)
class NodeGroup:
    """The settings of one autoscaled worker pool that the cluster autoscaler reads."""

    name: str
    server_type: str
    location: str
    min_size: int
    max_size: int
    # The #cloud-config document of each new server, secret: it contains the K3s agent token.
    user_data: pulumi.Output[str]
    # Kubernetes labels of the pool's nodes, which the autoscaler assumes when
    # it plans a new node.
    node_labels: dict[str, str]
    placement_group_id: Optional[pulumi.Output[str]] = None
    # Taints of the pool's nodes as Kubernetes writes them: key, value and effect.
    node_taints: tuple[dict[str, str], ...] = ()


def render_cluster_config(
    image: str,
    subnet_ip_range: str,
    groups: Sequence[tuple[NodeGroup, str, Optional[str]]],
) -> str:
    """Render HCLOUD_CLUSTER_CONFIG: base64 of the JSON that the Hetzner provider reads.

    `groups` pairs each node group with its resolved user data and placement
    group id. Every server gets `image` on both architectures and its private
    address from `subnet_ip_range`.
    """
    node_configs: dict[str, dict[str, Any]] = {}
    for group, user_data, placement_group_id in groups:
        node_config: dict[str, Any] = {"cloudInit": user_data, "labels": group.node_labels}
        if group.node_taints:
            node_config["taints"] = list(group.node_taints)
        if placement_group_id is not None:
            node_config["placementGroup"] = placement_group_id
        node_configs[group.name] = node_config
    document = {
        "imagesForArch": {"amd64": image, "arm64": image},
        "defaultSubnetIPRange": subnet_ip_range,
        "nodeConfigs": node_configs,
    }
    return base64.b64encode(json.dumps(document, sort_keys=True).encode()).decode()


class HetznerAutoscaler(pulumi.ComponentResource):
    """The Secret with the autoscaler's API token and node configs, and its Helm release.

    The autoscaler runs on the control plane, keeps each pool between its
    `min` and `max`, and puts every new server in the given network, subnet
    and firewall with the given SSH key and public IPv4 and IPv6 addresses.
    """

    def __init__(
        self,
        name: str,
        node_groups: Sequence[NodeGroup],
        hcloud_token: pulumi.Input[str],
        image: str,
        network_id: pulumi.Input[str],
        subnet_ip_range: pulumi.Input[str],
        firewall_id: pulumi.Input[str],
        ssh_key_id: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("swarm:hetzner:Autoscaler", name, None, opts)

        # The cloud-init documents contain the K3s agent token, so the node
        # configs go into the Secret with the API token, never into the Helm
        # values, which Helm stores in the cluster in plain form.
        group_count = len(node_groups)
        cluster_config = pulumi.Output.all(
            subnet_ip_range,
            *[group.user_data for group in node_groups],
            *[group.placement_group_id for group in node_groups],
        ).apply(
            lambda values: render_cluster_config(
                image,
                values[0],
                list(zip(node_groups, values[1 : 1 + group_count], values[1 + group_count :])),
            )
        )
        secret = k8s.core.v1.Secret(
            f"{name}-secret",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=SECRET_NAME, namespace=NAMESPACE),
            type="Opaque",
            string_data={
                "token": pulumi.Output.secret(hcloud_token),
                "cluster-config": pulumi.Output.secret(cluster_config),
            },
            opts=pulumi.ResourceOptions(parent=self),
        )

        k8s.helm.v3.Release(
            f"{name}-release",
            name="cluster-autoscaler",
            chart=CHART_NAME,
            version=CHART_VERSION,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=CHART_REPOSITORY),
            namespace=NAMESPACE,
            values=_chart_values(node_groups, network_id, firewall_id, ssh_key_id, _checksum(hcloud_token, cluster_config)),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[secret]),
        )

        self.register_outputs({})


def _checksum(hcloud_token: pulumi.Input[str], cluster_config: pulumi.Output[str]) -> pulumi.Output[str]:
    """Hash the Secret's contents, so that the chart values change whenever the Secret does.

    The pod reads the Secret only when it starts. The hash is not secret,
    because a SHA-256 hash of contents with random tokens reveals neither token.
    """
    digest = pulumi.Output.all(hcloud_token, cluster_config).apply(
        lambda values: hashlib.sha256(json.dumps(values).encode()).hexdigest()
    )
    return pulumi.Output.unsecret(digest)


def _chart_values(
    node_groups: Sequence[NodeGroup],
    network_id: pulumi.Input[str],
    firewall_id: pulumi.Input[str],
    ssh_key_id: pulumi.Input[str],
    secret_checksum: pulumi.Input[str],
) -> dict[str, Any]:
    """Build the chart values: one autoscaling group per pool, the provider's settings, no secrets."""
    return {
        "cloudProvider": "hetzner",
        "fullnameOverride": "cluster-autoscaler",
        # A changed Secret changes this annotation, which restarts the pod.
        "podAnnotations": {"swarm/secret-sha256": secret_checksum},
        "image": {"repository": IMAGE_REPOSITORY, "tag": IMAGE_TAG},
        # For the Hetzner provider the chart turns each group into
        # --nodes=<minSize>:<maxSize>:<instanceType>:<region>:<name>.
        "autoscalingGroups": [
            {
                "name": group.name,
                "minSize": group.min_size,
                "maxSize": group.max_size,
                "instanceType": group.server_type,
                "region": group.location,
            }
            for group in node_groups
        ],
        "extraArgs": {
            # Without this flag the autoscaler adds nodes only for pending
            # pods, so a pool could stay below its min.
            "enforce-node-group-min-size": True,
            "scale-down-unneeded-time": SCALE_DOWN_UNNEEDED_TIME,
        },
        "extraEnv": {
            "HCLOUD_NETWORK": network_id,
            "HCLOUD_FIREWALL": firewall_id,
            "HCLOUD_SSH_KEY": ssh_key_id,
            "HCLOUD_PUBLIC_IPV4": SERVER_PUBLIC_IPV4,
            "HCLOUD_PUBLIC_IPV6": SERVER_PUBLIC_IPV6,
        },
        "extraEnvSecrets": {
            "HCLOUD_TOKEN": {"name": SECRET_NAME, "key": "token"},
            "HCLOUD_CLUSTER_CONFIG": {"name": SECRET_NAME, "key": "cluster-config"},
        },
        # On the control plane, the autoscaler never runs on a node that it
        # may remove. K3s servers carry this label, and the taint that keeps
        # swarms off them when agents exist.
        "nodeSelector": {"node-role.kubernetes.io/control-plane": "true"},
        "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists"}],
    }
