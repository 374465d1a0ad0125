"""`SwarmWorkloads`: the SwarmContainers of every swarm, on any Kubernetes cluster."""

from __future__ import annotations

from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from stacks.config import Swarm
from stacks.config_pools import Taint

# The namespace of the SSH entry, whose pods may reach every swarm's sshd.
SSH_ENTRY_NAMESPACE = "swarm-ssh"

AUTHORIZED_KEYS_DIR = "/etc/swarm/ssh"

# The number of workspaces a StatefulSet owns, which stays when a parked swarm
# runs no containers; the cost report counts their volumes from it.
WORKSPACES_ANNOTATION = "swarm/workspaces"

# Set by the StatefulSet controller on every pod since Kubernetes 1.28.
_POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"

# The default capabilities that a SwarmContainer keeps. sshd needs SETUID,
# SETGID, SYS_CHROOT and AUDIT_WRITE to separate privileges and log users in.
# The linuxserver image's start scripts need CHOWN, DAC_OVERRIDE, FOWNER,
# FSETID and KILL to prepare the home folder and run their services. The root
# filesystem stays writable, because those scripts write /etc and /run.
# NOTE: the list is read from what sshd and the image's scripts do, not
# tried on a running cluster.
CONTAINER_CAPABILITIES = ("AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SYS_CHROOT")

# The cloud metadata service. On Hetzner it serves each server's user data,
# which contains the K3s join token, to any process that can reach it.
METADATA_SERVICE_CIDR = "169.254.169.254/32"


def egress_without_metadata() -> list[k8s.networking.v1.NetworkPolicyEgressRuleArgs]:
    """Build egress rules that allow every pod and external address except the metadata service."""
    return [
        k8s.networking.v1.NetworkPolicyEgressRuleArgs(
            to=[
                k8s.networking.v1.NetworkPolicyPeerArgs(namespace_selector=k8s.meta.v1.LabelSelectorArgs()),
                k8s.networking.v1.NetworkPolicyPeerArgs(
                    ip_block=k8s.networking.v1.IPBlockArgs(cidr="0.0.0.0/0", except_=[METADATA_SERVICE_CIDR])
                ),
                k8s.networking.v1.NetworkPolicyPeerArgs(ip_block=k8s.networking.v1.IPBlockArgs(cidr="::/0")),
            ]
        )
    ]


def namespace_name(swarm: Swarm) -> str:
    return f"swarm-{swarm.name}"


def container_dns_name(swarm: Swarm, ordinal: int) -> str:
    """Return the cluster DNS name of one container, served by the swarm's headless Service."""
    return f"{swarm.name}-{ordinal}.{swarm.name}.{namespace_name(swarm)}.svc.cluster.local"


def swarm_labels(swarm: Swarm) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "swarm-container",
        "app.kubernetes.io/instance": swarm.name,
        "app.kubernetes.io/part-of": "swarm",
    }


