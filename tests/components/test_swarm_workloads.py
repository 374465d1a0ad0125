"""Resource checks of SwarmWorkloads: namespaces, StatefulSets, headless Services, policies."""

from __future__ import annotations

import pulumi
import pytest
import yaml

from components.swarm_workloads import SwarmWorkloads, container_dns_name
from stacks.config import Swarm
from stacks.plan import run_plan
from tests.conftest import ALICE_KEY, BOB_KEY, dev_config
from tests.engine import ApplyMocks

STATEFULSET = "kubernetes:apps/v1:StatefulSet"


def env_of(statefulset) -> dict:
    container = statefulset.raw_inputs["spec"]["template"]["spec"]["containers"][0]
    return {item["name"]: item.get("value", item.get("valueFrom")) for item in container["env"]}


@pytest.fixture(scope="module")
def two_swarms(tmp_path_factory):
    config = dev_config()
    config["swarm:swarms"].append(
        {"name": "research", "replicas": 2, "cpu": "500m", "memory": "1Gi", "storage": "10Gi", "sshPublicKeys": [BOB_KEY]}
    )
    path = tmp_path_factory.mktemp("stacks") / "Pulumi.teams.yaml"
    path.write_text(yaml.safe_dump({"config": config}))
    return run_plan(str(path), engine=ApplyMocks())


def test_dev_registers_namespace_statefulset_and_headless_service(dev_preview):
    namespace = dev_preview.named("swarm-dev-swarms-agents-namespace")
    service = dev_preview.named("swarm-dev-swarms-agents-service")
    statefulset = dev_preview.named("swarm-dev-swarms-agents-statefulset")

    assert namespace.inputs["metadata"]["name"] == "swarm-agents"
    assert service.inputs["spec"]["clusterIP"] == "None"
    assert service.inputs["spec"]["publishNotReadyAddresses"] is True
    assert service.inputs["metadata"] == {**service.inputs["metadata"], "name": "agents", "namespace": "swarm-agents"}
    assert statefulset.inputs["spec"]["serviceName"] == "agents"
    assert statefulset.inputs["spec"]["replicas"] == 3


def test_each_container_gets_workspace_claim(dev_applied):
    spec = dev_applied.named("swarm-dev-swarms-agents-statefulset").raw_inputs["spec"]
    (claim,) = spec["volumeClaimTemplates"]
    mounts = spec["template"]["spec"]["containers"][0]["volumeMounts"]

    assert claim["metadata"]["name"] == "workspace"
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "20Gi"
    assert claim["spec"]["storageClassName"] == "hcloud-volumes-retain"
    assert {"name": "workspace", "mountPath": "/config"} in mounts


def test_claims_retained_on_scale_down_and_delete(dev_preview):
    policy = dev_preview.named("swarm-dev-swarms-agents-statefulset").inputs["spec"][
        "persistentVolumeClaimRetentionPolicy"
    ]

    assert policy == {"whenDeleted": "Retain", "whenScaled": "Retain"}


def test_swarm_environment_variables(dev_applied):
    env = env_of(dev_applied.named("swarm-dev-swarms-agents-statefulset"))

    assert env["SWARM_ID"] == "agents"
    assert env["SWARM_MASTER"] == "agents-0.agents.swarm-agents.svc.cluster.local"
    assert env["SWARM_NODE_ID"] == {"fieldRef": {"fieldPath": "metadata.labels['apps.kubernetes.io/pod-index']"}}


def test_requests_equal_limits(dev_applied):
    container = dev_applied.named("swarm-dev-swarms-agents-statefulset").raw_inputs["spec"]["template"]["spec"][
        "containers"
    ][0]

    assert container["resources"]["requests"] == {"cpu": "1", "memory": "2Gi"}
    assert container["resources"]["limits"] == {"cpu": "1", "memory": "2Gi"}


def test_swarm_keys_mounted_from_config_map(dev_applied):
    keys = dev_applied.named("swarm-dev-swarms-agents-ssh-keys").raw_inputs
    env = env_of(dev_applied.named("swarm-dev-swarms-agents-statefulset"))

    assert keys["data"]["authorized_keys"] == ALICE_KEY + "\n"
    assert env["PUBLIC_KEY_FILE"] == "/etc/swarm/ssh/authorized_keys"
    assert env["USER_NAME"] == "dev"


