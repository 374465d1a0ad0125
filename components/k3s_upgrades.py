"""`K3sUpgrades`: Rancher's system-upgrade-controller and the Plans that upgrade K3s in place.

Each node's user data installs the configured K3s release when its Hetzner
server is created, and a running server never takes new user data. Upgrades
of running nodes therefore happen inside the cluster: the controller runs a Job
on each node that a Plan selects, and the Job replaces the K3s binary and
restarts K3s. The Plans carry `swarm:hetzner.k3sVersion`, so a new version in
the config changes these two objects and no server.

The objects mirror the controller's release manifests as typed objects, so
that `pulumi up` downloads no manifest at run time. Sources:
rancher/system-upgrade-controller `manifests/` (RBAC and settings) and its
generated CRD `pkg/crds/yaml/generated/upgrade.cattle.io_plans.yaml`;
Rancher's chart of the controller, rancher/charts
`charts/system-upgrade-controller/110.0.0` and `111.0.0` (Deployment and
image tags); and
the K3s documentation "Automated Upgrades" (docs.k3s.io/upgrades/automated)
for the two Plans.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.k3s_cloud_init import CONTROL_PLANE_TAINT_KEY

# Both tags are pinned in rancher/charts
# charts/system-upgrade-controller/111.0.0/values.yaml, read on 2026-12-04.
# The controller's Jobs run the kubectl image to cordon a node, and kuberlr
# in it chooses a kubectl that matches the API server's version.
# TODO: pin both images by digest too; a tag alone trusts Docker Hub never to
# publish other content under it.
CONTROLLER_IMAGE = "rancher/system-upgrade-controller:v0.20.1"
KUBECTL_IMAGE = "rancher/kuberlr-kubectl:v8.1.2"

# Published by the K3s project for every K3s release. The controller adds the
# Plan's version as the tag, with "+" replaced by "-" (v1.34.1-k3s1).
K3S_UPGRADE_IMAGE = "rancher/k3s-upgrade"

NAMESPACE = "system-upgrade"
SERVICE_ACCOUNT = "system-upgrade"
SERVER_PLAN = "k3s-server"
AGENT_PLAN = "k3s-agent"

PLAN_GROUP = "upgrade.cattle.io"
PLAN_API_VERSION = f"{PLAN_GROUP}/v1"

# K3s labels every server with this role, and no agent.
CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane"

# The controller reads its own name from this pod label, and the release
# manifest sets it so that a drain skips the controller's pod.
_CONTROLLER_LABEL = "upgrade.cattle.io/controller"
_CONTROLLER_NAME = "system-upgrade-controller"

# The controller's settings, as its release manifest sets them, with the
# kubectl image of Rancher's chart.
_CONTROLLER_ENV = {
    "SYSTEM_UPGRADE_CONTROLLER_DEBUG": "false",
    "SYSTEM_UPGRADE_CONTROLLER_THREADS": "2",
    "SYSTEM_UPGRADE_CONTROLLER_LEADER_ELECT": "true",
    "SYSTEM_UPGRADE_JOB_ACTIVE_DEADLINE_SECONDS": "900",
    "SYSTEM_UPGRADE_JOB_BACKOFF_LIMIT": "99",
    "SYSTEM_UPGRADE_JOB_IMAGE_PULL_POLICY": "Always",
    "SYSTEM_UPGRADE_JOB_KUBECTL_IMAGE": KUBECTL_IMAGE,
    "SYSTEM_UPGRADE_JOB_PRIVILEGED": "true",
    "SYSTEM_UPGRADE_JOB_TTL_SECONDS_AFTER_FINISH": "900",
    "SYSTEM_UPGRADE_PLAN_POLLING_INTERVAL": "15m",
}


class K3sUpgrades(pulumi.ComponentResource):
    """The Plan CRD, the controller with its RBAC and settings, and one Plan for servers and one for agents."""

    def __init__(self, name: str, k3s_version: str, opts: pulumi.ResourceOptions | None = None) -> None:
        """Create the controller and the Plans; pass the cluster's Kubernetes provider in `opts`."""
        super().__init__("swarm:hetzner:K3sUpgrades", name, None, opts)
        labels = {"app.kubernetes.io/name": _CONTROLLER_NAME, "app.kubernetes.io/part-of": "swarm"}

        # The Plan kind. Newer controller releases ship it as crd.yaml beside
        # the controller manifest, and the K3s documentation applies it first,
        # so that Plans never race the controller's start.
        crd = _plan_crd(name, pulumi.ResourceOptions(parent=self))

        # The upgrade Jobs share the host's PID, IPC and network namespaces
        # and mount its root filesystem, so the namespace allows privileged pods.
        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=NAMESPACE,
                labels={**labels, "pod-security.kubernetes.io/enforce": "privileged"},
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        in_namespace = pulumi.ResourceOptions(parent=self, depends_on=[namespace])

        # One service account for the controller and for its Jobs, which
        # read the server Plan and cordon their node.
        service_account = k8s.core.v1.ServiceAccount(
            f"{name}-service-account",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=SERVICE_ACCOUNT, namespace=NAMESPACE, labels=labels),
            opts=in_namespace,
        )
        access = self._rbac(name, labels, in_namespace)
        settings = k8s.core.v1.ConfigMap(
            f"{name}-config",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="default-controller-env", namespace=NAMESPACE, labels=labels),
            data=_CONTROLLER_ENV,
            opts=in_namespace,
        )
        controller_labels = {**labels, _CONTROLLER_LABEL: _CONTROLLER_NAME}
        # The controller calls only the Kubernetes API, through the kubernetes
        # Service's port 443, which K3s forwards to port 6443 of the servers.
        k8s.networking.v1.NetworkPolicy(
            f"{name}-network-policy",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=_CONTROLLER_NAME, namespace=NAMESPACE, labels=labels),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=controller_labels),
                policy_types=["Ingress", "Egress"],
                egress=[
                    k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                        ports=[
                            k8s.networking.v1.NetworkPolicyPortArgs(protocol="TCP", port=443),
                            k8s.networking.v1.NetworkPolicyPortArgs(protocol="TCP", port=6443),
                        ]
                    )
                ],
            ),
            opts=in_namespace,
        )
        # NOTE: the controller's objects mirror its release manifest but have
        # not been run on a cluster here. The read-only root filesystem and
        # the network policy are additions of this project.
        controller = k8s.apps.v1.Deployment(
            f"{name}-controller",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=_CONTROLLER_NAME,
                namespace=NAMESPACE,
                labels=labels,
                annotations={
                    "checkov.io/skip1": "CKV_K8S_8=the controller serves no health endpoint to probe",
                    "checkov.io/skip2": "CKV_K8S_9=the controller serves no health endpoint to probe",
                    "checkov.io/skip3": "CKV_K8S_38=the controller calls the Kubernetes API with its token",
                    "checkov.io/skip4": "CKV_K8S_43=pinned by release tag; no digest recorded yet",
                },
            ),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=1,
                # Never two controllers at once, even during a rollout.
                strategy=k8s.apps.v1.DeploymentStrategyArgs(type="Recreate"),
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels={_CONTROLLER_LABEL: _CONTROLLER_NAME}),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=controller_labels),
                    spec=_controller_pod_spec(settings),
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[namespace, service_account, settings, *access]),
        )

        # The Plans come after the CRD, so that the first `pulumi up` never
        # registers a Plan of an unknown kind, and after the controller is
        # ready to act on them.
        after_controller = pulumi.ResourceOptions(parent=self, depends_on=[crd, controller])
        server_plan = k8s.apiextensions.CustomResource(
            f"{name}-server-plan",
            api_version=PLAN_API_VERSION,
            kind="Plan",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=SERVER_PLAN, namespace=NAMESPACE, labels=labels),
            spec=server_plan_spec(k3s_version),
            opts=after_controller,
        )
        k8s.apiextensions.CustomResource(
            f"{name}-agent-plan",
            api_version=PLAN_API_VERSION,
            kind="Plan",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=AGENT_PLAN, namespace=NAMESPACE, labels=labels),
            spec=agent_plan_spec(k3s_version),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[crd, controller, server_plan]),
        )

        self.register_outputs({})

    def _rbac(
        self, name: str, labels: dict[str, str], opts: pulumi.ResourceOptions
    ) -> list[pulumi.Resource]:
        """Create the controller's roles and bind them to its service account, as the release manifest does."""
        subject = k8s.rbac.v1.SubjectArgs(kind="ServiceAccount", name=SERVICE_ACCOUNT, namespace=NAMESPACE)
        cluster_role = k8s.rbac.v1.ClusterRole(
            f"{name}-cluster-role",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=_CONTROLLER_NAME, labels=labels),
            rules=_CLUSTER_RULES,
            opts=pulumi.ResourceOptions(parent=self),
        )
        cluster_binding = k8s.rbac.v1.ClusterRoleBinding(
            f"{name}-cluster-role-binding",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=SERVICE_ACCOUNT, labels=labels),
            role_ref=k8s.rbac.v1.RoleRefArgs(
                api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=cluster_role.metadata.name
            ),
            subjects=[subject],
            opts=pulumi.ResourceOptions(parent=self),
        )
        role = k8s.rbac.v1.Role(
            f"{name}-role",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=_CONTROLLER_NAME, namespace=NAMESPACE, labels=labels),
            rules=_NAMESPACE_RULES,
            opts=opts,
        )
        binding = k8s.rbac.v1.RoleBinding(
            f"{name}-role-binding",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=SERVICE_ACCOUNT, namespace=NAMESPACE, labels=labels),
            role_ref=k8s.rbac.v1.RoleRefArgs(
                api_group="rbac.authorization.k8s.io", kind="Role", name=role.metadata.name
            ),
            subjects=[subject],
            opts=opts,
        )
        return [cluster_role, cluster_binding, role, binding]


