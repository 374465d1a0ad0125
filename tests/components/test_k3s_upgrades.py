"""Resource checks of K3sUpgrades, and proof that a new k3sVersion changes Plans and never a server."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Optional

import jsonschema
import pytest
import yaml
from pulumi.runtime import mocks

from stacks.config import DEFAULT_K3S_VERSION
from stacks.plan import Plan, PlannedResource, run_plan
from tests.components.test_hetzner_k3s import SERVER, k3s_config_of
from tests.components.test_kubernetes_objects import manifest
from tests.conftest import dev_config
from tests.engine import ApplyMocks

NEXT_K3S_VERSION = "v1.35.2+k3s1"
SERVER_PLAN = "swarm-dev-upgrades-server-plan"
AGENT_PLAN = "swarm-dev-upgrades-agent-plan"
CONTROLLER = "swarm-dev-upgrades-controller"
CRD = "swarm-dev-upgrades-plan-crd"
PLAN_TYPE = "kubernetes:upgrade.cattle.io/v1:Plan"


class NameKeyedMocks(ApplyMocks):
    """ApplyMocks whose ids and addresses follow from each resource's name, not from the order of registration.

    Two runs of the program then give equal inputs wherever the config
    is equal, so a comparison shows only what the config change caused.
    """

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[Optional[str], dict]:
        _, outputs = super().new_resource(args)
        number = int(hashlib.sha256(args.name.encode()).hexdigest()[:8], 16)
        for key in ("ipAddress", "ipv4Address"):
            if key in outputs:
                outputs[key] = f"198.51.100.{number % 200 + 10}"
        return str(number), outputs


def dev_plan_with_version(folder: Path, version: str) -> Plan:
    """Plan Pulumi.dev.yaml with another k3sVersion, under the stack name dev so that URNs stay equal."""
    config = dev_config()
    config["swarm:hetzner"]["k3sVersion"] = version
    path = folder / "Pulumi.dev.yaml"
    path.write_text(yaml.safe_dump({"config": config}, sort_keys=False))
    return run_plan(str(path), engine=NameKeyedMocks())


def spec_of(plan: Plan, name: str) -> dict:
    return plan.named(name).raw_inputs["spec"]


def changed_inputs(before: PlannedResource, after: PlannedResource) -> set[str]:
    keys = set(before.raw_inputs) | set(after.raw_inputs)
    return {key for key in keys if before.raw_inputs.get(key) != after.raw_inputs.get(key)}


def parse_taint(text: str) -> dict:
    key_value, effect = text.rsplit(":", 1)
    key, _, value = key_value.partition("=")
    return {"key": key, "value": value, "effect": effect}


def tolerates(tolerations: list[dict], taint: dict) -> bool:
    """Tell whether a pod with these tolerations may run on a node with this taint, by Kubernetes' matching rules."""
    for toleration in tolerations:
        if toleration.get("effect") not in (None, "", taint["effect"]):
            continue
        operator = toleration.get("operator", "Equal")
        if not toleration.get("key") and operator == "Exists":
            return True
        if toleration.get("key") != taint["key"]:
            continue
        if operator == "Exists" or toleration.get("value", "") == taint["value"]:
            return True
    return False


def plan_schema(plan: Plan) -> dict:
    crd = manifest(plan.named(CRD))
    return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def schema_errors(schema: dict, document: dict) -> list[str]:
    return [error.message for error in jsonschema.Draft4Validator(schema).iter_errors(document)]


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory) -> tuple[Plan, Plan]:
    """The dev stack at the default K3s release and at the next one."""
    return (
        dev_plan_with_version(tmp_path_factory.mktemp("before"), DEFAULT_K3S_VERSION),
        dev_plan_with_version(tmp_path_factory.mktemp("after"), NEXT_K3S_VERSION),
    )


def changes_by_urn(before: Plan, after: Plan) -> dict[str, set[str]]:
    """Map the URN of every resource whose inputs differ between the plans to the input keys that differ."""
    after_by_urn = {resource.urn: resource for resource in after.resources}
    changes = {}
    for resource in before.resources:
        changed = changed_inputs(resource, after_by_urn[resource.urn])
        if changed:
            changes[resource.urn] = changed
    return changes


