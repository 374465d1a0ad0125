"""Cloud-init user data that turns a fresh Hetzner server into a K3s server or agent.

The functions here are pure: they take plain values and return the
`#cloud-config` text, so tests can validate every document with
`cloud-init schema` and the bootstrap script with shellcheck.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional

import yaml

BOOTSTRAP_PATH = "/usr/local/sbin/swarm-k3s-bootstrap"

# The taint of K3s servers in a cluster with agents, which keeps every pod
# that does not tolerate it off the control plane.
CONTROL_PLANE_TAINT_KEY = "CriticalAddonsOnly"
CONTROL_PLANE_TAINT = f"{CONTROL_PLANE_TAINT_KEY}=true:NoExecute"

# The bootstrap script waits for the private network interface, because
# Hetzner attaches it after boot has started, then pins flannel to it so that
# pod traffic stays on the private network instead of the public interface.
# A node that Pulumi creates passes its fixed private IP. An autoscaled node
# passes the subnet that Hetzner assigns its address from, and the script sets
# K3s's node-ip to the address it finds there.
# On autoscaled nodes the script also sets the kubelet's provider ID to
# hcloud://<server id>, with the id from Hetzner's metadata service. The
# cluster autoscaler's Hetzner provider finds the server of a node by that ID
# and ignores a node whose ID has another prefix, such as K3s's own k3s://
# (serverForNode in cluster-autoscaler/cloudprovider/hetzner/hetzner_manager.go).
# K3s comes from its official install script, pinned to a release tag through
# INSTALL_K3S_VERSION, so every node of a stack runs the same version.
BOOTSTRAP_SCRIPT = """\
#!/bin/sh
# Install K3s as a server or an agent once the private network interface is up.
# Usage: swarm-k3s-bootstrap server|agent K3S_VERSION PRIVATE_IP
#        swarm-k3s-bootstrap agent K3S_VERSION SUBNET_CIDR hcloud-provider-id
set -eu

role="$1"
version="$2"
address_range="$3"
provider_id="${4:-}"
config=/etc/rancher/k3s/config.yaml
metadata=http://169.254.169.254/hetzner/v1/metadata

