"""Every Kubernetes object the program registers validates against the cluster version's schema."""

from __future__ import annotations

import copy

import kubernetes_validate

from stacks.config import DEFAULT_K3S_VERSION
from stacks.plan import Plan, PlannedResource, run_plan
from tests.conftest import BOB_KEY, dev_config
from tests.engine import ApplyMocks

# The Kubernetes minor version that the default K3s release tag ships.
KUBERNETES_VERSION = DEFAULT_K3S_VERSION.removeprefix("v").split("+")[0]

# Pulumi-only types that are not Kubernetes API objects.
_NOT_API_OBJECTS = ("kubernetes:helm.sh/",)


def kubernetes_objects(plan: Plan) -> list[PlannedResource]:
    return [
        resource
        for resource in plan.resources
        if resource.type.startswith("kubernetes:") and not resource.type.startswith(_NOT_API_OBJECTS)
    ]


def manifest(resource: PlannedResource) -> dict:
    return copy.deepcopy(resource.raw_inputs)


def validation_error(document: dict) -> str:
    try:
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        return str(error)
    return ""


def two_swarm_plan(write_stack) -> Plan:
    config = dev_config()
    config["swarm:swarms"].append(
        {"name": "research", "replicas": 2, "cpu": "500m", "memory": "1Gi", "storage": "10Gi", "sshPublicKeys": [BOB_KEY]}
    )
    return run_plan(str(write_stack(config)), engine=ApplyMocks())


def test_dev_objects_validate(dev_applied):
    objects = kubernetes_objects(dev_applied)
    kinds = {resource.raw_inputs["kind"] for resource in objects}

    assert {"Namespace", "StatefulSet", "Service", "ConfigMap", "Secret", "StorageClass", "Deployment", "NetworkPolicy"} <= kinds
    for resource in objects:
        assert validation_error(manifest(resource)) == "", resource.name


def test_two_swarm_objects_validate(write_stack):
    for resource in kubernetes_objects(two_swarm_plan(write_stack)):
        assert validation_error(manifest(resource)) == "", resource.name


def test_validator_catches_bad_statefulset(dev_applied):
    document = manifest(dev_applied.named("swarm-dev-swarms-agents-statefulset"))
    document["spec"]["replicas"] = "three"

    assert validation_error(document) != ""


def test_validator_catches_unknown_field(dev_applied):
    document = manifest(dev_applied.named("swarm-dev-swarms-agents-service"))
    document["spec"]["clusterIp"] = "None"

    assert validation_error(document) != ""
