"""`SshEntry`: one SSH jump host in the cluster that reaches every container of every swarm.

A Hetzner lb11 has 5 services and 25 targets, so one load balancer service per
container does not scale. Instead the load balancer forwards one port to this
jump host, and clients reach a container with `ProxyJump`. The jump host
allows no shell, and each key may open forwards only to the containers of the
swarms that list it (`permitopen` in authorized_keys), so one swarm's keys
never open another swarm's containers.
"""

from __future__ import annotations

from typing import Optional

import pulumi
import pulumi_kubernetes as k8s
import pulumi_tls as tls

from components.swarm_workloads import SSH_ENTRY_NAMESPACE, container_dns_name
from stacks.config import DEFAULT_SWARM_IMAGE, Swarm

JUMP_PORT = 2222

# The jump host runs sshd as a non-root user, and a non-root sshd can only log
# in the user it runs as: uid 911 is "abc" in the linuxserver base images.
# NOTE: checked against the image's documented user, not on a running cluster.
JUMP_IMAGE = DEFAULT_SWARM_IMAGE
JUMP_USER = "abc"
JUMP_UID = 911

_CONFIG_DIR = "/etc/swarm-jump/config"
_HOST_KEY_DIR = "/etc/swarm-jump/host-key"
_RUNTIME_DIR = "/tmp/sshd"

SSHD_CONFIG = f"""\
Port {JUMP_PORT}
HostKey {_RUNTIME_DIR}/ssh_host_ed25519_key
PidFile none
AuthorizedKeysFile {_CONFIG_DIR}/authorized_keys
StrictModes no
AllowUsers {JUMP_USER}
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
PermitTTY no
AllowTcpForwarding local
AllowAgentForwarding no
AllowStreamLocalForwarding no
X11Forwarding no
PermitTunnel no
GatewayPorts no
ClientAliveInterval 30
LogLevel VERBOSE
"""

# sshd rejects a host key that others can read, and Secret volumes are not
# owned by the non-root user, so the key is copied with mode 600 first.
_START_SSHD = (
    f"mkdir -p {_RUNTIME_DIR} && "
    f"cp {_HOST_KEY_DIR}/ssh_host_ed25519_key {_RUNTIME_DIR}/ssh_host_ed25519_key && "
    f"chmod 600 {_RUNTIME_DIR}/ssh_host_ed25519_key && "
    f"exec /usr/sbin/sshd -D -e -f {_CONFIG_DIR}/sshd_config"
)


def render_jump_authorized_keys(swarms: list[Swarm]) -> str:
    """Render the jump host's authorized_keys: each key may forward only to its swarms' containers.

    sshd uses the first line that matches a key, so a key listed by several
    swarms gets one line with the containers of all of them.
    """
    destinations: dict[str, list[str]] = {}
    for swarm in swarms:
        for key in swarm.ssh_public_keys:
            key_id = " ".join(key.split()[:2])
            targets = destinations.setdefault(key_id, [])
            targets += [f"{container_dns_name(swarm, n)}:{swarm.ssh_port}" for n in range(swarm.running_replicas)]

    lines = []
    for key_id, targets in destinations.items():
        if not targets:
            continue
        permits = ",".join(f'permitopen="{target}"' for target in targets)
        lines.append(f'restrict,port-forwarding,command="/bin/false",{permits} {key_id}')
    return "\n".join(lines) + "\n"


def jump_host_config_data(swarms: list[Swarm]) -> dict[str, str]:
    """Return the data of the jump host's ConfigMap: its sshd_config and authorized_keys."""
    return {"sshd_config": SSHD_CONFIG, "authorized_keys": render_jump_authorized_keys(swarms)}


