"""Resource checks of DoksCluster, from the prod stack run under mocks."""

from __future__ import annotations

import pytest

from components.doks import SYSTEM_POOL_SIZE, creation_version, warn_on_minor_mismatch
from stacks.plan import SECRET, UNKNOWN, Plan, run_plan
from tests.engine import LOAD_BALANCER_IPV4, ApplyMocks

CLUSTER = "digitalocean:index/kubernetesCluster:KubernetesCluster"
NODE_POOL = "digitalocean:index/kubernetesNodePool:KubernetesNodePool"


@pytest.fixture(scope="module")
def prod_preview() -> Plan:
    return run_plan("prod")


@pytest.fixture(scope="module")
def prod_engine() -> ApplyMocks:
    return ApplyMocks()


@pytest.fixture(scope="module")
def prod_applied(prod_engine) -> Plan:
    return run_plan("prod", engine=prod_engine)


def test_prod_registers_doks_tree(prod_preview):
    types = [resource.type for resource in prod_preview.resources]

    assert types.count("digitalocean:index/vpc:Vpc") == 1
    assert types.count(CLUSTER) == 1
    assert types.count(NODE_POOL) == 2
    assert types.count("digitalocean:index/loadBalancer:LoadBalancer") == 1
    assert types.count("pulumi:providers:kubernetes") == 1
    assert not [resource for resource in prod_preview.resources if resource.type.startswith("hcloud:")]


def test_cluster_region_version_and_vpc(prod_applied, prod_engine):
    cluster = prod_applied.named("swarm-prod-cluster").raw_inputs
    vpc = prod_applied.named("swarm-prod-vpc")
    prefixes = [call.args.get("versionPrefix") for call in prod_engine.calls if call.token.endswith("getKubernetesVersions")]

    assert cluster["region"] == "fra1"
    assert "1.34." in prefixes
    assert cluster["version"] == "1.34.5-do.0"
    assert cluster["ha"] is True
    assert vpc.raw_inputs["region"] == "fra1"
    assert vpc.raw_inputs["ipRange"] == "10.20.0.0/16"
    assert cluster["vpcUuid"] not in ("", None, UNKNOWN)


def test_version_unknown_offline(prod_preview):
    assert prod_preview.named("swarm-prod-cluster").inputs["version"] == UNKNOWN


def test_version_drift_ignored(prod_preview):
    assert prod_preview.named("swarm-prod-cluster").ignore_changes == ["version"]


def test_system_pool_small_and_fixed(prod_preview):
    system_pool = prod_preview.named("swarm-prod-cluster").inputs["nodePool"]

    assert system_pool["size"] == SYSTEM_POOL_SIZE
    assert system_pool["nodeCount"] == 1
    assert "autoScale" not in system_pool


def test_swarm_capacity_in_separate_pools(prod_preview):
    agents = prod_preview.named("swarm-prod-agents").inputs
    review = prod_preview.named("swarm-prod-review").inputs

    assert agents["size"] == "s-4vcpu-8gb"
    assert agents["autoScale"] is True
    assert (agents["minNodes"], agents["maxNodes"]) == (2, 6)
    assert review["autoScale"] is False
    assert review["nodeCount"] == 1
    assert "minNodes" not in review
    assert agents["labels"] == {"swarm.pool": "agents"}


def test_autoscaled_pool_ignores_node_count(prod_preview):
    assert prod_preview.named("swarm-prod-agents").ignore_changes == ["nodeCount"]
    assert prod_preview.named("swarm-prod-review").ignore_changes == []


def test_api_open_only_to_admin_cidrs(prod_preview):
    firewall = prod_preview.named("swarm-prod-cluster").inputs["controlPlaneFirewall"]

    assert firewall == {"enabled": True, "allowedAddresses": ["203.0.113.7/32", "198.51.100.0/28"]}


def test_maintenance_window(prod_preview):
    policy = prod_preview.named("swarm-prod-cluster").inputs["maintenancePolicy"]

    assert policy == {"day": "sunday", "startTime": "03:00"}
    assert prod_preview.named("swarm-prod-cluster").inputs["autoUpgrade"] is True