# The controller pins each Job to the node it upgrades, so the Plans tolerate
# every taint: neither the servers' CriticalAddonsOnly taint nor any other may
# keep a node from its upgrade.
_EVERY_TAINT = [{"operator": "Exists"}]


def server_plan_spec(k3s_version: str) -> dict:
    """Build the Plan for K3s servers: one at a time so that three servers keep etcd quorum, each one cordoned."""
    return {
        "concurrency": 1,
        "cordon": True,
        "version": k3s_version,
        "nodeSelector": {"matchExpressions": [{"key": CONTROL_PLANE_LABEL, "operator": "In", "values": ["true"]}]},
        "serviceAccountName": SERVICE_ACCOUNT,
        "tolerations": _EVERY_TAINT,
        "upgrade": {"image": K3S_UPGRADE_IMAGE},
    }


def agent_plan_spec(k3s_version: str) -> dict:
    """Build the Plan for K3s agents: one at a time, after every server runs the new version."""
    return {
        "concurrency": 1,
        # Cordon, not drain. Every SwarmContainer mounts a ReadWriteOnce
        # Hetzner volume and runs a developer's SSH sessions and processes.
        # A drain would stop them all and move each volume to wherever the
        # pod lands next. Stopping K3s leaves its containers running
        # (docs.k3s.io/upgrades/killall), so with a cordon they keep running
        # through the restart, and the cordon only keeps new pods off the node
        # until the Job ends. The K3s documentation's agent plan also cordons
        # without a drain.
        "cordon": True,
        "version": k3s_version,
        "nodeSelector": {"matchExpressions": [{"key": CONTROL_PLANE_LABEL, "operator": "DoesNotExist"}]},
        "serviceAccountName": SERVICE_ACCOUNT,
        "tolerations": _EVERY_TAINT,
        # The k3s-upgrade image's prepare step waits until the server Plan
        # applies to no node and every server reports the Plan's version.
        "prepare": {"image": K3S_UPGRADE_IMAGE, "args": ["prepare", SERVER_PLAN]},
        "upgrade": {"image": K3S_UPGRADE_IMAGE},
    }


