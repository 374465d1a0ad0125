"""`HetznerK3sCluster`: a K3s cluster on Hetzner Cloud, ready for the swarm workloads."""

from __future__ import annotations

import ipaddress
import itertools
from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_command as command
import pulumi_hcloud as hcloud
import pulumi_kubernetes as k8s
import pulumi_random as random
import pulumi_tls as tls

from components.hetzner_autoscaler import NODE_GROUP_LABEL, HetznerAutoscaler, NodeGroup, node_group_name
from components.hetzner_csi import HetznerCsiDriver
from components.k3s_cloud_init import CONTROL_PLANE_TAINT, HostKey, K3sNode, render_user_data
from components.k3s_upgrades import K3sUpgrades
from stacks import hetzner_facts
from stacks.config import HetznerConfig
from stacks.config_hetzner import WorkerPool
from stacks.config_pools import POOL_LABEL


# The node port of the SSH entry. The load balancer forwards its port 22 there
# over the private network, so the port needs no firewall rule.
SSH_NODE_PORT = 30022

# Control plane nodes get fixed private addresses so that agents and other
# servers can join before any server exists; agents follow from offset 20.
_SERVER_HOST_OFFSET = 10
_AGENT_HOST_OFFSET = 20
_LOAD_BALANCER_HOST_OFFSET = 254

# Waits for K3s to write the admin kubeconfig and for the API server to report
# ready, then prints the kubeconfig. It runs over SSH on the first server.
_READ_KUBECONFIG = """\
set -eu
cloud-init status --wait >/dev/null 2>&1 || true
attempt=0
until [ -s /etc/rancher/k3s/k3s.yaml ] && k3s kubectl get --raw=/readyz >/dev/null 2>&1; do
  attempt=$((attempt + 1))
  if [ "$attempt" -ge 180 ]; then
    echo "K3s API did not become ready within 15 minutes; see journalctl -u k3s" >&2
    exit 1
  fi
  sleep 5
done
cat /etc/rancher/k3s/k3s.yaml
"""


@dataclass(frozen=True)
class _NodeAddresses:
    """Private addresses of the nodes, derived from the network range."""

    subnet: str
    servers: list[str]
    agents: dict[str, list[str]]
    load_balancer: str
    # The subnet of autoscaled nodes, None without autoscaled pools.
    autoscaled_subnet: Optional[str] = None


def plan_addresses(config: HetznerConfig) -> _NodeAddresses:
    """Assign private IPs in one /24: the second /24 of the network, or the network itself if it is a /24.

    Autoscaled nodes get the third /24 as a subnet of their own, because
    Hetzner assigns their addresses, which could otherwise take a fixed
    address that a later `pulumi up` needs. The autoscaler attaches its
    servers to that subnet (defaultSubnetIPRange). For a server attached
    without an address, the API itself picks the network's last created
    subnet, as a Hetzner engineer wrote in the kubernetes/autoscaler issue
    tracker in 2023, and that is this subnet too unless one was added later.
    """
    network = ipaddress.ip_network(config.network_ip_range)
    subnet = next(itertools.islice(network.subnets(new_prefix=24), 1 if network.prefixlen < 24 else 0, None))

    def host(number: int) -> str:
        return str(subnet.network_address + number)

    servers = [host(_SERVER_HOST_OFFSET + i) for i in range(config.control_plane.count)]
    agents: dict[str, list[str]] = {}
    next_host = _AGENT_HOST_OFFSET
    for pool in config.workers:
        agents[pool.name] = [host(next_host + i) for i in range(pool.fixed_count)]
        next_host += pool.fixed_count
    # The config allows at most 100 servers, so agents end at .122 and never
    # reach the load balancer's address.
    autoscaled_subnet = None
    if config.autoscaled_pools:
        # The config requires a /22 or larger network with autoscaled pools.
        autoscaled_subnet = str(next(itertools.islice(network.subnets(new_prefix=24), 2, None)))
    return _NodeAddresses(str(subnet), servers, agents, host(_LOAD_BALANCER_HOST_OFFSET), autoscaled_subnet)


