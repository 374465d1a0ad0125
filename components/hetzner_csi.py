"""`HetznerCsiDriver`: the Hetzner Cloud CSI driver and the storage class of the workspaces."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

# Chart of hetznercloud/csi-driver, read from its chart/Chart.yaml on 2026-12-04.
CSI_CHART_VERSION = "2.19.0"
CSI_CHART_REPOSITORY = "https://charts.hetzner.cloud"
STORAGE_CLASS_NAME = "hcloud-volumes-retain"


class HetznerCsiDriver(pulumi.ComponentResource):
    """The CSI driver's API token secret, its Helm release and a storage class that keeps volumes.

    Outputs:
        storage_class_name: name of the default storage class, backed by Hetzner volumes.
    """

    storage_class_name: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        hcloud_token: pulumi.Input[str],
        location: str,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("swarm:hetzner:CsiDriver", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        # The chart reads the API token from the secret "hcloud", key "token",
        # in its own namespace.
        token_secret = k8s.core.v1.Secret(
            f"{name}-token",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="hcloud", namespace="kube-system"),
            type="Opaque",
            string_data={"token": pulumi.Output.secret(hcloud_token)},
            opts=child,
        )
        release = k8s.helm.v3.Release(
            f"{name}-release",
            name="hcloud-csi",
            chart="hcloud-csi",
            version=CSI_CHART_VERSION,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=CSI_CHART_REPOSITORY),
            namespace="kube-system",
            values={
                "controller": {"hcloudVolumeDefaultLocation": location},
                # The chart's own class deletes volumes with their claims; the
                # class below keeps them, so a removed swarm leaves its data.
                "storageClasses": [],
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[token_secret]),
        )

        storage_class = k8s.storage.v1.StorageClass(
            f"{name}-storage-class",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=STORAGE_CLASS_NAME,
                annotations={"storageclass.kubernetes.io/is-default-class": "true"},
            ),
            provisioner="csi.hetzner.cloud",
            reclaim_policy="Retain",
            volume_binding_mode="WaitForFirstConsumer",
            allow_volume_expansion=True,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[release]),
        )

        self.storage_class_name = storage_class.metadata.name
        self.register_outputs({"storage_class_name": self.storage_class_name})
