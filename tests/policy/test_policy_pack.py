"""The CrossGuard policy pack: each rule passes on the example stacks and fails on a broken copy."""

from __future__ import annotations

import copy
import importlib
import sys
from types import SimpleNamespace

import pulumi_policy
import pytest

from stacks.plan import ROOT, Plan, run_plan
from tests.conftest import dev_config
from tests.engine import ApplyMocks

sys.path.insert(0, str(ROOT / "policy"))
import rules  # noqa: E402  the policy pack's own module, beside its __main__.py


def violations(rule, resource, **extra) -> list[str]:
    if rule is rules.control_plane_protected:
        return list(rule(resource.type, resource.raw_inputs, resource.urn, extra.get("protected", resource.protect)))
    return list(rule(resource.type, resource.raw_inputs))


def all_violations(plan: Plan) -> list[str]:
    found = []
    for resource in plan.resources:
        for rule in (rules.admin_ports_closed_to_world, rules.storage_class_retains_volumes, rules.no_privileged_pods):
            found += violations(rule, resource)
        found += violations(rules.control_plane_protected, resource)
    return found


@pytest.fixture(scope="module")
def prod_plan() -> Plan:
    return run_plan("prod", engine=ApplyMocks())


@pytest.mark.parametrize("stack", ["dev", "prod", "local"])
def test_example_stacks_pass(stack):
    assert all_violations(run_plan(stack, engine=ApplyMocks())) == []


def test_world_open_ssh_fails(dev_applied):
    firewall = copy.deepcopy(dev_applied.named("swarm-dev-firewall"))
    firewall.raw_inputs["rules"][0]["sourceIps"] = ["0.0.0.0/0"]

    assert violations(rules.admin_ports_closed_to_world, firewall) == ["firewall rule opens port 22 to 0.0.0.0/0"]


def test_any_port_rule_fails(dev_applied):
    firewall = copy.deepcopy(dev_applied.named("swarm-dev-firewall"))
    firewall.raw_inputs["rules"].append({"direction": "in", "protocol": "tcp", "port": "any", "sourceIps": ["::/0"]})

    assert len(violations(rules.admin_ports_closed_to_world, firewall)) == 2


def test_public_admin_stack_fails(write_stack):
    config = dev_config()
    config["swarm:adminCidrs"] = ["0.0.0.0/0"]
    config["swarm:allowPublicAdmin"] = True

    plan = run_plan(str(write_stack(config)), engine=ApplyMocks())

    assert violations(rules.admin_ports_closed_to_world, plan.named("swarm-test-firewall")) != []


def test_open_doks_control_plane_fails(prod_plan):
    cluster = copy.deepcopy(prod_plan.named("swarm-prod-cluster"))
    cluster.raw_inputs["controlPlaneFirewall"]["enabled"] = False

    assert violations(rules.admin_ports_closed_to_world, cluster) != []


def test_deleting_storage_class_fails(dev_applied):
    storage_class = copy.deepcopy(dev_applied.named("swarm-dev-csi-storage-class"))
    storage_class.raw_inputs["reclaimPolicy"] = "Delete"
    defaulted = copy.deepcopy(storage_class)
    del defaulted.raw_inputs["reclaimPolicy"]

    assert violations(rules.storage_class_retains_volumes, storage_class) != []
    assert violations(rules.storage_class_retains_volumes, defaulted) != []


@pytest.mark.parametrize(
    "edit",
    [
        lambda pod: pod["containers"][0]["securityContext"].update(privileged=True),
        lambda pod: pod.update(hostNetwork=True),
        lambda pod: pod.update(hostPID=True),
        lambda pod: pod["containers"][0]["securityContext"]["capabilities"]["add"].append("SYS_ADMIN"),
    ],
)
def test_privileged_pod_fails(dev_applied, edit):
    statefulset = copy.deepcopy(dev_applied.named("swarm-dev-swarms-agents-statefulset"))
    edit(statefulset.raw_inputs["spec"]["template"]["spec"])

    assert violations(rules.no_privileged_pods, statefulset) != []


