"""Resource checks of HetznerAutoscaler and of a Hetzner cluster with an autoscaled worker pool."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.hetzner_autoscaler import CHART_VERSION, IMAGE_TAG, SECRET_NAME
from components.k3s_cloud_init import BOOTSTRAP_PATH
from stacks.plan import SECRET, UNKNOWN, Plan, run_plan
from tests.components.test_checkov import SKIPPED_CHECKS, checkov_failures
from tests.components.test_k3s_cloud_init import cloud_init_schema_errors, shellcheck_errors
from tests.components.test_kubernetes_objects import manifest, validation_error
from tests.conftest import dev_config
from tests.engine import FAKE_TOKEN, ApplyMocks

SERVER = "hcloud:index/server:Server"
AUTOSCALER = "swarm:hetzner:Autoscaler"
RELEASE = "swarm-test-autoscaler-release"
SECRET_RESOURCE = "swarm-test-autoscaler-secret"
HCLOUD_TOKEN_PLACEHOLDER = "offline-plan-placeholder"


def autoscaled_config(*pools: dict[str, Any]) -> dict[str, Any]:
    """Return the dev config with the fixed pool `general` and the given autoscaled pools."""
    config = dev_config()
    config["swarm:hetzner"]["workers"].extend(pools)
    return config


BURST = {"name": "burst", "serverType": "cx43", "location": "nbg1", "autoscale": {"min": 1, "max": 4}}


@pytest.fixture(scope="module")
def stack_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("autoscaled") / "Pulumi.test.yaml"
    path.write_text(yaml.safe_dump({"config": autoscaled_config(BURST)}, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def preview(stack_file) -> Plan:
    return run_plan(str(stack_file))


@pytest.fixture(scope="module")
def applied(stack_file) -> Plan:
    return run_plan(str(stack_file), engine=ApplyMocks())


def cluster_config(plan: Plan) -> dict:
    encoded = plan.named(SECRET_RESOURCE).raw_inputs["stringData"]["cluster-config"]
    return json.loads(base64.b64decode(encoded))


def test_no_server_for_autoscaled_pool(preview):
    names = {resource.name for resource in preview.of_type(SERVER)}

    assert names == {"swarm-test-server-0", "swarm-test-general-0", "swarm-test-general-1"}


def test_fixed_addresses_unchanged(preview):
    addresses = {resource.name: resource.inputs["networks"][0]["ip"] for resource in preview.of_type(SERVER)}

    assert addresses == {
        "swarm-test-server-0": "10.0.1.10",
        "swarm-test-general-0": "10.0.1.20",
        "swarm-test-general-1": "10.0.1.21",
    }


def test_autoscaled_nodes_get_own_subnet(preview):
    subnet = preview.named("swarm-test-autoscaled-subnet")

    assert subnet.inputs["ipRange"] == "10.0.2.0/24"
    assert subnet.inputs["networkZone"] == "eu-central"
    assert subnet.inputs["type"] == "cloud"
    assert preview.named("swarm-test-subnet").inputs["ipRange"] == "10.0.1.0/24"


def test_release_pins_chart_and_image(preview):
    release = preview.named(RELEASE).inputs

    assert release["chart"] == "cluster-autoscaler"
    assert release["version"] == CHART_VERSION
    assert release["repositoryOpts"]["repo"] == "https://kubernetes.github.io/autoscaler"
    assert release["namespace"] == "kube-system"
    assert release["values"]["cloudProvider"] == "hetzner"
    assert release["values"]["image"] == {"repository": "registry.k8s.io/autoscaling/cluster-autoscaler", "tag": IMAGE_TAG}


def test_release_groups_follow_pools(preview):
    groups = preview.named(RELEASE).inputs["values"]["autoscalingGroups"]

    assert groups == [{"name": "swarm-test-burst", "minSize": 1, "maxSize": 4, "instanceType": "cx43", "region": "nbg1"}]


def test_release_keeps_min_and_scale_down_delay(preview):
    arguments = preview.named(RELEASE).inputs["values"]["extraArgs"]

    assert arguments["enforce-node-group-min-size"] is True
    assert arguments["scale-down-unneeded-time"] == "1h"


def test_release_reads_secrets_from_secret(preview):
    values = preview.named(RELEASE).inputs["values"]

    assert values["extraEnvSecrets"] == {
        "HCLOUD_TOKEN": {"name": SECRET_NAME, "key": "token"},
        "HCLOUD_CLUSTER_CONFIG": {"name": SECRET_NAME, "key": "cluster-config"},
    }
    assert "HCLOUD_TOKEN" not in values["extraEnv"]
    assert "HCLOUD_CLUSTER_CONFIG" not in values["extraEnv"]
    assert "values" not in preview.named(RELEASE).secret_inputs


def test_release_values_contain_no_secret(applied):
    values = json.dumps(applied.named(RELEASE).raw_inputs["values"])

    assert HCLOUD_TOKEN_PLACEHOLDER not in values
    assert FAKE_TOKEN not in values


def test_release_names_network_firewall_key(applied):
    environment = applied.named(RELEASE).raw_inputs["values"]["extraEnv"]
    ids = {
        "HCLOUD_NETWORK": applied.named("swarm-test-network"),
        "HCLOUD_FIREWALL": applied.named("swarm-test-firewall"),
        "HCLOUD_SSH_KEY": applied.of_type("hcloud:index/sshKey:SshKey")[0],
    }

    for variable, resource in ids.items():
        assert environment[variable] not in ("", None, UNKNOWN), variable
    assert environment["HCLOUD_PUBLIC_IPV4"] == "true"
    assert environment["HCLOUD_PUBLIC_IPV6"] == "true"
    assert len(set(environment[variable] for variable in ids)) == 3


def test_pod_restarts_when_secret_changes(applied, write_stack):
    other_k3s = autoscaled_config(BURST)
    other_k3s["swarm:hetzner"]["k3sVersion"] = "v1.34.2+k3s1"

    other = run_plan(str(write_stack(other_k3s)), engine=ApplyMocks())
    annotation = applied.named(RELEASE).raw_inputs["values"]["podAnnotations"]["swarm/secret-sha256"]

    assert len(annotation) == 64
    assert "values" not in applied.named(RELEASE).secret_inputs
    assert other.named(RELEASE).raw_inputs["values"]["podAnnotations"]["swarm/secret-sha256"] != annotation


def test_release_runs_on_control_plane(preview):
    values = preview.named(RELEASE).inputs["values"]

    assert values["nodeSelector"] == {"node-role.kubernetes.io/control-plane": "true"}
    assert {"key": "CriticalAddonsOnly", "operator": "Exists"} in values["tolerations"]


def test_secret_marked_secret(preview):
    secret = preview.named(SECRET_RESOURCE)

    assert secret.inputs["metadata"] == {"name": SECRET_NAME, "namespace": "kube-system"}
    assert secret.inputs["stringData"] == SECRET
    assert "stringData" in secret.secret_inputs


def test_secret_holds_token_and_config(applied):
    data = applied.named(SECRET_RESOURCE).raw_inputs["stringData"]
    config = cluster_config(applied)

    assert data["token"] == HCLOUD_TOKEN_PLACEHOLDER
    assert config["imagesForArch"] == {"amd64": "ubuntu-24.04", "arm64": "ubuntu-24.04"}
    assert config["defaultSubnetIPRange"] == "10.0.2.0/24"
    assert list(config["nodeConfigs"]) == ["swarm-test-burst"]
    assert config["nodeConfigs"]["swarm-test-burst"]["labels"] == {"swarm.pool": "burst"}


def test_small_pool_spread_in_placement_group(applied):
    group = applied.named("swarm-test-burst-agent-spread-0")
    node_config = cluster_config(applied)["nodeConfigs"]["swarm-test-burst"]

    assert group.raw_inputs["type"] == "spread"
    assert node_config["placementGroup"] not in ("", None, UNKNOWN)


def test_large_pool_not_in_placement_group(write_stack):
    large = dict(BURST, autoscale={"min": 1, "max": 20})

    plan = run_plan(str(write_stack(autoscaled_config(large))), engine=ApplyMocks())
    groups = [resource.name for resource in plan.of_type("hcloud:index/placementGroup:PlacementGroup")]

    assert "placementGroup" not in cluster_config(plan)["nodeConfigs"]["swarm-test-burst"]
    assert not [name for name in groups if "-burst-" in name]


def test_autoscaled_user_data_joins_as_agent(applied):
    document = cluster_config(applied)["nodeConfigs"]["swarm-test-burst"]["cloudInit"]
    parsed = yaml.safe_load(document)
    k3s = yaml.safe_load(parsed["write_files"][0]["content"])
    server_token = f"{FAKE_TOKEN}-swarm-test-k3s-token"

    assert document.startswith("#cloud-config\n")
    assert k3s["token"] == f"{FAKE_TOKEN}-swarm-test-k3s-agent-token"
    assert k3s["server"] == "https://10.0.1.10:6443"
    assert k3s["node-label"] == ["swarm.pool=burst"]
    assert "node-ip" not in k3s
    assert server_token not in document
    assert parsed["runcmd"] == [[BOOTSTRAP_PATH, "agent", "v1.34.1+k3s1", "10.0.2.0/24", "hcloud-provider-id"]]


def test_autoscaled_user_data_passes_validators(applied, tmp_path):
    document = cluster_config(applied)["nodeConfigs"]["swarm-test-burst"]["cloudInit"]
    scripts = [item["content"] for item in yaml.safe_load(document)["write_files"] if item["content"].startswith("#!")]

    assert cloud_init_schema_errors(document, tmp_path) == ""
    assert len(scripts) == 1
    assert shellcheck_errors(scripts[0], tmp_path) == ""


def test_load_balancer_targets_autoscaled_servers(preview):
    target = preview.named("swarm-test-lb-burst-nodes")

    assert target.inputs["type"] == "label_selector"
    assert target.inputs["labelSelector"] == "hcloud/node-group=swarm-test-burst"
    assert target.inputs["usePrivateIp"] is True
    assert preview.named("swarm-test-lb-nodes").inputs["labelSelector"] == "swarm-cluster=swarm-test"


def test_autoscaler_uses_cluster_provider(preview):
    provider_urn = preview.named("swarm-test-k8s").urn
    component = preview.named("swarm-test-autoscaler")

    assert component.type == AUTOSCALER
    for name in (RELEASE, SECRET_RESOURCE):
        assert preview.named(name).provider.startswith(provider_urn + "::"), name
        assert preview.named(name).parent == component.urn, name


def test_no_autoscaler_without_autoscaled_pool(dev_preview):
    types = {resource.type for resource in dev_preview.resources}
    names = {resource.name for resource in dev_preview.resources}

    assert AUTOSCALER not in types
    assert "swarm-dev-autoscaled-subnet" not in names
    assert not [name for name in names if name.startswith("swarm-dev-lb-") and name.endswith("-nodes") and name != "swarm-dev-lb-nodes"]


def test_only_autoscaled_agents_taint_servers(write_stack):
    config = dev_config()
    config["swarm:hetzner"]["workers"] = [BURST]

    plan = run_plan(str(write_stack(config)), engine=ApplyMocks())
    user_data = yaml.safe_load(plan.named("swarm-test-server-0").raw_inputs["userData"])
    k3s = yaml.safe_load(user_data["write_files"][0]["content"])
    statefulset = plan.named("swarm-test-swarms-agents-statefulset").raw_inputs
    terms = statefulset["spec"]["template"]["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]

    assert "CriticalAddonsOnly=true:NoExecute" in k3s["node-taint"]
    assert terms["nodeSelectorTerms"][0]["matchExpressions"][0]["key"] == "swarm.pool"
    assert len(plan.of_type(SERVER)) == 1


def test_secret_passes_kubernetes_schema(applied):
    assert validation_error(manifest(applied.named(SECRET_RESOURCE))) == ""


def test_secret_passes_checkov(applied, tmp_path):
    (tmp_path / "secret.yaml").write_text(yaml.safe_dump(manifest(applied.named(SECRET_RESOURCE))))

    assert checkov_failures(tmp_path, SKIPPED_CHECKS) == []