def test_version_change_keeps_resource_set(two_versions):
    before, after = two_versions

    assert [resource.urn for resource in before.resources] == [resource.urn for resource in after.resources]


def test_version_change_touches_no_server_input(two_versions):
    before, after = two_versions
    after_by_urn = {resource.urn: resource for resource in after.resources}
    servers = before.of_type(SERVER)

    assert len(servers) == 3
    for server in servers:
        changed = changed_inputs(server, after_by_urn[server.urn])
        assert changed == {"userData"}, server.name
        assert changed <= set(server.ignore_changes), server.name
        assert after_by_urn[server.urn].ignore_changes == server.ignore_changes, server.name


def test_version_change_updates_only_plans(two_versions):
    before, after = two_versions
    changes = changes_by_urn(before, after)
    server_urns = {server.urn for server in before.of_type(SERVER)}
    plan_urns = {before.named(SERVER_PLAN).urn, before.named(AGENT_PLAN).urn}

    assert set(changes) - server_urns == plan_urns
    for urn in plan_urns:
        assert changes[urn] == {"spec"}, urn


def test_version_change_moves_plan_version(two_versions):
    before, after = two_versions

    for name in (SERVER_PLAN, AGENT_PLAN):
        old, new = spec_of(before, name), spec_of(after, name)
        assert old["version"] == DEFAULT_K3S_VERSION, name
        assert new["version"] == NEXT_K3S_VERSION, name
        assert {**old, "version": NEXT_K3S_VERSION} == new, name


def test_plans_carry_configured_version(dev_applied):
    assert spec_of(dev_applied, SERVER_PLAN)["version"] == DEFAULT_K3S_VERSION
    assert spec_of(dev_applied, AGENT_PLAN)["version"] == DEFAULT_K3S_VERSION
    assert len(dev_applied.of_type(PLAN_TYPE)) == 2


def test_server_plan_targets_control_plane(dev_applied):
    spec = spec_of(dev_applied, SERVER_PLAN)

    assert spec["nodeSelector"] == {
        "matchExpressions": [{"key": "node-role.kubernetes.io/control-plane", "operator": "In", "values": ["true"]}]
    }
    assert spec["cordon"] is True
    assert "drain" not in spec


def test_agent_plan_excludes_control_plane(dev_applied):
    spec = spec_of(dev_applied, AGENT_PLAN)

    assert spec["nodeSelector"] == {
        "matchExpressions": [{"key": "node-role.kubernetes.io/control-plane", "operator": "DoesNotExist"}]
    }


def test_agent_plan_waits_for_server_plan(dev_applied):
    spec = spec_of(dev_applied, AGENT_PLAN)
    server_plan_name = dev_applied.named(SERVER_PLAN).raw_inputs["metadata"]["name"]

    assert spec["prepare"]["args"] == ["prepare", server_plan_name]
    assert spec["prepare"]["image"] == "rancher/k3s-upgrade"
    assert dev_applied.named(SERVER_PLAN).urn in dev_applied.named(AGENT_PLAN).dependencies


def test_agents_cordoned_not_drained(dev_applied):
    spec = spec_of(dev_applied, AGENT_PLAN)

    assert spec["cordon"] is True
    assert "drain" not in spec


def test_plans_upgrade_one_node_at_a_time(dev_applied):
    for name in (SERVER_PLAN, AGENT_PLAN):
        assert spec_of(dev_applied, name)["concurrency"] == 1, name


def test_plans_use_controller_service_account(dev_applied):
    account = dev_applied.named("swarm-dev-upgrades-service-account").raw_inputs["metadata"]
    controller_namespace = dev_applied.named(CONTROLLER).raw_inputs["metadata"]["namespace"]

    for name in (SERVER_PLAN, AGENT_PLAN):
        plan = dev_applied.named(name).raw_inputs
        assert plan["spec"]["serviceAccountName"] == account["name"], name
        # The controller acts only on Plans in its own namespace.
        assert plan["metadata"]["namespace"] == controller_namespace == account["namespace"], name


