"""`ExistingCluster`: a cluster that already exists, reached through a kubeconfig."""

from __future__ import annotations

import os
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from stacks.config_kubeconfig import KubeconfigConfig


class ExistingCluster(pulumi.ComponentResource):
    """A Kubernetes provider for a cluster that this stack does not create.

    Outputs:
        provider: Kubernetes provider that targets the cluster.
    """

    provider: k8s.Provider

    def __init__(
        self,
        name: str,
        config: KubeconfigConfig,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("swarm:kubeconfig:ExistingCluster", name, None, opts)

        # Without a path the provider reads $KUBECONFIG or ~/.kube/config,
        # as kubectl does.
        kubeconfig: Optional[str] = os.path.expanduser(config.path) if config.path else None
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=kubeconfig,
            context=config.context,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({})
