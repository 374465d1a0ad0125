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

CRD_TYPE = "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"


def custom_resource_types(plan: Plan) -> set[str]:
    """Return the Pulumi types of the kinds that the plan's own CRDs define, which no built-in schema covers."""
    types = set()
    for crd in plan.of_type(CRD_TYPE):
        spec = crd.raw_inputs["spec"]
        for version in spec["versions"]:
            types.add(f"kubernetes:{spec['group']}/{version['name']}:{spec['names']['kind']}")
    return types


def kubernetes_objects(plan: Plan) -> list[PlannedResource]:
    """Return the built-in Kubernetes objects of a plan: no Helm releases and no custom resources."""
    custom = custom_resource_types(plan)
    return [
        resource
        for resource in plan.resources
        if resource.type.startswith("kubernetes:")
        and not resource.type.startswith(_NOT_API_OBJECTS)
        and resource.type not in custom
    ]


def manifest(resource: PlannedResource) -> dict:
    """Return the object as the Kubernetes provider sends it to the API server."""
    return _kubernetes_keys(copy.deepcopy(resource.raw_inputs))


def _kubernetes_keys(value):
    # The Python SDK names the schema extensions x_kubernetes_*, and the
    # pulumi-kubernetes provider turns them into the API's x-kubernetes-*
    # keys (its TestParseOldCheckpointObject checks the conversion).
    if isinstance(value, dict):
        return {
            (key.replace("_", "-") if key.startswith("x_kubernetes_") else key): _kubernetes_keys(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_kubernetes_keys(item) for item in value]
    return value


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
    assert {"CustomResourceDefinition", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"} <= kinds
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


def test_custom_resources_left_to_their_crd(dev_applied):
    names = {resource.name for resource in kubernetes_objects(dev_applied)}

    assert "swarm-dev-upgrades-plan-crd" in names
    assert "swarm-dev-upgrades-server-plan" not in names
    assert "swarm-dev-upgrades-agent-plan" not in names


def test_crd_schema_uses_api_key_names(dev_applied):
    document = manifest(dev_applied.named("swarm-dev-upgrades-plan-crd"))
    spec_schema = document["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]

    assert spec_schema["x-kubernetes-preserve-unknown-fields"] is True
    assert "x_kubernetes_preserve_unknown_fields" not in spec_schema


def test_validator_catches_bad_crd_schema(dev_applied):
    document = manifest(dev_applied.named("swarm-dev-upgrades-plan-crd"))
    document["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["required"] = "upgrade"

    assert validation_error(document) != ""