def test_plans_follow_crd_and_controller(dev_applied):
    crd = dev_applied.named(CRD).urn
    controller = dev_applied.named(CONTROLLER).urn

    for name in (SERVER_PLAN, AGENT_PLAN):
        dependencies = dev_applied.named(name).dependencies
        assert crd in dependencies, name
        assert controller in dependencies, name


def test_controller_follows_its_access(dev_applied):
    dependencies = {urn.rsplit("::", 1)[1] for urn in dev_applied.named(CONTROLLER).dependencies}

    assert {
        "swarm-dev-upgrades-namespace",
        "swarm-dev-upgrades-service-account",
        "swarm-dev-upgrades-config",
        "swarm-dev-upgrades-cluster-role-binding",
        "swarm-dev-upgrades-role-binding",
    } <= dependencies


def test_controller_tolerates_control_plane_taint(dev_applied):
    (taint_text,) = k3s_config_of(dev_applied, "swarm-dev-server-0")["node-taint"]
    taint = parse_taint(taint_text)
    pod = dev_applied.named(CONTROLLER).raw_inputs["spec"]["template"]["spec"]

    assert taint == {"key": "CriticalAddonsOnly", "value": "true", "effect": "NoExecute"}
    assert tolerates(pod["tolerations"], taint)
    assert tolerates(spec_of(dev_applied, SERVER_PLAN)["tolerations"], taint)
    assert tolerates(spec_of(dev_applied, AGENT_PLAN)["tolerations"], taint)


def test_toleration_check_rejects_other_taint(dev_applied):
    pod = dev_applied.named(CONTROLLER).raw_inputs["spec"]["template"]["spec"]

    assert not tolerates(pod["tolerations"], {"key": "dedicated", "value": "gpu", "effect": "NoExecute"})
    assert not tolerates(
        [{"key": "CriticalAddonsOnly", "operator": "Equal", "value": "false"}],
        parse_taint("CriticalAddonsOnly=true:NoExecute"),
    )


def test_plans_tolerate_any_node_taint(dev_applied):
    pool_taint = parse_taint("dedicated=gpu:NoSchedule")

    for name in (SERVER_PLAN, AGENT_PLAN):
        assert tolerates(spec_of(dev_applied, name)["tolerations"], pool_taint), name


def test_controller_runs_on_control_plane(dev_applied):
    pod = dev_applied.named(CONTROLLER).raw_inputs["spec"]["template"]["spec"]
    terms = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]

    assert terms == [
        {"matchExpressions": [{"key": "node-role.kubernetes.io/control-plane", "operator": "In", "values": ["true"]}]}
    ]


def test_controller_reads_its_name_and_namespace(dev_applied):
    deployment = dev_applied.named(CONTROLLER).raw_inputs
    template = deployment["spec"]["template"]
    container = template["spec"]["containers"][0]
    env = {item["name"]: item["valueFrom"]["fieldRef"]["fieldPath"] for item in container["env"]}
    settings = dev_applied.named("swarm-dev-upgrades-config").raw_inputs

    assert env["SYSTEM_UPGRADE_CONTROLLER_NAME"] == "metadata.labels['upgrade.cattle.io/controller']"
    assert template["metadata"]["labels"]["upgrade.cattle.io/controller"] == "system-upgrade-controller"
    assert env["SYSTEM_UPGRADE_CONTROLLER_NAMESPACE"] == "metadata.namespace"
    assert container["envFrom"] == [{"configMapRef": {"name": settings["metadata"]["name"]}}]
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}


def test_images_pinned(dev_applied):
    container = dev_applied.named(CONTROLLER).raw_inputs["spec"]["template"]["spec"]["containers"][0]
    settings = dev_applied.named("swarm-dev-upgrades-config").raw_inputs["data"]
    pinned = re.compile(r"^[a-z0-9./-]+:v\d+\.\d+\.\d+$")

    for image in (container["image"], settings["SYSTEM_UPGRADE_JOB_KUBECTL_IMAGE"]):
        assert pinned.match(image), image
        assert not image.endswith(":latest"), image