def _controller_pod_spec(settings: k8s.core.v1.ConfigMap) -> k8s.core.v1.PodSpecArgs:
    env_source = k8s.core.v1.EnvVarSourceArgs
    return k8s.core.v1.PodSpecArgs(
        service_account_name=SERVICE_ACCOUNT,
        enable_service_links=False,
        # On the servers, away from the swarms' capacity, as in the release
        # manifest. With agents, the servers are tainted, so the controller
        # tolerates the taint.
        affinity=k8s.core.v1.AffinityArgs(
            node_affinity=k8s.core.v1.NodeAffinityArgs(
                required_during_scheduling_ignored_during_execution=k8s.core.v1.NodeSelectorArgs(
                    node_selector_terms=[
                        k8s.core.v1.NodeSelectorTermArgs(
                            match_expressions=[
                                k8s.core.v1.NodeSelectorRequirementArgs(
                                    key=CONTROL_PLANE_LABEL, operator="In", values=["true"]
                                )
                            ]
                        )
                    ]
                )
            )
        ),
        tolerations=[k8s.core.v1.TolerationArgs(key=CONTROL_PLANE_TAINT_KEY, operator="Exists")],
        security_context=k8s.core.v1.PodSecurityContextArgs(
            run_as_non_root=True,
            run_as_user=65534,
            run_as_group=65534,
            seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
        ),
        containers=[
            k8s.core.v1.ContainerArgs(
                name=_CONTROLLER_NAME,
                image=CONTROLLER_IMAGE,
                image_pull_policy="Always",
                env_from=[
                    k8s.core.v1.EnvFromSourceArgs(
                        config_map_ref=k8s.core.v1.ConfigMapEnvSourceArgs(name=settings.metadata.name)
                    )
                ],
                env=[
                    k8s.core.v1.EnvVarArgs(
                        name="SYSTEM_UPGRADE_CONTROLLER_NAME",
                        value_from=env_source(
                            field_ref=k8s.core.v1.ObjectFieldSelectorArgs(
                                field_path=f"metadata.labels['{_CONTROLLER_LABEL}']"
                            )
                        ),
                    ),
                    k8s.core.v1.EnvVarArgs(
                        name="SYSTEM_UPGRADE_CONTROLLER_NAMESPACE",
                        value_from=env_source(field_ref=k8s.core.v1.ObjectFieldSelectorArgs(field_path="metadata.namespace")),
                    ),
                    k8s.core.v1.EnvVarArgs(
                        name="SYSTEM_UPGRADE_CONTROLLER_NODE_NAME",
                        value_from=env_source(field_ref=k8s.core.v1.ObjectFieldSelectorArgs(field_path="spec.nodeName")),
                    ),
                ],
                # An estimate for one controller that watches two Plans; not measured.
                resources=k8s.core.v1.ResourceRequirementsArgs(
                    requests={"cpu": "10m", "memory": "64Mi"},
                    limits={"cpu": "500m", "memory": "256Mi"},
                ),
                # The release manifest mounts a writable /tmp for the controller.
                security_context=k8s.core.v1.SecurityContextArgs(
                    allow_privilege_escalation=False,
                    read_only_root_filesystem=True,
                    capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
                ),
                volume_mounts=[k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp")],
            )
        ],
        # The release manifest also mounts the host's CA certificates, which
        # the controller needs to resolve a Plan's `channel` URL. These Plans
        # name a version and no channel, so the controller calls only the
        # Kubernetes API, whose CA comes with the service account token.
        volumes=[k8s.core.v1.VolumeArgs(name="tmp", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs())],
    )


def _rule(
    api_groups: list[str], resources: list[str], verbs: list[str], names: list[str] | None = None
) -> k8s.rbac.v1.PolicyRuleArgs:
    return k8s.rbac.v1.PolicyRuleArgs(api_groups=api_groups, resources=resources, verbs=verbs, resource_names=names)


# The cluster-wide rules of the controller's release manifest, plus `patch` on
# nodes for the Jobs' `kubectl cordon`. The Plans never drain, so the
# manifest's drainer role (pod eviction and deletion) is left out.
_CLUSTER_RULES = [
    _rule(["batch"], ["jobs"], ["get", "list", "watch"]),
    _rule(["apiextensions.k8s.io"], ["customresourcedefinitions"], ["get", "list", "watch", "create", "patch", "update"]),
    _rule([""], ["namespaces", "nodes"], ["get", "list", "watch"]),
    _rule([""], ["nodes"], ["update", "patch"]),
    _rule([""], ["events"], ["get", "create", "patch", "update"]),
    _rule(["coordination.k8s.io"], ["leases"], ["create"]),
    _rule(["coordination.k8s.io"], ["leases"], ["get", "update"], names=[_CONTROLLER_NAME]),
    _rule([PLAN_GROUP], ["plans", "plans/status"], ["get", "list", "watch", "create", "patch", "update", "delete"]),
]

# The rules in the controller's own namespace: its Jobs, and the Secrets a
# Plan may mount into them.
_NAMESPACE_RULES = [
    _rule(["batch"], ["jobs"], ["create", "delete", "deletecollection", "patch", "update", "get", "list", "watch"]),
    _rule([""], ["secrets"], ["get", "list", "watch"]),
]


def _plan_crd(name: str, opts: pulumi.ResourceOptions) -> k8s.apiextensions.v1.CustomResourceDefinition:
    """Create the CustomResourceDefinition of the Plan kind, with the fields of the controller's generated CRD.

    The schema types every field these Plans set and the status the controller
    writes. It keeps fields it does not list, so a newer controller's fields
    are never pruned.
    """
    schema = k8s.apiextensions.v1.JSONSchemaPropsArgs
    return k8s.apiextensions.v1.CustomResourceDefinition(
        f"{name}-plan-crd",
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=f"plans.{PLAN_GROUP}",
            # NOTE: the controller applies its own copy of this CRD when it
            # starts, which makes it a co-owner of these fields. Pulumi
            # therefore forces its server-side apply, and the controller
            # restores its copy at its next start. Source, not seen on a
            # cluster: github.com/rancher/rancher/pull/56414.
            annotations={"pulumi.com/patchForce": "true"},
        ),
        spec=k8s.apiextensions.v1.CustomResourceDefinitionSpecArgs(
            group=PLAN_GROUP,
            scope="Namespaced",
            names=k8s.apiextensions.v1.CustomResourceDefinitionNamesArgs(
                kind="Plan", list_kind="PlanList", plural="plans", singular="plan"
            ),
            versions=[
                k8s.apiextensions.v1.CustomResourceDefinitionVersionArgs(
                    name="v1",
                    served=True,
                    storage=True,
                    # The controller writes the status through its own endpoint.
                    subresources=k8s.apiextensions.v1.CustomResourceSubresourcesArgs(status={}),
                    additional_printer_columns=_PRINTER_COLUMNS,
                    schema=k8s.apiextensions.v1.CustomResourceValidationArgs(
                        open_apiv3_schema=schema(
                            type="object",
                            properties={
                                "apiVersion": _string(),
                                "kind": _string(),
                                "metadata": schema(type="object"),
                                "spec": _plan_spec_schema(),
                                "status": _plan_status_schema(),
                            },
                        )
                    ),
                )
            ],
        ),
        opts=opts,
    )


