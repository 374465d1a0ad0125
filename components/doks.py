"""`DoksCluster`: a DigitalOcean Kubernetes cluster, ready for the swarm workloads."""

from __future__ import annotations

import pulumi
import pulumi_digitalocean as digitalocean
import pulumi_kubernetes as k8s

from stacks.config_doks import DEFAULT_DOKS_VERSION, DoksConfig
from stacks.config_pools import POOL_LABEL

# The built-in pool of a DOKS cluster is part of the cluster resource, and
# changing its size replaces the whole cluster. It therefore stays small and
# fixed, runs the cluster's own add-ons, and the swarms run on separate
# KubernetesNodePool resources that can change freely.
SYSTEM_POOL_SIZE = "s-2vcpu-4gb"
SYSTEM_POOL_NODES = 1


STORAGE_CLASS_NAME = "do-block-storage-swarm-retain"
SSH_NODE_PORT = 30022


class DoksCluster(pulumi.ComponentResource):
    """A VPC, a DOKS cluster with its node pools, a load balancer for SSH and a storage class.

    Outputs:
        kubeconfig: admin kubeconfig of the cluster, secret. Its token expires
            after 7 days; `pulumi up --refresh` fetches a new one.
        provider: Kubernetes provider that targets the cluster.
        storage_class_name: storage class whose PVCs become DigitalOcean volumes that outlive their claims.
        ssh_host: public IPv4 of the load balancer that carries the SSH entry.
        cluster_version: the DOKS version slug the cluster was created with.
    """

    kubeconfig: pulumi.Output[str]
    provider: k8s.Provider
    storage_class_name: pulumi.Output[str]
    ssh_host: pulumi.Output[str]
    cluster_version: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        config: DoksConfig,
        admin_cidrs: list[str],
        protect: bool = False,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Create the cluster; with `protect`, Pulumi refuses to delete its VPC and the cluster."""
        super().__init__("swarm:digitalocean:DoksCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        node_tag = f"{name}-swarm-nodes"

        # Network: the cluster's own VPC in its region.
        vpc = digitalocean.Vpc(
            f"{name}-vpc",
            region=config.region,
            ip_range=config.vpc_cidr,
            description=f"swarm stack {name}",
            opts=pulumi.ResourceOptions(parent=self, protect=protect),
        )

        # Cluster: created with the newest patch of the configured minor.
        # DOKS applies later patches in the maintenance window, but the
        # lookup names a new patch as soon as DOKS offers it, so following
        # the lookup would upgrade the cluster at the next `pulumi up`
        # instead of in the window. The version is therefore ignored after
        # creation, and a warning is logged when the configured minor and the
        # cluster's differ.
        prefixed = digitalocean.get_kubernetes_versions_output(version_prefix=f"{config.version}.")
        offered = digitalocean.get_kubernetes_versions_output()
        version = pulumi.Output.all(prefixed, offered).apply(
            lambda results: creation_version(config.version, results[0], results[1])
        )
        cluster = digitalocean.KubernetesCluster(
            f"{name}-cluster",
            name=name,
            region=config.region,
            version=version,
            vpc_uuid=vpc.id,
            ha=config.ha,
            auto_upgrade=True,
            surge_upgrade=True,
            maintenance_policy=digitalocean.KubernetesClusterMaintenancePolicyArgs(
                day=config.maintenance_window.day,
                start_time=config.maintenance_window.start_time,
            ),
            control_plane_firewall=digitalocean.KubernetesClusterControlPlaneFirewallArgs(
                enabled=True, allowed_addresses=admin_cidrs
            ),
            node_pool=digitalocean.KubernetesClusterNodePoolArgs(
                name=f"{name}-system", size=SYSTEM_POOL_SIZE, node_count=SYSTEM_POOL_NODES
            ),
            # Volumes created through Kubernetes are left alone when the
            # cluster is destroyed (destroy_all_associated_resources stays off).
            opts=pulumi.ResourceOptions(parent=self, protect=protect, ignore_changes=["version"]),
        )

        cluster.version.apply(lambda running: warn_on_minor_mismatch(name, config.version, running))

        # Node pools: the swarm capacity, each pool labelled for the swarms
        # and tagged for the load balancer. Pools scale, and a changed size
        # replaces only that pool, without touching the cluster.
        pools = []
        for pool in config.node_pools:
            autoscale = pool.autoscale
            pools.append(
                digitalocean.KubernetesNodePool(
                    f"{name}-{pool.name}",
                    cluster_id=cluster.id,
                    name=f"{name}-{pool.name}",
                    size=pool.size,
                    node_count=pool.count,
                    auto_scale=autoscale is not None,
                    min_nodes=autoscale.min if autoscale else None,
                    max_nodes=autoscale.max if autoscale else None,
                    labels={**pool.labels, POOL_LABEL: pool.name},
                    taints=[
                        digitalocean.KubernetesNodePoolTaintArgs(key=taint.key, value=taint.value, effect=taint.effect)
                        for taint in pool.taints
                    ]
                    or None,
                    tags=[node_tag],
                    # The autoscaler changes the node count between runs.
                    opts=pulumi.ResourceOptions(parent=self, ignore_changes=["nodeCount"] if autoscale else None),
                )
            )

        # Load balancer: owned by Pulumi, not created by the cloud controller
        # for a LoadBalancer Service, so `pulumi destroy` removes it too.
        load_balancer = digitalocean.LoadBalancer(
            f"{name}-lb",
            region=config.region,
            vpc_uuid=vpc.id,
            droplet_tag=node_tag,
            forwarding_rules=[
                digitalocean.LoadBalancerForwardingRuleArgs(
                    entry_protocol="tcp", entry_port=22, target_protocol="tcp", target_port=SSH_NODE_PORT
                )
            ],
            healthcheck=digitalocean.LoadBalancerHealthcheckArgs(protocol="tcp", port=SSH_NODE_PORT),
            opts=pulumi.ResourceOptions(parent=self, depends_on=pools),
        )
        # DOKS's own firewall closes node ports, so the load balancer gets a
        # rule of its own to the SSH entry's node port.
        digitalocean.Firewall(
            f"{name}-lb-to-nodes",
            tags=[node_tag],
            inbound_rules=[
                digitalocean.FirewallInboundRuleArgs(
                    protocol="tcp",
                    port_range=str(SSH_NODE_PORT),
                    source_load_balancer_uids=[load_balancer.id],
                )
            ],
            opts=pulumi.ResourceOptions(parent=self, depends_on=pools),
        )

        # Cluster credentials: the kubeconfig carries a token that DOKS
        # issues for 7 days, so it is read again on every `pulumi up --refresh`.
        kubeconfig = pulumi.Output.secret(cluster.kube_configs[0].raw_config)
        provider = k8s.Provider(f"{name}-k8s", kubeconfig=kubeconfig, opts=child)

        # Storage: DigitalOcean volumes that stay when their claims go.
        storage_class = k8s.storage.v1.StorageClass(
            f"{name}-storage-class",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=STORAGE_CLASS_NAME),
            provisioner="dobs.csi.digitalocean.com",
            reclaim_policy="Retain",
            volume_binding_mode="WaitForFirstConsumer",
            allow_volume_expansion=True,
            opts=pulumi.ResourceOptions(parent=self, provider=provider),
        )

        self.kubeconfig = kubeconfig
        self.provider = provider
        self.storage_class_name = storage_class.metadata.name
        self.ssh_host = load_balancer.ip
        self.cluster_version = cluster.version
        self.register_outputs(
            {
                "kubeconfig": kubeconfig,
                "storage_class_name": self.storage_class_name,
                "ssh_host": self.ssh_host,
                "cluster_version": self.cluster_version,
            }
        )


def _offered_minors(result: digitalocean.GetKubernetesVersionsResult) -> list[str]:
    minors = {".".join(slug.split(".")[:2]) for slug in result.valid_versions or []}
    return sorted(minors, key=lambda minor: tuple(int(part) for part in minor.split(".") if part.isdigit()))


def creation_version(
    minor: str,
    prefixed: digitalocean.GetKubernetesVersionsResult,
    offered: digitalocean.GetKubernetesVersionsResult,
) -> str:
    """Return the newest DOKS patch of `minor`, or warn and return the minor itself when DOKS offers none.

    An existing cluster ignores this input, so a minor that DOKS has retired
    must not stop its stack. Creating a new cluster with it fails at the API.
    """
    if prefixed.latest_version:
        return prefixed.latest_version
    minors = _offered_minors(offered)
    pulumi.log.warn(
        f"swarm:doks.version = {minor}: DOKS offers no version of it now (offered minors: "
        f"{', '.join(minors) or 'none'}). An existing cluster keeps its version; to create a cluster, "
        f"run: pulumi config set --path 'swarm:doks.version' {minors[-1] if minors else DEFAULT_DOKS_VERSION}"
    )
    return minor


def warn_on_minor_mismatch(cluster_name: str, minor: str, running: str) -> None:
    """Warn when the cluster runs another minor than `swarm:doks.version`, which changes only at creation."""
    if not running or running.startswith(f"{minor}.") or running == minor:
        return
    pulumi.log.warn(
        f"swarm:doks.version is {minor}, but the cluster runs {running}; the version is read only "
        f"when the cluster is created. Upgrade with: doctl kubernetes cluster upgrade {cluster_name} "
        f"--version <{minor} slug from doctl kubernetes options versions>, or set swarm:doks.version back"
    )