case "$address_range" in
  */*) ;;
  *) address_range="$address_range/32" ;;
esac

# Prints the interface and the IPv4 address that lie in $address_range.
find_private_address() {
  ip -o -4 addr show | awk -v range="$address_range" '
    function to_number(dotted, parts) {
      split(dotted, parts, ".")
      return ((parts[1] * 256 + parts[2]) * 256 + parts[3]) * 256 + parts[4]
    }
    BEGIN {
      split(range, cidr, "/")
      block = 2 ^ (32 - cidr[2])
      target = int(to_number(cidr[1]) / block)
    }
    {
      split($4, address, "/")
      if (int(to_number(address[1]) / block) == target) { print $2, address[1]; exit }
    }'
}

found=""
attempt=0
while [ -z "$found" ]; do
  found=$(find_private_address)
  if [ -z "$found" ]; then
    attempt=$((attempt + 1))
    if [ "$attempt" -ge 120 ]; then
      echo "swarm-k3s-bootstrap: no interface has an address in $address_range after 120 attempts" >&2
      exit 1
    fi
    sleep 2
  fi
done
interface="${found% *}"
private_ip="${found#* }"

if ! grep -q '^node-ip:' "$config"; then
  printf 'node-ip: %s\\n' "$private_ip" >> "$config"
fi
if ! grep -q '^flannel-iface:' "$config"; then
  printf 'flannel-iface: %s\\n' "$interface" >> "$config"
fi

if [ "$provider_id" = hcloud-provider-id ] && ! grep -q '^kubelet-arg:' "$config"; then
  server_id=$(curl --fail --silent --show-error --retry 10 --retry-delay 2 "$metadata/instance-id")
  case "$server_id" in
    '' | *[!0-9]*)
      echo "swarm-k3s-bootstrap: the metadata service returned no server id: '$server_id'" >&2
      exit 1
      ;;
  esac
  printf 'kubelet-arg:\\n  - provider-id=hcloud://%s\\n' "$server_id" >> "$config"
fi

installer=$(mktemp)
trap 'rm -f "$installer"' EXIT
curl --fail --silent --show-error --location --retry 10 --retry-delay 5 --output "$installer" \\
  https://get.k3s.io
INSTALL_K3S_VERSION="$version" INSTALL_K3S_EXEC="$role" sh "$installer"
"""

# The argument that makes the bootstrap script set the hcloud provider ID.
HCLOUD_PROVIDER_ID = "hcloud-provider-id"


@dataclass(frozen=True)
class HostKey:
    """An SSH host key pair in OpenSSH format, so that clients can pin the server's identity."""

    private_openssh: str
    public_openssh: str


@dataclass(frozen=True)
class K3sNode:
    """The facts about one node and its cluster that its K3s config needs."""

    role: Literal["server", "agent"]
    k3s_version: str
    # The node's fixed private address, or None for an autoscaled agent,
    # whose address Hetzner assigns from `private_subnet` at boot.
    private_ip: Optional[str]
    # The server token for servers, the agent token for agents.
    token: str
    # Set on servers only: the token that agents join with. Agents never
    # receive the server token, so an agent's user data cannot join a server.
    agent_token: Optional[str] = None
    # The API address that joining nodes register with. None for the first
    # server, which initialises the cluster.
    join_url: Optional[str] = None
    cluster_init: bool = False
    tls_sans: tuple[str, ...] = ()
    public_ip: Optional[str] = None
    node_labels: tuple[str, ...] = ()
    node_taints: tuple[str, ...] = ()
    host_key: Optional[HostKey] = None
    private_subnet: Optional[str] = None

    def __post_init__(self) -> None:
        if (self.private_ip is None) == (self.private_subnet is None):
            raise ValueError("a K3s node needs either a fixed private_ip or the private_subnet of an autoscaled node")
        if self.role == "server" and self.private_ip is None:
            raise ValueError("a K3s server needs a fixed private_ip, because agents join it at that address")

    @property
    def autoscaled(self) -> bool:
        """Whether the cluster autoscaler creates this node, so that its address is known only at boot."""
        return self.private_subnet is not None


def k3s_config(node: K3sNode) -> dict:
    """Build the content of /etc/rancher/k3s/config.yaml for one node."""
    config: dict = {"token": node.token}
    if node.private_ip is not None:
        config["node-ip"] = node.private_ip
    if node.join_url:
        config["server"] = node.join_url
    if node.public_ip:
        config["node-external-ip"] = node.public_ip
    if node.node_labels:
        config["node-label"] = list(node.node_labels)
    if node.node_taints:
        config["node-taint"] = list(node.node_taints)

    if node.role == "server":
        if node.agent_token:
            config["agent-token"] = node.agent_token
        config["advertise-address"] = node.private_ip
        config["tls-san"] = list(node.tls_sans)
        if node.cluster_init:
            config["cluster-init"] = True
        # Traefik and ServiceLB are off because the stack brings its own
        # Hetzner load balancer, and local-storage is off so that the
        # Hetzner volume class is the only place workspaces can land.
        config["disable"] = ["traefik", "servicelb", "local-storage"]
        config["write-kubeconfig-mode"] = "0600"
        config["secrets-encryption"] = True

    return config


def render_user_data(node: K3sNode) -> str:
    """Render the #cloud-config document for one node."""
    document: dict = {
        "ssh_pwauth": False,
        "write_files": [
            {
                "path": "/etc/rancher/k3s/config.yaml",
                "permissions": "0600",
                "owner": "root:root",
                "content": yaml.safe_dump(k3s_config(node), sort_keys=False),
            },
            {
                "path": BOOTSTRAP_PATH,
                "permissions": "0755",
                "owner": "root:root",
                "content": BOOTSTRAP_SCRIPT,
            },
        ],
        "runcmd": [bootstrap_command(node)],
    }
    if node.host_key is not None:
        # Only the pinned ed25519 key, so the host identity that Pulumi
        # checks when it reads the kubeconfig is the one the server presents.
        document["ssh_deletekeys"] = True
        document["ssh_genkeytypes"] = ["ed25519"]
        document["ssh_keys"] = {
            "ed25519_private": node.host_key.private_openssh,
            "ed25519_public": node.host_key.public_openssh,
        }
    return "#cloud-config\n" + yaml.dump(document, Dumper=_BlockStyleDumper, sort_keys=False, width=4096)


def bootstrap_command(node: K3sNode) -> list[str]:
    """Return the runcmd entry that runs the bootstrap script for one node."""
    if node.autoscaled:
        return [BOOTSTRAP_PATH, node.role, node.k3s_version, node.private_subnet, HCLOUD_PROVIDER_ID]
    return [BOOTSTRAP_PATH, node.role, node.k3s_version, node.private_ip]


class _BlockStyleDumper(yaml.SafeDumper):
    """A YAML dumper that writes multi-line strings as literal blocks, readable in a diff."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockStyleDumper.add_representer(str, _represent_str)