def test_load_balancer_targets_swarm_pools(prod_applied):
    balancer = prod_applied.named("swarm-prod-lb").raw_inputs
    firewall = prod_applied.named("swarm-prod-lb-to-nodes").raw_inputs
    pool_tags = {tag for name in ("swarm-prod-agents", "swarm-prod-review") for tag in prod_applied.named(name).raw_inputs["tags"]}

    assert pool_tags == {balancer["dropletTag"]}
    assert balancer["forwardingRules"] == [
        {"entryProtocol": "tcp", "entryPort": 22, "targetProtocol": "tcp", "targetPort": 30022}
    ]
    assert balancer["vpcUuid"] == prod_applied.named("swarm-prod-cluster").raw_inputs["vpcUuid"]
    assert firewall["tags"] == [balancer["dropletTag"]]
    assert firewall["inboundRules"][0]["portRange"] == "30022"
    assert firewall["inboundRules"][0]["sourceLoadBalancerUids"] != []


def test_kubeconfig_secret(prod_preview, prod_applied):
    assert prod_preview.named("swarm-prod-k8s").inputs["kubeconfig"] == SECRET
    assert prod_preview.outputs["kubeconfig"] == SECRET
    assert prod_applied.outputs["kubeconfig"] == SECRET


def test_ssh_config_uses_load_balancer(prod_applied):
    assert f"HostName {LOAD_BALANCER_IPV4}" in prod_applied.outputs["ssh_config"]
    assert "Host review-1\n" in prod_applied.outputs["ssh_config"]


def test_workspaces_on_retaining_class(prod_applied):
    storage_class = prod_applied.named("swarm-prod-storage-class").raw_inputs
    statefulset = prod_applied.named("swarm-prod-swarms-agents-statefulset").raw_inputs

    assert storage_class["provisioner"] == "dobs.csi.digitalocean.com"
    assert storage_class["reclaimPolicy"] == "Retain"
    claim = statefulset["spec"]["volumeClaimTemplates"][0]
    assert claim["spec"]["storageClassName"] == storage_class["metadata"]["name"]


def test_swarms_avoid_system_pool(prod_applied):
    pod = prod_applied.named("swarm-prod-swarms-agents-statefulset").raw_inputs["spec"]["template"]["spec"]
    terms = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]

    assert terms == [{"matchExpressions": [{"key": "swarm.pool", "operator": "Exists"}]}]


class _Versions:
    def __init__(self, latest: str, valid: list[str]) -> None:
        self.latest_version = latest
        self.valid_versions = valid


def test_retired_minor_warns_and_keeps_stack(monkeypatch):
    warnings = []
    monkeypatch.setattr("pulumi.log.warn", warnings.append)

    version = creation_version(
        "1.31", _Versions("", []), _Versions("1.35.1-do.0", ["1.33.4-do.0", "1.35.1-do.0", "1.34.5-do.0"])
    )

    assert version == "1.31"
    (message,) = warnings
    assert "swarm:doks.version = 1.31: DOKS offers no version of it now" in message
    assert "offered minors: 1.33, 1.34, 1.35" in message
    assert "pulumi config set --path 'swarm:doks.version' 1.35" in message


def test_newest_patch_used_at_creation():
    assert creation_version("1.34", _Versions("1.34.5-do.0", ["1.34.5-do.0"]), _Versions("", [])) == "1.34.5-do.0"


@pytest.mark.parametrize(
    ("running", "warned"),
    [("1.34.5-do.0", False), ("1.35.1-do.0", True), ("", False)],
)
def test_minor_mismatch_warns(monkeypatch, running, warned):
    warnings = []
    monkeypatch.setattr("pulumi.log.warn", warnings.append)

    warn_on_minor_mismatch("swarm-prod", "1.34", running)

    assert bool(warnings) is warned
    if warned:
        assert "doctl kubernetes cluster upgrade swarm-prod" in warnings[0]


def test_tainted_pool_carries_its_taints(prod_preview):
    review = prod_preview.named("swarm-prod-review").inputs

    assert review["taints"] == [{"key": "dedicated", "value": "review", "effect": "NoSchedule"}]
    assert "taints" not in prod_preview.named("swarm-prod-agents").inputs


def test_swarm_tolerates_its_pool(prod_preview):
    spec = prod_preview.named("swarm-prod-swarms-review-statefulset").inputs["spec"]["template"]["spec"]
    terms = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]

    assert terms == [{"matchExpressions": [{"key": "swarm.pool", "operator": "In", "values": ["review"]}]}]
    assert spec["tolerations"] == [{"key": "dedicated", "operator": "Equal", "value": "review", "effect": "NoSchedule"}]


def test_unbound_swarm_tolerates_nothing(prod_preview):
    spec = prod_preview.named("swarm-prod-swarms-agents-statefulset").inputs["spec"]["template"]["spec"]
    terms = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]

    assert terms == [{"matchExpressions": [{"key": "swarm.pool", "operator": "Exists"}]}]
    assert "tolerations" not in spec
