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
# K3s comes from its official install script, pinned to a release tag through
# INSTALL_K3S_VERSION, so every node of a stack runs the same version.
BOOTSTRAP_SCRIPT = """\
#!/bin/sh
# Install K3s as a server or an agent once the private network interface is up.
# Usage: swarm-k3s-bootstrap server|agent K3S_VERSION PRIVATE_IP
set -eu

role="$1"
version="$2"
private_ip="$3"
config=/etc/rancher/k3s/config.yaml

interface=""
attempt=0
while [ -z "$interface" ]; do
  interface=$(ip -o -4 addr show | awk -v ip="$private_ip" 'index($4, ip "/") == 1 { print $2; exit }')
  if [ -z "$interface" ]; then
    attempt=$((attempt + 1))
    if [ "$attempt" -ge 120 ]; then
      echo "swarm-k3s-bootstrap: no interface has $private_ip after 120 attempts" >&2
      exit 1
    fi
    sleep 2
  fi
done

if ! grep -q '^flannel-iface:' "$config"; then
  printf 'flannel-iface: %s\\n' "$interface" >> "$config"
fi

installer=$(mktemp)
trap 'rm -f "$installer"' EXIT
curl --fail --silent --show-error --location --retry 10 --retry-delay 5 --output "$installer" \\
  https://get.k3s.io
INSTALL_K3S_VERSION="$version" INSTALL_K3S_EXEC="$role" sh "$installer"
"""


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
    private_ip: str
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


def k3s_config(node: K3sNode) -> dict:
    """Build the content of /etc/rancher/k3s/config.yaml for one node."""
    config: dict = {"token": node.token, "node-ip": node.private_ip}
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
        "runcmd": [[BOOTSTRAP_PATH, node.role, node.k3s_version, node.private_ip]],
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


class _BlockStyleDumper(yaml.SafeDumper):
    """A YAML dumper that writes multi-line strings as literal blocks, readable in a diff."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockStyleDumper.add_representer(str, _represent_str)
