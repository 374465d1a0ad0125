"""The same swarms on every platform: switching swarm:platform leaves the workloads as they are."""

from __future__ import annotations

import copy

import pytest
import yaml

from stacks.plan import ROOT, Plan, run_plan
from tests.components.test_kubernetes_objects import kubernetes_objects, manifest, validation_error
from tests.conftest import dev_config
from tests.engine import ApplyMocks

PLATFORM_SECTIONS = {
    "hetzner-k3s": ("dev", "swarm:hetzner"),
    "doks": ("prod", "swarm:doks"),
    "kubeconfig": ("local", "swarm:kubeconfig"),
}


def dev_swarms_on(platform: str) -> dict:
    """Return the dev stack's config with its swarms unchanged and the platform switched."""
    config = dev_config()
    stack, section = PLATFORM_SECTIONS[platform]
    source = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    config["swarm:platform"] = platform
    config[section] = copy.deepcopy(source[section])
    return config


@pytest.fixture(scope="module")
def plans(tmp_path_factory) -> dict[str, Plan]:
    folder = tmp_path_factory.mktemp("platforms")
    result = {}
    for platform in PLATFORM_SECTIONS:
        path = folder / "Pulumi.same.yaml"
        path.write_text(yaml.safe_dump({"config": dev_swarms_on(platform)}))
        result[platform] = run_plan(str(path), engine=ApplyMocks())
    return result


def container_of(plan: Plan) -> dict:
    spec = plan.named("swarm-same-swarms-agents-statefulset").raw_inputs["spec"]
    return spec["template"]["spec"]["containers"][0]


def test_same_containers_on_every_platform(plans):
    containers = {platform: container_of(plan) for platform, plan in plans.items()}

    assert containers["hetzner-k3s"] == containers["doks"]
    assert containers["doks"] == containers["kubeconfig"]


def test_same_workload_objects_on_every_platform(plans):
    # Workload resources are the children of SwarmWorkloads and SshEntry, whose type is in their URN.
    names = {
        platform: sorted(resource.name for resource in plan.resources if "swarm:workloads:" in resource.urn)
        for platform, plan in plans.items()
    }

    assert len(names["hetzner-k3s"]) > 10
    assert names["hetzner-k3s"] == names["doks"]
    assert names["doks"] == names["kubeconfig"]


def test_storage_class_follows_platform(plans):
    claims = {
        platform: plan.named("swarm-same-swarms-agents-statefulset").raw_inputs["spec"]["volumeClaimTemplates"][0]["spec"]
        for platform, plan in plans.items()
    }

    assert claims["hetzner-k3s"]["storageClassName"] == "hcloud-volumes-retain"
    assert claims["doks"]["storageClassName"] == "do-block-storage-swarm-retain"
    assert "storageClassName" not in claims["kubeconfig"]


@pytest.mark.parametrize("stack", ["prod", "local"])
def test_example_stack_objects_validate(stack):
    plan = run_plan(stack, engine=ApplyMocks())

    objects = kubernetes_objects(plan)
    assert objects
    for resource in objects:
        assert validation_error(manifest(resource)) == "", resource.name