def render_ssh_config(jump_alias: str, jump_host: str, jump_port: int, swarms: list[Swarm]) -> str:
    """Render the ssh_config block that makes `ssh <swarm>-<n>` reach each container."""
    lines = [
        f"# SwarmContainers of {jump_alias}: append to ~/.ssh/config",
        f"Host {jump_alias}",
        f"  HostName {jump_host}",
        f"  Port {jump_port}",
        f"  User {JUMP_USER}",
        f"  HostKeyAlias {jump_alias}",
        "",
    ]
    for swarm in swarms:
        for ordinal in range(swarm.running_replicas):
            lines += [
                f"Host {swarm.name}-{ordinal}",
                f"  HostName {container_dns_name(swarm, ordinal)}",
                f"  Port {swarm.ssh_port}",
                f"  User {swarm.ssh_user}",
                f"  ProxyJump {jump_alias}",
                "",
            ]
    return "\n".join(lines)


class SshEntry(pulumi.ComponentResource):
    """The jump host: its namespace, host key, sshd config, Deployment and NodePort Service.

    Outputs:
        host_public_key: the jump host's ed25519 public key, for known_hosts.
        load_balancer_host: IP or host name of the Service's load balancer, for service_type LoadBalancer.
    """

    host_public_key: pulumi.Output[str]
    load_balancer_host: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        swarms: list[Swarm],
        service_type: str = "NodePort",
        port: int = 22,
        node_port: Optional[int] = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("swarm:workloads:SshEntry", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        labels = {"app.kubernetes.io/name": "swarm-ssh-entry", "app.kubernetes.io/part-of": "swarm"}

        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=SSH_ENTRY_NAMESPACE,
                labels={
                    "app.kubernetes.io/part-of": "swarm",
                    "pod-security.kubernetes.io/enforce": "restricted",
                },
            ),
            opts=child,
        )
        in_namespace = pulumi.ResourceOptions(parent=self, depends_on=[namespace])

        # A host key kept in Pulumi state, so that the jump host keeps its
        # identity across restarts and users can pin it in known_hosts.
        host_key = tls.PrivateKey(f"{name}-host-key", algorithm="ED25519", opts=child)
        host_key_secret = k8s.core.v1.Secret(
            f"{name}-host-key-secret",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name="ssh-entry-host-key", namespace=SSH_ENTRY_NAMESPACE, labels=labels
            ),
            type="Opaque",
            string_data={"ssh_host_ed25519_key": pulumi.Output.secret(host_key.private_key_openssh)},
            opts=in_namespace,
        )
        sshd_config = k8s.core.v1.ConfigMap(
            f"{name}-config",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="ssh-entry", namespace=SSH_ENTRY_NAMESPACE, labels=labels),
            data=jump_host_config_data(swarms),
            opts=in_namespace,
        )

        k8s.networking.v1.NetworkPolicy(
            f"{name}-network-policy",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="ssh-entry", namespace=SSH_ENTRY_NAMESPACE, labels=labels),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=labels),
                policy_types=["Ingress", "Egress"],
                ingress=[
                    k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                        ports=[k8s.networking.v1.NetworkPolicyPortArgs(protocol="TCP", port=JUMP_PORT)]
                    )
                ],
                # The jump host only forwards to sshd in the swarms and looks
                # their names up in the cluster DNS.
                egress=[
                    k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                        to=[
                            k8s.networking.v1.NetworkPolicyPeerArgs(
                                namespace_selector=k8s.meta.v1.LabelSelectorArgs(match_labels={"app.kubernetes.io/part-of": "swarm"})
                            )
                        ],
                        ports=[
                            k8s.networking.v1.NetworkPolicyPortArgs(protocol="TCP", port=port_number)
                            for port_number in sorted({swarm.ssh_port for swarm in swarms})
                        ],
                    ),
                    k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                        to=[
                            k8s.networking.v1.NetworkPolicyPeerArgs(
                                namespace_selector=k8s.meta.v1.LabelSelectorArgs(
                                    match_labels={"kubernetes.io/metadata.name": "kube-system"}
                                )
                            )
                        ],
                        ports=[
                            k8s.networking.v1.NetworkPolicyPortArgs(protocol="UDP", port=53),
                            k8s.networking.v1.NetworkPolicyPortArgs(protocol="TCP", port=53),
                        ],
                    ),
                ],
            ),
            opts=in_namespace,
        )
        k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="ssh-entry", namespace=SSH_ENTRY_NAMESPACE, labels=labels),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=2,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=labels),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                    spec=self._pod_spec(host_key_secret, sshd_config),
                ),
            ),
            opts=in_namespace,
        )
        service = k8s.core.v1.Service(
            f"{name}-service",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="ssh-entry", namespace=SSH_ENTRY_NAMESPACE, labels=labels),
            spec=k8s.core.v1.ServiceSpecArgs(
                type=service_type,
                selector=labels,
                ports=[
                    k8s.core.v1.ServicePortArgs(
                        name="ssh", port=port, target_port=JUMP_PORT, node_port=node_port, protocol="TCP"
                    )
                ],
            ),
            opts=in_namespace,
        )

        self.host_public_key = host_key.public_key_openssh
        # The address that the cluster's load balancer support assigns, for
        # service_type LoadBalancer; unknown until the Service is ready.
        self.load_balancer_host = service.status.apply(_load_balancer_address)
        self.register_outputs({"host_public_key": self.host_public_key})

    def _pod_spec(self, host_key: k8s.core.v1.Secret, sshd_config: k8s.core.v1.ConfigMap) -> k8s.core.v1.PodSpecArgs:
        return k8s.core.v1.PodSpecArgs(
            automount_service_account_token=False,
            enable_service_links=False,
            security_context=k8s.core.v1.PodSecurityContextArgs(
                run_as_non_root=True,
                run_as_user=JUMP_UID,
                run_as_group=JUMP_UID,
                # Makes the mounted host key readable by the sshd user's group.
                fs_group=JUMP_UID,
                seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
            ),
            containers=[
                k8s.core.v1.ContainerArgs(
                    name="sshd",
                    image=JUMP_IMAGE,
                    command=["/bin/sh", "-c", _START_SSHD],
                    ports=[k8s.core.v1.ContainerPortArgs(name="ssh", container_port=JUMP_PORT)],
                    resources=k8s.core.v1.ResourceRequirementsArgs(
                        requests={"cpu": "50m", "memory": "64Mi"},
                        limits={"cpu": "500m", "memory": "256Mi"},
                    ),
                    readiness_probe=k8s.core.v1.ProbeArgs(
                        tcp_socket=k8s.core.v1.TCPSocketActionArgs(port="ssh"), period_seconds=10
                    ),
                    liveness_probe=k8s.core.v1.ProbeArgs(
                        tcp_socket=k8s.core.v1.TCPSocketActionArgs(port="ssh"), initial_delay_seconds=30, period_seconds=30
                    ),
                    security_context=k8s.core.v1.SecurityContextArgs(
                        allow_privilege_escalation=False,
                        read_only_root_filesystem=True,
                        capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
                    ),
                    volume_mounts=[
                        k8s.core.v1.VolumeMountArgs(name="config", mount_path=_CONFIG_DIR, read_only=True),
                        k8s.core.v1.VolumeMountArgs(name="host-key", mount_path=_HOST_KEY_DIR, read_only=True),
                        k8s.core.v1.VolumeMountArgs(name="runtime", mount_path="/tmp"),
                    ],
                )
            ],
            volumes=[
                k8s.core.v1.VolumeArgs(
                    name="config",
                    config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(name=sshd_config.metadata.name),
                ),
                k8s.core.v1.VolumeArgs(
                    name="host-key",
                    secret=k8s.core.v1.SecretVolumeSourceArgs(secret_name=host_key.metadata.name, default_mode=0o440),
                ),
                k8s.core.v1.VolumeArgs(name="runtime", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs()),
            ],
        )


def _load_balancer_address(status: Optional[k8s.core.v1.outputs.ServiceStatus]) -> str:
    ingress = status.load_balancer.ingress if status and status.load_balancer else None
    if not ingress:
        return ""
    return ingress[0].ip or ingress[0].hostname or ""
