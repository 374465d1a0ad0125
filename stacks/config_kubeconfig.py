"""The `swarm:kubeconfig` config: an existing cluster reached through a kubeconfig."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, field_validator, model_validator

from stacks.config_base import ConfigModel, WholeNumber
from stacks.config_checks import check_dns_subdomain, check_host_address

# Kubernetes' default NodePort range (kube-apiserver --service-node-port-range).
NODE_PORT_RANGE = range(30000, 32768)
DEFAULT_SSH_NODE_PORT = 30022


class KubeconfigConfig(ConfigModel):
    """The `swarm:kubeconfig` object: which cluster, which storage class, and how SSH gets in."""

    path: Optional[str] = Field(
        default=None, description="kubeconfig file; default: $KUBECONFIG or ~/.kube/config", examples=["~/.kube/config"]
    )
    context: Optional[str] = Field(
        default=None, description="kubeconfig context; default: the current context", examples=["k3d-swarm"]
    )
    storage_class: Optional[str] = Field(
        default=None, description="storage class of the workspaces; default: the cluster's default class", examples=["local-path"]
    )
    ssh_service: Literal["NodePort", "LoadBalancer"] = Field(
        default="NodePort", description="how SSH reaches the jump host", examples=["NodePort"]
    )
    ssh_host: Optional[str] = Field(
        default=None, description="address clients use to reach the node port; NodePort only", examples=["127.0.0.1"]
    )
    ssh_port: Optional[WholeNumber] = Field(
        default=None,
        description="NodePort: the node port, 30000-32767, default 30022; LoadBalancer: the load balancer's port, default 22",
        examples=[DEFAULT_SSH_NODE_PORT],
    )

    @field_validator("storage_class")
    @classmethod
    def _storage_class_is_name(cls, value: Optional[str]) -> Optional[str]:
        return None if value is None else check_dns_subdomain(value)

    @field_validator("ssh_host")
    @classmethod
    def _ssh_host_is_address(cls, value: Optional[str]) -> Optional[str]:
        return None if value is None else check_host_address(value)

    def client_port(self) -> int:
        """Return the port that SSH clients connect to."""
        if self.ssh_port is not None:
            return self.ssh_port
        return DEFAULT_SSH_NODE_PORT if self.ssh_service == "NodePort" else 22

    @model_validator(mode="after")
    def _ssh_settings_fit_service(self) -> KubeconfigConfig:
        if self.ssh_service == "NodePort":
            if self.client_port() not in NODE_PORT_RANGE:
                raise ValueError(
                    f"swarm:kubeconfig.sshPort = {self.ssh_port} is outside the NodePort range 30000-32767; "
                    f"use {DEFAULT_SSH_NODE_PORT}, and map it to a host port in your cluster if needed"
                )
            if self.ssh_host is None:
                raise ValueError(
                    "swarm:kubeconfig.sshHost is required with sshService NodePort: the address where clients "
                    "reach the node port, such as 127.0.0.1 for k3d or kind with a port mapping; set it with: "
                    "pulumi config set --path 'swarm:kubeconfig.sshHost' 127.0.0.1"
                )
        else:
            if self.ssh_host is not None:
                raise ValueError(
                    "swarm:kubeconfig.sshHost applies only to sshService NodePort; with LoadBalancer the "
                    "address comes from the cluster; remove it with: pulumi config rm --path 'swarm:kubeconfig.sshHost'"
                )
            if not 1 <= self.client_port() <= 65535:
                raise ValueError(f"swarm:kubeconfig.sshPort = {self.ssh_port} must be a port from 1 to 65535")
        return self