class SwarmWorkloads(pulumi.ComponentResource):
    """Per swarm: a namespace, its SSH keys, a headless Service, a network policy and a StatefulSet.

    Each container of a swarm gets its own workspace PVC from the StatefulSet's
    volume claim template. PVCs are kept when the StatefulSet scales down or is
    deleted, so workspaces outlive their containers.

    Outputs:
        namespaces: namespace of each swarm, by swarm name.
    """

    namespaces: pulumi.Output[dict]

    def __init__(
        self,
        name: str,
        swarms: list[Swarm],
        storage_class_name: Optional[pulumi.Input[str]],
        pool_label: Optional[str] = None,
        pool_taints: Optional[dict[str, list[Taint]]] = None,
        protect: bool = False,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Create the swarms.

        `storage_class_name` None means the cluster's default storage class.
        With `pool_label`, containers run only on nodes that carry that label,
        which keeps them off a platform's system or control plane nodes; a
        swarm that names a pool runs only on that pool and tolerates its
        `pool_taints`. With
        `protect`, Pulumi refuses to delete the namespaces, which hold the
        workspace PVCs.
        """
        super().__init__("swarm:workloads:SwarmWorkloads", name, None, opts)
        self._pool_label = pool_label
        self._pool_taints = pool_taints or {}
        self._protect_namespaces = protect
        namespaces = {}
        for swarm in swarms:
            namespaces[swarm.name] = self._swarm(name, swarm, storage_class_name)

        self.namespaces = pulumi.Output.from_input(namespaces)
        self.register_outputs({"namespaces": self.namespaces})

    def _swarm(self, name: str, swarm: Swarm, storage_class_name: Optional[pulumi.Input[str]]) -> pulumi.Output[str]:
        prefix = f"{name}-{swarm.name}"
        labels = swarm_labels(swarm)

        namespace = k8s.core.v1.Namespace(
            f"{prefix}-namespace",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=namespace_name(swarm),
                labels={
                    "app.kubernetes.io/part-of": "swarm",
                    "pod-security.kubernetes.io/enforce": "baseline",
                },
            ),
            # Deleting a namespace deletes its PVCs, so removing a swarm from
            # the config leaves its namespace, and the workspaces in it, in
            # the cluster. Adding the swarm back adopts the namespace again.
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True, protect=self._protect_namespaces),
        )
        in_namespace = pulumi.ResourceOptions(parent=self, depends_on=[namespace])
        namespace_name_output = namespace.metadata.name

        # Public keys are not secret; a ConfigMap lets an edit reach running
        # containers without a restart.
        keys = k8s.core.v1.ConfigMap(
            f"{prefix}-ssh-keys",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=f"{swarm.name}-ssh-keys", namespace=namespace_name_output, labels=labels
            ),
            data={"authorized_keys": "\n".join(swarm.ssh_public_keys) + "\n"},
            opts=in_namespace,
        )

        # Headless, and publishing containers that are not ready yet, so that
        # <swarm>-<n>.<swarm>.<namespace> resolves from the moment a pod exists.
        service = k8s.core.v1.Service(
            f"{prefix}-service",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=swarm.name, namespace=namespace_name_output, labels=labels
            ),
            spec=k8s.core.v1.ServiceSpecArgs(
                cluster_ip="None",
                publish_not_ready_addresses=True,
                selector=labels,
                ports=[k8s.core.v1.ServicePortArgs(name="ssh", port=swarm.ssh_port, target_port="ssh")],
            ),
            opts=in_namespace,
        )

        # Containers of one swarm reach each other on any port. From outside
        # the namespace only the SSH entry gets in, and only to sshd. Going
        # out, everything but the metadata service is open.
        k8s.networking.v1.NetworkPolicy(
            f"{prefix}-network-policy",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=f"{swarm.name}-isolation", namespace=namespace_name_output, labels=labels
            ),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=labels),
                policy_types=["Ingress", "Egress"],
                egress=egress_without_metadata(),
                ingress=[
                    k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                        from_=[k8s.networking.v1.NetworkPolicyPeerArgs(pod_selector=k8s.meta.v1.LabelSelectorArgs())]
                    ),
                    k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                        from_=[
                            k8s.networking.v1.NetworkPolicyPeerArgs(
                                namespace_selector=k8s.meta.v1.LabelSelectorArgs(
                                    match_labels={"kubernetes.io/metadata.name": SSH_ENTRY_NAMESPACE}
                                )
                            )
                        ],
                        ports=[k8s.networking.v1.NetworkPolicyPortArgs(protocol="TCP", port=swarm.ssh_port)],
                    ),
                ],
            ),
            opts=in_namespace,
        )

        k8s.apps.v1.StatefulSet(
            f"{prefix}-statefulset",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=swarm.name,
                namespace=namespace_name_output,
                labels=labels,
                annotations={WORKSPACES_ANNOTATION: str(swarm.replicas)},
            ),
            spec=k8s.apps.v1.StatefulSetSpecArgs(
                service_name=swarm.name,
                # Parking scales to zero. The PVCs stay (retention policy
                # Retain), and running again attaches the same workspaces.
                replicas=swarm.running_replicas,
                # Containers are independent of each other, so they start and
                # stop together instead of one ordinal at a time.
                pod_management_policy="Parallel",
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=labels),
                persistent_volume_claim_retention_policy=k8s.apps.v1.StatefulSetPersistentVolumeClaimRetentionPolicyArgs(
                    when_deleted="Retain", when_scaled="Retain"
                ),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                    spec=self._pod_spec(swarm, keys),
                ),
                volume_claim_templates=[
                    k8s.core.v1.PersistentVolumeClaimArgs(
                        metadata=k8s.meta.v1.ObjectMetaArgs(name="workspace", labels=labels),
                        spec=k8s.core.v1.PersistentVolumeClaimSpecArgs(
                            access_modes=["ReadWriteOnce"],
                            storage_class_name=storage_class_name,
                            resources=k8s.core.v1.VolumeResourceRequirementsArgs(
                                requests={"storage": swarm.storage}
                            ),
                        ),
                    )
                ],
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[namespace, service]),
        )
        return namespace_name_output

    def _affinity(self, swarm: Swarm) -> Optional[k8s.core.v1.AffinityArgs]:
        """Require a node of the swarm's pool, or of any pool when it names none."""
        if not self._pool_label:
            return None
        if swarm.pool:
            requirement = k8s.core.v1.NodeSelectorRequirementArgs(key=self._pool_label, operator="In", values=[swarm.pool])
        else:
            requirement = k8s.core.v1.NodeSelectorRequirementArgs(key=self._pool_label, operator="Exists")
        return k8s.core.v1.AffinityArgs(
            node_affinity=k8s.core.v1.NodeAffinityArgs(
                required_during_scheduling_ignored_during_execution=k8s.core.v1.NodeSelectorArgs(
                    node_selector_terms=[k8s.core.v1.NodeSelectorTermArgs(match_expressions=[requirement])]
                )
            )
        )

    def _pod_spec(self, swarm: Swarm, keys: k8s.core.v1.ConfigMap) -> k8s.core.v1.PodSpecArgs:
        resources = {"cpu": swarm.cpu, "memory": swarm.memory}
        environment = {
            "SWARM_ID": swarm.name,
            "SWARM_MASTER": container_dns_name(swarm, 0),
            # Read by linuxserver/openssh-server and images that follow its
            # conventions; other images can read the same files directly.
            "USER_NAME": swarm.ssh_user,
            "PUBLIC_KEY_FILE": f"{AUTHORIZED_KEYS_DIR}/authorized_keys",
            "PASSWORD_ACCESS": "false",
            "SUDO_ACCESS": "false",
        }
        env = [k8s.core.v1.EnvVarArgs(name=key, value=value) for key, value in environment.items()]
        env.append(
            k8s.core.v1.EnvVarArgs(
                name="SWARM_NODE_ID",
                value_from=k8s.core.v1.EnvVarSourceArgs(
                    field_ref=k8s.core.v1.ObjectFieldSelectorArgs(
                        field_path=f"metadata.labels['{_POD_INDEX_LABEL}']"
                    )
                ),
            )
        )
        affinity = self._affinity(swarm)
        tolerations = [
            k8s.core.v1.TolerationArgs(key=taint.key, operator="Equal", value=taint.value, effect=taint.effect)
            for taint in self._pool_taints.get(swarm.pool or "", [])
        ]
        return k8s.core.v1.PodSpecArgs(
            affinity=affinity,
            tolerations=tolerations or None,
            automount_service_account_token=False,
            enable_service_links=False,
            security_context=k8s.core.v1.PodSecurityContextArgs(
                seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
            ),
            containers=[
                k8s.core.v1.ContainerArgs(
                    name="workspace",
                    image=swarm.image,
                    env=env,
                    ports=[k8s.core.v1.ContainerPortArgs(name="ssh", container_port=swarm.ssh_port)],
                    resources=k8s.core.v1.ResourceRequirementsArgs(requests=resources, limits=resources),
                    readiness_probe=k8s.core.v1.ProbeArgs(
                        tcp_socket=k8s.core.v1.TCPSocketActionArgs(port="ssh"),
                        period_seconds=10,
                    ),
                    # Restarts a container whose sshd stopped accepting
                    # connections. The long delay leaves the image's first
                    # start time to set up.
                    liveness_probe=k8s.core.v1.ProbeArgs(
                        tcp_socket=k8s.core.v1.TCPSocketActionArgs(port="ssh"),
                        initial_delay_seconds=120,
                        period_seconds=30,
                        failure_threshold=4,
                    ),
                    security_context=k8s.core.v1.SecurityContextArgs(
                        privileged=False,
                        allow_privilege_escalation=False,
                        capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"], add=list(CONTAINER_CAPABILITIES)),
                    ),
                    volume_mounts=[
                        k8s.core.v1.VolumeMountArgs(name="workspace", mount_path=swarm.workspace_path),
                        k8s.core.v1.VolumeMountArgs(name="ssh-keys", mount_path=AUTHORIZED_KEYS_DIR, read_only=True),
                    ],
                )
            ],
            volumes=[
                k8s.core.v1.VolumeArgs(
                    name="ssh-keys",
                    config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(name=keys.metadata.name),
                )
            ],
        )
