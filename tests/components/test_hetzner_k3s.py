"""Resource checks of HetznerK3sCluster, from the program run under mocks."""

from __future__ import annotations

import yaml

from stacks.plan import SECRET, UNKNOWN, Plan, run_plan
from tests.conftest import dev_config
from tests.engine import FAKE_TOKEN, LOAD_BALANCER_IPV4, ApplyMocks

SERVER = "hcloud:index/server:Server"
CLUSTER_URN = "urn:pulumi:dev::swarm::swarm:hetzner:K3sCluster::swarm-dev"


def user_data_of(plan: Plan, name: str) -> dict:
    return yaml.safe_load(plan.named(name).raw_inputs["userData"])


def k3s_config_of(plan: Plan, name: str) -> dict:
    files = {item["path"]: item for item in user_data_of(plan, name)["write_files"]}
    return yaml.safe_load(files["/etc/rancher/k3s/config.yaml"]["content"])


def test_dev_registers_network_and_subnet(dev_preview):
    network = dev_preview.named("swarm-dev-network")
    subnet = dev_preview.named("swarm-dev-subnet")

    assert network.inputs["ipRange"] == "10.0.0.0/16"
    assert subnet.inputs["networkZone"] == "eu-central"
    assert subnet.inputs["ipRange"] == "10.0.1.0/24"
    assert subnet.inputs["type"] == "cloud"
    assert network.parent == CLUSTER_URN


def test_network_zone_follows_location(write_stack):
    config = dev_config()
    config["swarm:hetzner"]["location"] = "ash"

    plan = run_plan(str(write_stack(config)))

    assert plan.named("swarm-test-subnet").inputs["networkZone"] == "us-east"
    assert plan.named("swarm-test-lb").inputs["location"] == "ash"


def test_firewall_closes_api_and_ssh_to_world(dev_preview):
    rules = dev_preview.named("swarm-dev-firewall").inputs["rules"]
    by_port = {rule.get("port"): rule for rule in rules}

    assert by_port["22"]["sourceIps"] == ["203.0.113.7/32"]
    assert by_port["6443"]["sourceIps"] == ["203.0.113.7/32"]
    for rule in rules:
        if rule["protocol"] in ("tcp", "udp"):
            assert "0.0.0.0/0" not in rule["sourceIps"]
            assert "::/0" not in rule["sourceIps"]


def test_dev_registers_one_server_and_two_agents(dev_preview):
    servers = {resource.name: resource for resource in dev_preview.of_type(SERVER)}

    assert set(servers) == {"swarm-dev-server-0", "swarm-dev-general-0", "swarm-dev-general-1"}
    assert servers["swarm-dev-server-0"].inputs["serverType"] == "cx23"
    assert servers["swarm-dev-general-0"].inputs["serverType"] == "cx33"
    assert servers["swarm-dev-server-0"].inputs["labels"]["swarm-role"] == "server"
    assert servers["swarm-dev-general-1"].inputs["labels"]["swarm-pool"] == "general"
    for server in servers.values():
        assert server.inputs["location"] == "fsn1"
        assert server.inputs["name"] == server.name
        assert server.inputs["placementGroupId"] == UNKNOWN


def test_servers_sit_on_private_network(dev_preview):
    addresses = {
        resource.name: resource.inputs["networks"][0]["ip"] for resource in dev_preview.of_type(SERVER)
    }

    assert addresses == {
        "swarm-dev-server-0": "10.0.1.10",
        "swarm-dev-general-0": "10.0.1.20",
        "swarm-dev-general-1": "10.0.1.21",
    }


def test_user_data_is_secret(dev_preview):
    for server in dev_preview.of_type(SERVER):
        assert server.inputs["userData"] == SECRET
        assert "userData" in server.secret_inputs


def test_servers_ignore_replacing_inputs(dev_preview):
    for server in dev_preview.of_type(SERVER):
        assert set(server.ignore_changes) >= {"userData", "image", "sshKeys"}


def test_k3s_server_config_uses_private_network(dev_applied):
    config = k3s_config_of(dev_applied, "swarm-dev-server-0")

    assert config["token"] == f"{FAKE_TOKEN}-swarm-dev-k3s-token"
    assert config["agent-token"] == f"{FAKE_TOKEN}-swarm-dev-k3s-agent-token"
    assert config["node-ip"] == "10.0.1.10"
    assert config["advertise-address"] == "10.0.1.10"
    assert "server" not in config
    assert config["cluster-init"] is True
    assert config["tls-san"][0] == config["node-external-ip"]
    assert "CriticalAddonsOnly=true:NoExecute" in config["node-taint"]