def test_plan_images_tagged_by_version(dev_applied):
    # The controller tags the upgrade image with the Plan's version, so the
    # Plans name the image without a tag and always carry a release version.
    for name in (SERVER_PLAN, AGENT_PLAN):
        spec = spec_of(dev_applied, name)
        assert spec["upgrade"]["image"] == "rancher/k3s-upgrade", name
        assert ":" not in spec["upgrade"]["image"], name
        assert re.match(r"^v1\.\d+\.\d+\+k3s\d+$", spec["version"]), name
        assert "channel" not in spec, name


def test_plans_match_crd_schema(dev_applied):
    schema = plan_schema(dev_applied)

    for name in (SERVER_PLAN, AGENT_PLAN):
        assert schema_errors(schema, dev_applied.named(name).raw_inputs) == [], name


def test_crd_schema_rejects_broken_plans(dev_applied):
    schema = plan_schema(dev_applied)
    plan = dev_applied.named(SERVER_PLAN).raw_inputs
    without_upgrade = {**plan, "spec": {key: value for key, value in plan["spec"].items() if key != "upgrade"}}
    text_concurrency = {**plan, "spec": {**plan["spec"], "concurrency": "one"}}

    assert schema_errors(schema, without_upgrade) != []
    assert schema_errors(schema, text_concurrency) != []


def test_crd_defines_plan_kind(dev_applied):
    crd = manifest(dev_applied.named(CRD))
    (version,) = crd["spec"]["versions"]

    assert crd["metadata"]["name"] == "plans.upgrade.cattle.io"
    assert crd["spec"]["group"] == "upgrade.cattle.io"
    assert crd["spec"]["scope"] == "Namespaced"
    assert crd["spec"]["names"]["kind"] == "Plan"
    assert crd["spec"]["names"]["plural"] == "plans"
    assert version["name"] == "v1"
    assert version["served"] is True
    assert version["storage"] is True
    # The controller writes Plan status through the status subresource.
    assert version["subresources"] == {"status": {}}
    assert "status" in version["schema"]["openAPIV3Schema"]["properties"]


def test_controller_roles_cover_plans_and_cordon(dev_applied):
    cluster_role = dev_applied.named("swarm-dev-upgrades-cluster-role").raw_inputs
    binding = dev_applied.named("swarm-dev-upgrades-cluster-role-binding").raw_inputs
    account = dev_applied.named("swarm-dev-upgrades-service-account").raw_inputs["metadata"]

    def allowed(group: str, resource: str, verb: str) -> bool:
        return any(
            group in rule["apiGroups"] and resource in rule["resources"] and verb in rule["verbs"]
            for rule in cluster_role["rules"]
        )

    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": cluster_role["metadata"]["name"],
    }
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account["name"], "namespace": account["namespace"]}]
    assert allowed("upgrade.cattle.io", "plans", "get")
    assert allowed("upgrade.cattle.io", "plans/status", "update")
    assert allowed("", "nodes", "patch")
    assert allowed("", "nodes", "list")
    # The Plans never drain, so nothing may evict or delete pods.
    assert not allowed("", "pods/eviction", "create")
    assert not allowed("", "pods", "delete")


def test_namespace_role_covers_jobs(dev_applied):
    role = dev_applied.named("swarm-dev-upgrades-role").raw_inputs
    binding = dev_applied.named("swarm-dev-upgrades-role-binding").raw_inputs
    jobs = [rule for rule in role["rules"] if rule["resources"] == ["jobs"]]

    assert role["metadata"]["namespace"] == "system-upgrade"
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert {"create", "delete", "watch"} <= set(jobs[0]["verbs"])


def test_upgrades_only_on_hetzner():
    for stack in ("prod", "local"):
        plan = run_plan(stack)
        assert plan.of_type(PLAN_TYPE) == [], stack
        assert [resource.name for resource in plan.resources if "-upgrades" in resource.name] == [], stack


def test_upgrades_use_cluster_provider(dev_preview):
    provider = dev_preview.named("swarm-dev-k8s").urn

    for name in (CRD, CONTROLLER, SERVER_PLAN, AGENT_PLAN):
        assert dev_preview.named(name).provider.startswith(provider + "::"), name

