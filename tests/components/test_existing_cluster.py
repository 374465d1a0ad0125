"""Resource checks of the kubeconfig platform: only the workloads, on a cluster that exists."""

from __future__ import annotations

import os

import pytest
import yaml

from stacks.plan import ROOT, Plan, run_plan
from tests.conftest import dev_config
from tests.engine import ApplyMocks


def local_config() -> dict:
    return yaml.safe_load((ROOT / "Pulumi.local.yaml").read_text())["config"]


@pytest.fixture(scope="module")
def local_applied() -> Plan:
    return run_plan("local", engine=ApplyMocks())


def test_no_cloud_resources(local_applied):
    cloud = [resource.name for resource in local_applied.resources if resource.type.startswith(("hcloud:", "digitalocean:", "command:"))]

    assert cloud == []
    assert len(local_applied.of_type("pulumi:providers:kubernetes")) == 1


def test_provider_uses_context(local_applied):
    provider = local_applied.named("swarm-local-k8s").raw_inputs

    assert provider["context"] == "k3d-swarm"
    assert "kubeconfig" not in provider


def test_kubeconfig_path_expanded(write_stack):
    config = local_config()
    config["swarm:kubeconfig"]["path"] = "~/.kube/k3d.yaml"

    plan = run_plan(str(write_stack(config)))

    assert plan.named("swarm-test-k8s").inputs["kubeconfig"] == os.path.expanduser("~/.kube/k3d.yaml")


def test_default_storage_class_left_to_cluster(local_applied):
    claim = local_applied.named("swarm-local-swarms-agents-statefulset").raw_inputs["spec"]["volumeClaimTemplates"][0]

    assert "storageClassName" not in claim["spec"]


def test_configured_storage_class_used(write_stack):
    config = local_config()
    config["swarm:kubeconfig"]["storageClass"] = "local-path"

    plan = run_plan(str(write_stack(config)), engine=ApplyMocks())
    claim = plan.named("swarm-test-swarms-agents-statefulset").raw_inputs["spec"]["volumeClaimTemplates"][0]

    assert claim["spec"]["storageClassName"] == "local-path"


def test_node_port_ssh(local_applied):
    service = local_applied.named("swarm-local-ssh-service").raw_inputs["spec"]

    assert service["type"] == "NodePort"
    assert service["ports"][0]["nodePort"] == 30022
    assert local_applied.outputs["ssh_host"] == "127.0.0.1"
    assert "Port 30022" in local_applied.outputs["ssh_config"]


def test_load_balancer_ssh(write_stack):
    config = local_config()
    config["swarm:kubeconfig"] = {"sshService": "LoadBalancer"}

    plan = run_plan(str(write_stack(config)))
    service = plan.named("swarm-test-ssh-service").inputs["spec"]

    assert service["type"] == "LoadBalancer"
    assert service["ports"][0]["port"] == 22
    assert "nodePort" not in service["ports"][0]
    assert plan.outputs["ssh_host"] == "[unknown]"


def test_no_pool_affinity_on_existing_cluster(local_applied):
    pod = local_applied.named("swarm-local-swarms-agents-statefulset").raw_inputs["spec"]["template"]["spec"]

    assert "affinity" not in pod


def test_dev_swarms_run_unchanged_on_existing_cluster(write_stack):
    config = dev_config()
    config["swarm:platform"] = "kubeconfig"
    config["swarm:kubeconfig"] = local_config()["swarm:kubeconfig"]

    plan = run_plan(str(write_stack(config)))

    assert plan.named("swarm-test-swarms-agents-statefulset").inputs["spec"]["replicas"] == 3
    assert not [resource for resource in plan.resources if resource.type.startswith("hcloud:")]


def test_unused_admin_cidrs_warned(write_stack, monkeypatch):
    warnings = []
    monkeypatch.setattr("pulumi.log.warn", lambda message, *args, **kwargs: warnings.append(message))
    config = local_config()
    config["swarm:adminCidrs"] = ["203.0.113.7/32"]

    run_plan(str(write_stack(config)))

    assert any("swarm:adminCidrs is not used with swarm:platform kubeconfig" in message for message in warnings)