def test_agents_join_first_server(dev_applied):
    config = k3s_config_of(dev_applied, "swarm-dev-general-1")

    assert config["server"] == "https://10.0.1.10:6443"
    assert config["token"] == f"{FAKE_TOKEN}-swarm-dev-k3s-agent-token"
    assert config["node-ip"] == "10.0.1.21"
    assert config["node-label"] == ["swarm.pool=general"]


def test_ha_control_plane_initialises_etcd_once(write_stack):
    config = dev_config()
    config["swarm:hetzner"]["controlPlane"]["count"] = 3

    plan = run_plan(str(write_stack(config)), engine=ApplyMocks())
    first = k3s_config_of(plan, "swarm-test-server-0")
    others = [k3s_config_of(plan, f"swarm-test-server-{index}") for index in (1, 2)]

    assert first["cluster-init"] is True
    assert "server" not in first
    for other in others:
        assert other["server"] == "https://10.0.1.10:6443"
        assert "cluster-init" not in other
    assert len(plan.of_type("hcloud:index/primaryIp:PrimaryIp")) == 3


def test_control_plane_untainted_without_agents(write_stack):
    config = dev_config()
    config["swarm:hetzner"]["workers"] = []
    # The one server carries the three containers of 2 GiB too.
    config["swarm:hetzner"]["controlPlane"]["serverType"] = "cx43"

    plan = run_plan(str(write_stack(config)), engine=ApplyMocks())

    assert "node-taint" not in k3s_config_of(plan, "swarm-test-server-0")


def test_placement_groups_hold_at_most_ten(write_stack):
    config = dev_config()
    config["swarm:hetzner"]["workers"] = [{"name": "big", "serverType": "cx33", "count": 25}]
    # 26 servers are more targets than lb11 takes.
    config["swarm:hetzner"]["loadBalancerType"] = "lb21"

    plan = run_plan(str(write_stack(config)))
    groups = [
        resource.name
        for resource in plan.of_type("hcloud:index/placementGroup:PlacementGroup")
        if "-big-" in resource.name
    ]

    assert len(groups) == 3
    assert all(resource.inputs["type"] == "spread" for resource in plan.of_type("hcloud:index/placementGroup:PlacementGroup"))


def test_load_balancer_forwards_ssh_on_private_network(dev_preview):
    balancer = dev_preview.named("swarm-dev-lb")
    attachment = dev_preview.named("swarm-dev-lb-network")
    target = dev_preview.named("swarm-dev-lb-nodes")
    service = dev_preview.named("swarm-dev-lb-ssh")

    assert balancer.inputs["loadBalancerType"] == "lb11"
    assert attachment.inputs["ip"] == "10.0.1.254"
    assert target.inputs["type"] == "label_selector"
    assert target.inputs["labelSelector"] == "swarm-cluster=swarm-dev"
    assert target.inputs["usePrivateIp"] is True
    assert service.inputs["listenPort"] == 22
    assert service.inputs["destinationPort"] == 30022
    assert service.inputs["healthCheck"]["port"] == 30022


def test_only_one_load_balancer_service(dev_preview):
    assert len(dev_preview.of_type("hcloud:index/loadBalancerService:LoadBalancerService")) == 1
    assert len(dev_preview.of_type("hcloud:index/loadBalancer:LoadBalancer")) == 1


def test_kubeconfig_read_back_stays_secret(dev_preview):
    read = dev_preview.named("swarm-dev-read-kubeconfig")
    provider = dev_preview.named("swarm-dev-k8s")

    assert "stdout" in read.additional_secret_outputs
    assert read.inputs["logging"] == "stderr"
    assert read.inputs["addPreviousOutputInEnv"] is False
    assert read.inputs["connection"] == SECRET
    assert provider.inputs["kubeconfig"] == SECRET
    assert dev_preview.outputs["kubeconfig"] == SECRET


def test_kubeconfig_read_pins_server_host_key(dev_applied):
    connection = dev_applied.named("swarm-dev-read-kubeconfig").raw_inputs["connection"]
    host_keys = user_data_of(dev_applied, "swarm-dev-server-0")["ssh_keys"]

    assert connection["user"] == "root"
    assert connection["hostKey"] == host_keys["ed25519_public"]
    assert connection["host"] == k3s_config_of(dev_applied, "swarm-dev-server-0")["node-external-ip"]


def test_kubeconfig_points_at_server_public_ip(dev_applied):
    kubeconfig = dev_applied.named("swarm-dev-k8s").raw_inputs["kubeconfig"]
    server_ip = k3s_config_of(dev_applied, "swarm-dev-server-0")["node-external-ip"]

    assert f"server: https://{server_ip}:6443" in kubeconfig
    assert "127.0.0.1" not in kubeconfig