def _column(
    name: str, path: str, priority: int | None = None
) -> k8s.apiextensions.v1.CustomResourceColumnDefinitionArgs:
    return k8s.apiextensions.v1.CustomResourceColumnDefinitionArgs(
        name=name, type="string", json_path=path, priority=priority
    )


# The columns of `kubectl get plans`, as the controller's CRD defines them.
_PRINTER_COLUMNS = [
    _column("Image", ".spec.upgrade.image"),
    _column("Channel", ".spec.channel"),
    _column("Version", ".spec.version"),
    _column("Complete", ".status.conditions[?(@.type=='Complete')].status"),
    _column("Message", ".status.conditions[?(@.message!='')].message"),
    _column("Applying", ".status.applying", priority=10),
]


def _string() -> k8s.apiextensions.v1.JSONSchemaPropsArgs:
    return k8s.apiextensions.v1.JSONSchemaPropsArgs(type="string")


def _boolean() -> k8s.apiextensions.v1.JSONSchemaPropsArgs:
    return k8s.apiextensions.v1.JSONSchemaPropsArgs(type="boolean")


def _integer(format: str | None = None) -> k8s.apiextensions.v1.JSONSchemaPropsArgs:
    return k8s.apiextensions.v1.JSONSchemaPropsArgs(type="integer", format=format)