class HetznerK3sCluster(pulumi.ComponentResource):
    """A private network, a firewall, K3s servers and agents, a load balancer, the CSI driver and K3s upgrades.

    Outputs:
        kubeconfig: admin kubeconfig of the cluster, secret.
        provider: Kubernetes provider that targets the cluster once its API is ready.
        storage_class_name: storage class whose PVCs become Hetzner volumes.
        ssh_host: public IPv4 of the load balancer that carries the SSH entry.
        api_server_ip: public IPv4 of the first K3s server, where the Kubernetes API listens.
        admin_private_key: private key of root SSH on every node, secret.
    """

    kubeconfig: pulumi.Output[str]
    provider: k8s.Provider
    storage_class_name: pulumi.Output[str]
    ssh_host: pulumi.Output[str]
    api_server_ip: pulumi.Output[str]
    admin_private_key: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        config: HetznerConfig,
        admin_cidrs: list[str],
        hcloud_token: pulumi.Input[str],
        protect: bool = False,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Create the cluster; with `protect`, Pulumi refuses to delete its network, server IPs and K3s servers."""
        super().__init__("swarm:hetzner:K3sCluster", name, None, opts)
        # The resources whose loss takes the cluster's datastore or addresses with it.
        protected_child = pulumi.ResourceOptions(parent=self, protect=protect)
        child = pulumi.ResourceOptions(parent=self)
        addresses = plan_addresses(config)
        zone = hetzner_facts.network_zone(config.location)
        labels = {"swarm-cluster": name}

        # Network: one private network and one subnet in the zone of the location.
        network = hcloud.Network(
            f"{name}-network",
            ip_range=config.network_ip_range,
            labels=labels,
            opts=protected_child,
        )
        subnet = hcloud.NetworkSubnet(
            f"{name}-subnet",
            network_id=network.id.apply(int),
            type="cloud",
            network_zone=zone,
            ip_range=addresses.subnet,
            opts=protected_child,
        )
        # Hetzner assigns autoscaled servers an address in this subnet. It
        # contains only servers that the autoscaler replaces at will, so it is
        # not protected.
        autoscaled_subnet = None
        if addresses.autoscaled_subnet is not None:
            autoscaled_subnet = hcloud.NetworkSubnet(
                f"{name}-autoscaled-subnet",
                network_id=network.id.apply(int),
                type="cloud",
                network_zone=zone,
                ip_range=addresses.autoscaled_subnet,
                opts=child,
            )

        # Hetzner firewalls filter only the public interface; node-to-node and
        # load balancer traffic on the private network is not affected.
        firewall = hcloud.Firewall(
            f"{name}-firewall",
            labels=labels,
            rules=firewall_rules(admin_cidrs),
            opts=child,
        )

        # Pulumi's own SSH key: it reads the kubeconfig back from the first server.
        admin_key = tls.PrivateKey(f"{name}-admin-key", algorithm="ED25519", opts=child)
        hcloud_admin_key = hcloud.SshKey(
            f"{name}-admin-key",
            public_key=admin_key.public_key_openssh,
            labels=labels,
            opts=child,
        )
        token = random.RandomPassword(f"{name}-k3s-token", length=48, special=False, opts=child)
        agent_token = random.RandomPassword(f"{name}-k3s-agent-token", length=48, special=False, opts=child)

        # Servers: fixed public IPs first, because the API certificate must
        # name the address in the kubeconfig before K3s starts.
        server_ips = [
            hcloud.PrimaryIp(
                f"{name}-server-{index}-ipv4",
                type="ipv4",
                assignee_type="server",
                location=config.location,
                auto_delete=False,
                labels=labels,
                opts=protected_child,
            )
            for index in range(config.control_plane.count)
        ]
        server_placement = self._placement_groups(name, "server", config.control_plane.count, labels)
        join_url = f"https://{addresses.servers[0]}:6443"

        servers: list[hcloud.Server] = []
        host_keys: list[tls.PrivateKey] = []
        for index, private_ip in enumerate(addresses.servers):
            host_key = tls.PrivateKey(f"{name}-server-{index}-host-key", algorithm="ED25519", opts=child)
            host_keys.append(host_key)
            user_data = pulumi.Output.all(
                token.result,
                server_ips[index].ip_address,
                host_key.private_key_openssh,
                host_key.public_key_openssh,
                agent_token.result,
            ).apply(
                lambda values, index=index, private_ip=private_ip: render_user_data(
                    K3sNode(
                        role="server",
                        k3s_version=config.k3s_version,
                        private_ip=private_ip,
                        token=values[0],
                        agent_token=values[4],
                        join_url=None if index == 0 else join_url,
                        # Embedded etcd even on a single server, so that a
                        # later change to three servers can join it: the
                        # first server's user data is fixed at creation.
                        cluster_init=index == 0,
                        tls_sans=(values[1], private_ip),
                        public_ip=values[1],
                        # With agents present, workloads stay off the control
                        # plane so that swarms cannot starve etcd or the API server.
                        node_taints=(CONTROL_PLANE_TAINT,) if config.has_agents else (),
                        host_key=HostKey(values[2], values[3]),
                    )
                )
            )
            servers.append(
                self._server(
                    f"{name}-server-{index}",
                    config=config,
                    location=config.location,
                    server_type=config.control_plane.server_type,
                    private_ip=private_ip,
                    network=network,
                    subnet=subnet,
                    firewall=firewall,
                    ssh_key=hcloud_admin_key,
                    placement_group=server_placement[index // hetzner_facts.MAX_SERVERS_PER_PLACEMENT_GROUP],
                    public_ip=server_ips[index],
                    user_data=pulumi.Output.secret(user_data),
                    labels={**labels, "swarm-role": "server"},
                    protect=protect,
                )
            )

        # Agents: one group of servers per fixed worker pool, joining the
        # first server. Autoscaled pools get theirs from the autoscaler below.
        agents: list[hcloud.Server] = []
        for pool in config.workers:
            if pool.autoscale is not None:
                continue
            placement = self._placement_groups(name, f"{pool.name}-agent", pool.fixed_count, labels)
            for index, private_ip in enumerate(addresses.agents[pool.name]):
                user_data = agent_token.result.apply(
                    lambda secret, private_ip=private_ip, pool=pool: render_user_data(
                        K3sNode(
                            role="agent",
                            k3s_version=config.k3s_version,
                            private_ip=private_ip,
                            token=secret,
                            join_url=join_url,
                            node_labels=agent_labels(pool),
                            node_taints=agent_taints(pool),
                        )
                    )
                )
                agents.append(
                    self._server(
                        f"{name}-{pool.name}-{index}",
                        config=config,
                        location=pool.location or config.location,
                        server_type=pool.server_type,
                        private_ip=private_ip,
                        network=network,
                        subnet=subnet,
                        firewall=firewall,
                        ssh_key=hcloud_admin_key,
                        placement_group=placement[index // hetzner_facts.MAX_SERVERS_PER_PLACEMENT_GROUP],
                        public_ip=None,
                        user_data=pulumi.Output.secret(user_data),
                        labels={**labels, "swarm-role": "agent", "swarm-pool": pool.name},
                    )
                )

        # Load balancer: the one public entry for SSH into the swarm containers.
        load_balancer = hcloud.LoadBalancer(
            f"{name}-lb",
            load_balancer_type=config.load_balancer_type,
            location=config.location,
            labels=labels,
            opts=child,
        )
        load_balancer_network = hcloud.LoadBalancerNetwork(
            f"{name}-lb-network",
            load_balancer_id=load_balancer.id.apply(int),
            subnet_id=subnet.id,
            ip=addresses.load_balancer,
            opts=child,
        )
        hcloud.LoadBalancerTarget(
            f"{name}-lb-nodes",
            load_balancer_id=load_balancer.id.apply(int),
            type="label_selector",
            label_selector=f"swarm-cluster={name}",
            use_private_ip=True,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[load_balancer_network]),
        )
        # The pinned autoscaler labels its servers only with their node group,
        # not with swarm-cluster, so each autoscaled pool gets a target of its own.
        for pool in config.autoscaled_pools:
            hcloud.LoadBalancerTarget(
                f"{name}-lb-{pool.name}-nodes",
                load_balancer_id=load_balancer.id.apply(int),
                type="label_selector",
                label_selector=f"{NODE_GROUP_LABEL}={node_group_name(name, pool.name)}",
                use_private_ip=True,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[load_balancer_network]),
            )
        hcloud.LoadBalancerService(
            f"{name}-lb-ssh",
            load_balancer_id=load_balancer.id,
            protocol="tcp",
            listen_port=22,
            destination_port=SSH_NODE_PORT,
            health_check=hcloud.LoadBalancerServiceHealthCheckArgs(
                protocol="tcp", port=SSH_NODE_PORT, interval=10, timeout=5, retries=3
            ),
            opts=child,
        )

        # Cluster credentials: read back over SSH rather than pre-generating
        # the cluster CAs with pulumi-tls. K3s then creates and keeps its own
        # CAs, so no CA private key travels in user data, which Hetzner serves
        # to any process on the server through its metadata service. The read
        # also returns only once the API server is ready, so every Kubernetes
        # resource below waits for a cluster that responds.
        api_server_ip = server_ips[0].ip_address
        read_kubeconfig = command.remote.Command(
            f"{name}-read-kubeconfig",
            connection=command.remote.ConnectionArgs(
                host=api_server_ip,
                user="root",
                private_key=admin_key.private_key_openssh,
                host_key=host_keys[0].public_key_openssh,
                dial_error_limit=60,
                per_dial_timeout=30,
            ),
            create=_READ_KUBECONFIG,
            add_previous_output_in_env=False,
            logging=command.remote.Logging.STDERR,
            triggers=[servers[0].id],
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=servers,
                additional_secret_outputs=["stdout"],
            ),
        )
        kubeconfig = pulumi.Output.secret(
            pulumi.Output.all(read_kubeconfig.stdout, api_server_ip).apply(
                lambda values: values[0].replace("https://127.0.0.1:6443", f"https://{values[1]}:6443")
            )
        )
        provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=kubeconfig,
            opts=pulumi.ResourceOptions(parent=self, depends_on=agents),
        )

        # Storage: the Hetzner CSI driver turns PVCs into Hetzner volumes.
        csi = HetznerCsiDriver(
            f"{name}-csi",
            hcloud_token=hcloud_token,
            location=config.location,
            opts=pulumi.ResourceOptions(parent=self, providers=[provider]),
        )

        # Upgrades: a new k3sVersion reaches running nodes through the
        # system-upgrade-controller's Plans, because no server takes new
        # user data after it is created.
        K3sUpgrades(
            f"{name}-upgrades",
            k3s_version=config.k3s_version,
            opts=pulumi.ResourceOptions(parent=self, providers=[provider]),
        )

        # Autoscaled pools: the cluster autoscaler creates and deletes their servers.
        # NOTE: Pulumi does not know those servers. Removing an autoscaled pool,
        # or destroying the stack, leaves them running and billed, and Hetzner
        # may reject deleting the firewall or placement group they still use.
        if config.autoscaled_pools:
            assert addresses.autoscaled_subnet is not None and autoscaled_subnet is not None
            HetznerAutoscaler(
                f"{name}-autoscaler",
                node_groups=[
                    self._node_group(name, config, pool, addresses.autoscaled_subnet, join_url, agent_token, labels)
                    for pool in config.autoscaled_pools
                ],
                hcloud_token=hcloud_token,
                image=config.image,
                network_id=network.id,
                subnet_ip_range=autoscaled_subnet.ip_range,
                firewall_id=firewall.id,
                ssh_key_id=hcloud_admin_key.id,
                opts=pulumi.ResourceOptions(parent=self, providers=[provider]),
            )

        self.kubeconfig = kubeconfig
        self.provider = provider
        self.storage_class_name = csi.storage_class_name
        self.ssh_host = load_balancer.ipv4
        self.api_server_ip = api_server_ip
        self.admin_private_key = pulumi.Output.secret(admin_key.private_key_openssh)
        self.register_outputs(
            {
                "kubeconfig": kubeconfig,
                "storage_class_name": csi.storage_class_name,
                "ssh_host": load_balancer.ipv4,
                "api_server_ip": api_server_ip,
            }
        )

    def _placement_groups(
        self, name: str, role: str, count: int, labels: dict[str, str]
    ) -> list[hcloud.PlacementGroup]:
        """Create spread placement groups for `count` servers, at most 10 servers per group."""
        return [
            hcloud.PlacementGroup(
                f"{name}-{role}-spread-{group}",
                type="spread",
                labels=labels,
                opts=pulumi.ResourceOptions(parent=self),
            )
            for group in range(hetzner_facts.placement_groups_needed(count))
        ]

    def _node_group(
        self,
        name: str,
        config: HetznerConfig,
        pool: WorkerPool,
        subnet: str,
        join_url: str,
        agent_token: random.RandomPassword,
        labels: dict[str, str],
    ) -> NodeGroup:
        """Describe an autoscaled pool to the autoscaler, with its user data and its placement group."""
        assert pool.autoscale is not None
        user_data = agent_token.result.apply(
            lambda secret: render_user_data(
                K3sNode(
                    role="agent",
                    k3s_version=config.k3s_version,
                    private_ip=None,
                    private_subnet=subnet,
                    token=secret,
                    join_url=join_url,
                    node_labels=agent_labels(pool),
                    node_taints=agent_taints(pool),
                )
            )
        )
        # The autoscaler puts a node group in at most one placement group and
        # stops at startup when a group's pools may grow past 10 servers, so
        # larger pools are not spread.
        placement_group_id = None
        if pool.placement_groups:
            (placement_group,) = self._placement_groups(name, f"{pool.name}-agent", pool.autoscale.max, labels)
            placement_group_id = placement_group.id
        return NodeGroup(
            name=node_group_name(name, pool.name),
            server_type=pool.server_type,
            location=pool.location or config.location,
            min_size=pool.autoscale.min,
            max_size=pool.autoscale.max,
            user_data=pulumi.Output.secret(user_data),
            node_labels={**pool.labels, POOL_LABEL: pool.name},
            placement_group_id=placement_group_id,
            node_taints=tuple({"key": taint.key, "value": taint.value, "effect": taint.effect} for taint in pool.taints),
        )

    def _server(
        self,
        server_name: str,
        *,
        config: HetznerConfig,
        location: str,
        server_type: str,
        private_ip: str,
        network: hcloud.Network,
        subnet: hcloud.NetworkSubnet,
        firewall: hcloud.Firewall,
        ssh_key: hcloud.SshKey,
        placement_group: hcloud.PlacementGroup,
        public_ip: hcloud.PrimaryIp | None,
        user_data: pulumi.Output[str],
        labels: dict[str, str],
        protect: bool = False,
    ) -> hcloud.Server:
        public_net = hcloud.ServerPublicNetArgs(ipv4_enabled=True, ipv6_enabled=True)
        if public_ip is not None:
            public_net = hcloud.ServerPublicNetArgs(
                ipv4_enabled=True, ipv4=public_ip.id.apply(int), ipv6_enabled=True
            )
        return hcloud.Server(
            server_name,
            name=server_name,
            server_type=server_type,
            image=config.image,
            location=location,
            ssh_keys=[ssh_key.id],
            firewall_ids=[firewall.id.apply(int)],
            placement_group_id=placement_group.id.apply(int),
            public_nets=[public_net],
            networks=[
                hcloud.ServerNetworkArgs(network_id=network.id.apply(int), ip=private_ip, alias_ips=[])
            ],
            user_data=user_data,
            labels=labels,
            # An agent's disk keeps its size when its type changes, so that
            # `sizing: auto` can move a pool to a smaller type later: Hetzner
            # cannot shrink a disk that a larger type grew.
            keep_disk=public_ip is None,
            opts=pulumi.ResourceOptions(
                parent=self,
                protect=protect,
                depends_on=[subnet],
                # A changed cloud-init template, image or key list must never
                # replace a running node: replacing a K3s server destroys its
                # share of the cluster datastore, and Hetzner can only apply
                # these inputs by rebuilding the server.
                ignore_changes=["user_data", "image", "ssh_keys"],
            ),
        )


def agent_labels(pool: WorkerPool) -> tuple[str, ...]:
    """Return the K3s `node-label` options of a pool's agents: the pool label and the pool's own labels."""
    return (f"{POOL_LABEL}={pool.name}", *(f"{key}={value}" for key, value in pool.labels.items()))


def agent_taints(pool: WorkerPool) -> tuple[str, ...]:
    """Return the K3s `node-taint` options of a pool's agents."""
    return tuple(taint.as_k3s_flag() for taint in pool.taints)


def firewall_rules(admin_cidrs: list[str]) -> list[hcloud.FirewallRuleArgs]:
    """Build the inbound rules of the nodes' firewall: SSH and the Kubernetes API from the admin CIDRs, and ICMP."""
    return [
        hcloud.FirewallRuleArgs(
            direction="in", protocol="tcp", port="22", source_ips=admin_cidrs,
            description="node SSH from admin CIDRs",
        ),
        hcloud.FirewallRuleArgs(
            direction="in", protocol="tcp", port="6443", source_ips=admin_cidrs,
            description="Kubernetes API from admin CIDRs",
        ),
        hcloud.FirewallRuleArgs(
            direction="in", protocol="icmp", source_ips=["0.0.0.0/0", "::/0"],
            description="ICMP for path MTU discovery and ping",
        ),
    ]