def test_two_swarms_get_separate_namespaces(two_swarms):
    statefulsets = {resource.raw_inputs["metadata"]["namespace"]: resource for resource in two_swarms.of_type(STATEFULSET)}

    assert set(statefulsets) == {"swarm-agents", "swarm-research"}
    research = statefulsets["swarm-research"].raw_inputs["spec"]
    assert research["replicas"] == 2
    assert research["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "10Gi"
    assert two_swarms.named("swarm-teams-swarms-research-ssh-keys").raw_inputs["data"]["authorized_keys"] == BOB_KEY + "\n"
    assert two_swarms.outputs["swarm_namespaces"] == {"agents": "swarm-agents", "research": "swarm-research"}


def test_network_policy_isolates_swarm(dev_applied):
    spec = dev_applied.named("swarm-dev-swarms-agents-network-policy").raw_inputs["spec"]
    same_namespace, ssh_entry = spec["ingress"]

    assert spec["policyTypes"] == ["Ingress", "Egress"]
    assert same_namespace == {"from": [{"podSelector": {}}]}
    assert ssh_entry["from"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "swarm-ssh"}}}]
    assert ssh_entry["ports"] == [{"protocol": "TCP", "port": 2222}]


def test_zero_replicas_keeps_claim_template(write_stack):
    config = dev_config()
    config["swarm:swarms"][0]["replicas"] = 0

    plan = run_plan(str(write_stack(config)))
    spec = plan.named("swarm-test-swarms-agents-statefulset").inputs["spec"]

    assert spec["replicas"] == 0
    assert spec["volumeClaimTemplates"][0]["metadata"]["name"] == "workspace"


def test_container_dns_name_format():
    swarm = Swarm(name="agents", replicas=3, ssh_public_keys=[ALICE_KEY])

    assert container_dns_name(swarm, 2) == "agents-2.agents.swarm-agents.svc.cluster.local"


@pytest.fixture
def component_mocks():
    pulumi.runtime.settings.ROOT.set(None)
    pulumi.runtime.set_mocks(ApplyMocks(), project="swarm", stack="unit", preview=False)


@pulumi.runtime.test
def test_component_exports_namespaces(component_mocks):
    swarms = [
        Swarm(name="agents", replicas=1, ssh_public_keys=[ALICE_KEY]),
        Swarm(name="review", replicas=2, ssh_public_keys=[BOB_KEY]),
    ]
    workloads = SwarmWorkloads("unit-swarms", swarms, "standard")

    def check(namespaces):
        assert namespaces == {"agents": "swarm-agents", "review": "swarm-review"}

    return workloads.namespaces.apply(check)


def test_network_policy_blocks_metadata_service(dev_applied):
    (rule,) = dev_applied.named("swarm-dev-swarms-agents-network-policy").raw_inputs["spec"]["egress"]

    assert rule == {
        "to": [
            {"namespaceSelector": {}},
            {"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.169.254/32"]}},
            {"ipBlock": {"cidr": "::/0"}},
        ]
    }


def test_removed_swarm_keeps_namespace(dev_preview):
    namespace = dev_preview.named("swarm-dev-swarms-agents-namespace")
    statefulset = dev_preview.named("swarm-dev-swarms-agents-statefulset")

    assert namespace.retain_on_delete is True
    assert statefulset.retain_on_delete is False


def test_containers_drop_capabilities(dev_applied):
    pod = dev_applied.named("swarm-dev-swarms-agents-statefulset").raw_inputs["spec"]["template"]["spec"]
    security = pod["containers"][0]["securityContext"]

    assert security["privileged"] is False
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert sorted(security["capabilities"]["add"]) == [
        "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SYS_CHROOT"
    ]
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert "hostNetwork" not in pod
    assert "hostPID" not in pod


def test_parked_swarm_keeps_workspaces(write_stack):
    config = dev_config()
    config["swarm:swarms"][0]["running"] = False

    plan = run_plan(str(write_stack(config)), engine=ApplyMocks())
    statefulset = plan.named("swarm-test-swarms-agents-statefulset").raw_inputs

    assert statefulset["spec"]["replicas"] == 0
    assert statefulset["metadata"]["annotations"] == {"swarm/workspaces": "3"}
    assert statefulset["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "20Gi"
    assert statefulset["spec"]["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    assert "Host agents-0" not in plan.outputs["ssh_config"]


def test_running_again_restores_same_containers(write_stack):
    parked = dev_config()
    parked["swarm:swarms"][0]["running"] = False
    running = dev_config()

    before = run_plan(str(write_stack(parked)), engine=ApplyMocks()).named("swarm-test-swarms-agents-statefulset").raw_inputs
    after = run_plan(str(write_stack(running)), engine=ApplyMocks()).named("swarm-test-swarms-agents-statefulset").raw_inputs

    assert after["spec"]["replicas"] == 3
    assert after["spec"]["volumeClaimTemplates"] == before["spec"]["volumeClaimTemplates"]
    assert after["metadata"]["name"] == before["metadata"]["name"]