def _list_of(item: k8s.apiextensions.v1.JSONSchemaPropsArgs) -> k8s.apiextensions.v1.JSONSchemaPropsArgs:
    return k8s.apiextensions.v1.JSONSchemaPropsArgs(type="array", items=item)


def _string_map() -> k8s.apiextensions.v1.JSONSchemaPropsArgs:
    return k8s.apiextensions.v1.JSONSchemaPropsArgs(type="object", additional_properties=_string())


def _object(properties: dict, required: list[str] | None = None) -> k8s.apiextensions.v1.JSONSchemaPropsArgs:
    """Build an object schema that validates `properties` and keeps any other field."""
    return k8s.apiextensions.v1.JSONSchemaPropsArgs(
        type="object", properties=properties, required=required, x_kubernetes_preserve_unknown_fields=True
    )


def _any_object() -> k8s.apiextensions.v1.JSONSchemaPropsArgs:
    return k8s.apiextensions.v1.JSONSchemaPropsArgs(type="object", x_kubernetes_preserve_unknown_fields=True)


def _container_schema() -> k8s.apiextensions.v1.JSONSchemaPropsArgs:
    """Build the schema of a Plan's `prepare` and `upgrade` containers."""
    return _object(
        {
            "image": _string(),
            "command": _list_of(_string()),
            "args": _list_of(_string()),
            "envs": _list_of(_any_object()),
            "envFrom": _list_of(_any_object()),
            "volumes": _list_of(_any_object()),
            "securityContext": _any_object(),
        },
        required=["image"],
    )