def test_kubernetes_resources_use_cluster_provider(dev_preview):
    provider_urn = dev_preview.named("swarm-dev-k8s").urn
    kubernetes = [resource for resource in dev_preview.resources if resource.type.startswith("kubernetes:")]

    assert kubernetes
    for resource in kubernetes:
        assert resource.provider.startswith(provider_urn + "::"), resource.name


def test_csi_driver_and_retaining_storage_class(dev_preview):
    release = dev_preview.named("swarm-dev-csi-release")
    token = dev_preview.named("swarm-dev-csi-token")
    storage_class = dev_preview.named("swarm-dev-csi-storage-class")

    assert release.inputs["chart"] == "hcloud-csi"
    assert release.inputs["repositoryOpts"]["repo"] == "https://charts.hetzner.cloud"
    assert release.inputs["values"]["storageClasses"] == []
    assert token.inputs["metadata"] == {"name": "hcloud", "namespace": "kube-system"}
    assert token.inputs["stringData"] == SECRET
    assert storage_class.inputs["provisioner"] == "csi.hetzner.cloud"
    assert storage_class.inputs["reclaimPolicy"] == "Retain"
    assert storage_class.inputs["volumeBindingMode"] == "WaitForFirstConsumer"


def test_child_names_derive_from_component_name(dev_preview):
    for resource in dev_preview.resources:
        assert resource.name.startswith("swarm-dev"), resource.name


def test_ssh_host_is_load_balancer_address(dev_applied):
    assert dev_applied.outputs["ssh_host"] == LOAD_BALANCER_IPV4


def test_secret_outputs_stay_secret(dev_applied):
    assert dev_applied.outputs["kubeconfig"] == SECRET
    assert dev_applied.outputs["node_ssh_private_key"] == SECRET


def test_agents_get_only_agent_token(dev_applied):
    server = k3s_config_of(dev_applied, "swarm-dev-server-0")
    agent = k3s_config_of(dev_applied, "swarm-dev-general-0")
    agent_user_data = dev_applied.named("swarm-dev-general-0").raw_inputs["userData"]

    assert agent["token"] == server["agent-token"]
    assert server["token"] not in agent_user_data
    assert server["token"] != server["agent-token"]


def test_firewall_keeps_node_ports_closed(dev_preview):
    for rule in dev_preview.named("swarm-dev-firewall").inputs["rules"]:
        port = rule.get("port")
        if port is None:
            continue
        assert port != "any"
        low, _, high = port.partition("-")
        assert not (int(low) <= 32767 and int(high or low) >= 30000), port


def test_every_credential_output_is_secret(dev_applied):
    for name, value in dev_applied.outputs.items():
        if any(word in name for word in ("kubeconfig", "key", "token", "password")) and name != "ssh_known_hosts":
            assert value == SECRET, name


def test_credential_inputs_are_secret(dev_preview):
    expected = {
        "swarm-dev-read-kubeconfig": "connection",
        "swarm-dev-k8s": "kubeconfig",
        "swarm-dev-csi-token": "stringData",
        "swarm-dev-ssh-host-key-secret": "stringData",
        "swarm-dev-server-0": "userData",
    }
    for name, key in expected.items():
        assert key in dev_preview.named(name).secret_inputs, name


def test_firewall_opens_only_admin_ports(dev_preview):
    rules = dev_preview.named("swarm-dev-firewall").inputs["rules"]
    opened = {rule["port"] for rule in rules if rule["protocol"] in ("tcp", "udp")}

    assert opened == {"22", "6443"}
    for rule in rules:
        if rule["protocol"] in ("tcp", "udp"):
            assert rule["sourceIps"] == ["203.0.113.7/32"]


def test_agent_pool_labels_and_taints(write_stack):
    config = dev_config()
    config["swarm:hetzner"]["workers"].append(
        {
            "name": "gpu",
            "serverType": "cx43",
            "count": 1,
            "labels": {"example.com/team": "ml"},
            "taints": [{"key": "dedicated", "value": "ml", "effect": "NoExecute"}, {"key": "spare"}],
        }
    )

    plan = run_plan(str(write_stack(config)), engine=ApplyMocks())
    agent = k3s_config_of(plan, "swarm-test-gpu-0")

    assert agent["node-label"] == ["swarm.pool=gpu", "example.com/team=ml"]
    assert agent["node-taint"] == ["dedicated=ml:NoExecute", "spare:NoSchedule"]
    assert "node-taint" not in k3s_config_of(plan, "swarm-test-general-0")