def test_unprotected_control_plane_fails_outside_dev(prod_plan, dev_applied):
    cluster = prod_plan.named("swarm-prod-cluster")
    server = dev_applied.named("swarm-dev-server-0")

    assert violations(rules.control_plane_protected, cluster, protected=False) != []
    assert violations(rules.control_plane_protected, cluster, protected=True) == []
    assert violations(rules.control_plane_protected, server, protected=False) == []


def test_pack_wires_every_rule(monkeypatch, dev_applied):
    packs = []
    monkeypatch.setattr(pulumi_policy, "PolicyPack", lambda **kwargs: packs.append(kwargs))
    sys.modules.pop("__policy_main__", None)
    spec = importlib.util.spec_from_file_location("__policy_main__", ROOT / "policy" / "__main__.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    (pack,) = packs
    assert pack["enforcement_level"] == pulumi_policy.EnforcementLevel.MANDATORY
    by_name = {policy.name: policy for policy in pack["policies"]}
    assert set(by_name) == {"admin-ports-closed-to-world", "storage-class-retains-volumes", "no-privileged-pods", "control-plane-protected"}

    firewall = copy.deepcopy(dev_applied.named("swarm-dev-firewall"))
    firewall.raw_inputs["rules"][1]["sourceIps"] = ["0.0.0.0/0"]
    reported = []
    args = SimpleNamespace(resource_type=firewall.type, props=firewall.raw_inputs, urn=firewall.urn, opts=SimpleNamespace(protect=False))
    by_name["admin-ports-closed-to-world"].validate(args, lambda message, urn=None: reported.append(message))
    assert reported == ["firewall rule opens port 6443 to 0.0.0.0/0"]


def staging(resource):
    moved = copy.deepcopy(resource)
    moved.urn = moved.urn.replace("urn:pulumi:dev::", "urn:pulumi:staging::").replace("urn:pulumi:prod::", "urn:pulumi:staging::")
    return moved


def test_unprotected_k3s_server_fails_outside_dev(dev_applied, prod_plan):
    server = staging(dev_applied.named("swarm-dev-server-0"))
    agent = staging(dev_applied.named("swarm-dev-general-0"))
    cluster = staging(prod_plan.named("swarm-prod-cluster"))

    assert violations(rules.control_plane_protected, server, protected=False) != []
    assert violations(rules.control_plane_protected, cluster, protected=False) != []
    assert violations(rules.control_plane_protected, agent, protected=False) == []


@pytest.mark.parametrize("namespace", ["hostNetwork", "hostPID", "hostIPC"])
def test_host_namespaces_fail_in_deployment(dev_applied, namespace):
    deployment = copy.deepcopy(dev_applied.named("swarm-dev-ssh-deployment"))
    deployment.raw_inputs["spec"]["template"]["spec"][namespace] = True

    assert violations(rules.no_privileged_pods, deployment) == [f"pod sets {namespace}: true"]


def test_privileged_init_container_fails(dev_applied):
    statefulset = copy.deepcopy(dev_applied.named("swarm-dev-swarms-agents-statefulset"))
    statefulset.raw_inputs["spec"]["template"]["spec"]["initContainers"] = [{"name": "setup", "securityContext": {"privileged": True}}]

    assert violations(rules.no_privileged_pods, statefulset) == ["container setup is privileged"]


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"direction": "in", "protocol": "tcp", "port": "20-30", "sourceIps": ["0.0.0.0/0"]}, ["firewall rule opens port 22 to 0.0.0.0/0"]),
        ({"direction": "in", "protocol": "tcp", "port": "6000-7000", "sourceIps": ["0::/0"]}, ["firewall rule opens port 6443 to 0::/0"]),
        ({"direction": "in", "port": "22", "sourceIps": ["::/0"]}, ["firewall rule opens port 22 to ::/0"]),
        ({"direction": "in", "protocol": "udp", "port": "22", "sourceIps": ["0.0.0.0/0"]}, []),
        ({"direction": "in", "protocol": "tcp", "port": "8080", "sourceIps": ["0.0.0.0/0"]}, []),
    ],
)
def test_firewall_rule_shapes(dev_applied, rule, expected):
    firewall = copy.deepcopy(dev_applied.named("swarm-dev-firewall"))
    firewall.raw_inputs["rules"] = [rule]

    assert violations(rules.admin_ports_closed_to_world, firewall) == expected