def _plan_spec_schema() -> k8s.apiextensions.v1.JSONSchemaPropsArgs:
    selector_requirement = _object(
        {"key": _string(), "operator": _string(), "values": _list_of(_string())}, required=["key", "operator"]
    )
    toleration = _object(
        {
            "key": _string(),
            "operator": _string(),
            "value": _string(),
            "effect": _string(),
            "tolerationSeconds": _integer("int64"),
        }
    )
    drain = _object(
        {
            "deleteEmptydirData": _boolean(),
            "deleteLocalData": _boolean(),
            "disableEviction": _boolean(),
            "force": _boolean(),
            "gracePeriod": _integer("int32"),
            "ignoreDaemonSets": _boolean(),
            "skipWaitForDeleteTimeout": _integer(),
            "timeout": k8s.apiextensions.v1.JSONSchemaPropsArgs(
                any_of=[_integer(), _string()], x_kubernetes_int_or_string=True
            ),
            "podSelector": _any_object(),
        }
    )
    return _object(
        {
            "channel": _string(),
            "version": _string(),
            "concurrency": _integer("int64"),
            "cordon": _boolean(),
            "drain": drain,
            "exclusive": _boolean(),
            "serviceAccountName": _string(),
            "nodeSelector": _object(
                {"matchExpressions": _list_of(selector_requirement), "matchLabels": _string_map()}
            ),
            "tolerations": _list_of(toleration),
            "prepare": _container_schema(),
            "upgrade": _container_schema(),
            "secrets": _list_of(_object({"name": _string(), "path": _string(), "ignoreUpdates": _boolean()})),
            "imagePullSecrets": _list_of(_object({"name": _string()})),
            "jobActiveDeadlineSecs": _integer("int64"),
            "postCompleteDelay": _string(),
            "postCompleteLabels": _string_map(),
            "window": _object(
                {
                    "days": _list_of(_string()),
                    "startTime": _string(),
                    "endTime": _string(),
                    "timeZone": _string(),
                }
            ),
        },
        required=["upgrade"],
    )


def _plan_status_schema() -> k8s.apiextensions.v1.JSONSchemaPropsArgs:
    condition = k8s.apiextensions.v1.JSONSchemaPropsArgs(
        type="object",
        properties={
            "type": _string(),
            "status": _string(),
            "reason": _string(),
            "message": _string(),
            "lastUpdateTime": _string(),
            "lastTransitionTime": _string(),
        },
        required=["type", "status"],
    )
    return _object(
        {
            "applying": _list_of(_string()),
            "conditions": k8s.apiextensions.v1.JSONSchemaPropsArgs(
                type="array", items=condition, x_kubernetes_list_type="map", x_kubernetes_list_map_keys=["type"]
            ),
            "latestHash": _string(),
            "latestVersion": _string(),
        }
    )
