"""Typed stack configuration: the `swarm:` keys of a `Pulumi.<stack>.yaml`.

Every model forbids unknown keys and validates its values, so that the
components receive a config that is already known to be complete and
consistent. `stacks.config_loader` turns validation errors into one-line
messages that name the key and the `pulumi config set` command that fixes it.
The platform sections live beside this module: `config_hetzner`,
`config_doks` and `config_kubeconfig`.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Optional

from pydantic import AfterValidator, Field, ValidationInfo, field_validator, model_validator

from stacks.config_base import ConfigModel, QuantityText, WholeNumber, duplicates, last_index
from stacks.config_checks import (
    check_admin_cidr,
    check_admin_cidr_list,
    check_dns_label,
    check_image_reference,
    check_quantity,
    check_ssh_public_key,
    nearest_name,
    parse_quantity,
)
from stacks.config_doks import DoksConfig
from stacks.config_hetzner import DEFAULT_K3S_VERSION, HetznerConfig
from stacks.config_kubeconfig import KubeconfigConfig
from stacks.config_pools import Taint

__all__ = [
    "DEFAULT_K3S_VERSION",
    "DEFAULT_SWARM_IMAGE",
    "DoksConfig",
    "HetznerConfig",
    "KubeconfigConfig",
    "StackConfig",
    "Swarm",
    "parse_quantity",
]

# The platforms, each with the config section it reads and whether it opens
# a Kubernetes API and nodes that swarm:adminCidrs must guard.
PLATFORM_SECTIONS = {"hetzner-k3s": "hetzner", "doks": "doks", "kubeconfig": "kubeconfig"}
PLATFORMS_WITH_ADMIN_ACCESS = ("hetzner-k3s", "doks")

DEFAULT_SWARM_IMAGE = "lscr.io/linuxserver/openssh-server:latest"

# The smallest volume each cloud platform creates: Hetzner 10 GB, DigitalOcean
# 1 GiB (the volume limits in stacks/price_catalog.yaml, with their sources).
MINIMUM_STORAGE = {"hetzner-k3s": "10Gi", "doks": "1Gi"}

# The SSH entry's namespace is swarm-ssh, so no swarm may be named ssh.
RESERVED_SWARM_NAMES = ("ssh",)


class Swarm(ConfigModel):
    """One swarm: a StatefulSet of SSH-accessible containers, each with its own workspace volume."""

    @property
    def running_replicas(self) -> int:
        """The containers that run: all of them, or none while the swarm is parked."""
        return self.replicas if self.running else 0

    name: str = Field(description="swarm name, used in namespaces, DNS names and SSH host aliases", examples=["agents"])
    replicas: WholeNumber = Field(ge=0, le=1000, description="number of containers", examples=[3])
    running: bool = Field(
        default=True,
        description="false parks the swarm: no containers run, and every workspace volume stays",
        examples=[False],
    )
    image: Annotated[str, AfterValidator(check_image_reference)] = Field(
        default=DEFAULT_SWARM_IMAGE, examples=[DEFAULT_SWARM_IMAGE]
    )
    cpu: QuantityText = Field(default="1", description="CPU request and limit per container", examples=["1"])
    memory: QuantityText = Field(default="2Gi", description="memory request and limit per container", examples=["2Gi"])
    storage: QuantityText = Field(default="20Gi", description="workspace volume size per container", examples=["20Gi"])
    ssh_public_keys: list[Annotated[str, AfterValidator(check_ssh_public_key)]] = Field(
        min_length=1, description="keys allowed into this swarm", examples=["ssh-ed25519 AAAA... you@host"]
    )
    ssh_user: str = Field(default="dev", description="login user inside each container", examples=["dev"])
    ssh_port: WholeNumber = Field(
        default=2222, ge=1, le=65535, description="port sshd listens on in the image", examples=[2222]
    )
    workspace_path: str = Field(default="/config", description="mount path of the workspace volume", examples=["/config"])
    pool: Optional[str] = Field(
        default=None,
        description="worker pool the containers run on; default: any pool without taints",
        examples=["general"],
    )

    @field_validator("name")
    @classmethod
    def _name_is_dns_label(cls, value: str) -> str:
        if value in RESERVED_SWARM_NAMES:
            raise ValueError(f"is reserved: the namespace swarm-{value} belongs to the SSH entry; choose another name")
        # 30 leaves room for the "swarm-" namespace prefix, the pod ordinal and
        # the controller-revision-hash label that Kubernetes derives from it.
        return check_dns_label(value, 30)

    @field_validator("cpu")
    @classmethod
    def _cpu_is_quantity(cls, value: str) -> str:
        return check_quantity(value, "1 or 500m", minimum="10m")

    @field_validator("memory")
    @classmethod
    def _memory_is_quantity(cls, value: str) -> str:
        return check_quantity(value, "2Gi", minimum="64Mi")

    @field_validator("storage")
    @classmethod
    def _storage_is_quantity(cls, value: str) -> str:
        return check_quantity(value, "20Gi", minimum="1Gi")

    @field_validator("ssh_user")
    @classmethod
    def _user_is_posix_name(cls, value: str) -> str:
        if not re.match(r"^[a-z_][a-z0-9_-]{0,31}$", value):
            raise ValueError("must be a POSIX user name such as 'dev'")
        return value

    @field_validator("workspace_path")
    @classmethod
    def _path_is_absolute(cls, value: str) -> str:
        if not value.startswith("/") or value.rstrip("/") == "":
            raise ValueError("must be an absolute directory path other than '/', such as /config")
        if value.rstrip("/") in ("/etc", "/etc/swarm") or value.startswith("/etc/swarm/"):
            raise ValueError("must not contain /etc/swarm, where the swarm's SSH keys are mounted; such as /config")
        return value


class StackConfig(ConfigModel):
    """All `swarm:` keys of one stack."""

    platform: Literal["hetzner-k3s", "doks", "kubeconfig"] = Field(
        description="where the cluster runs: hetzner-k3s, doks, or kubeconfig for an existing cluster",
        examples=["hetzner-k3s"],
    )
    # Declared before admin_cidrs, whose validator reads it.
    allow_public_admin: bool = Field(
        default=False,
        description="allow swarm:adminCidrs to cover the whole internet; logs a warning",
        examples=[True],
    )
    protect: Optional[bool] = Field(
        default=None,
        description="protect the cluster, control plane nodes, network and IPs from deletion; default: true for every stack but dev",
        examples=[True],
    )
    admin_cidrs: Optional[list[Annotated[str, AfterValidator(check_admin_cidr)]]] = Field(
        default=None,
        min_length=1,
        description="CIDRs allowed to reach the Kubernetes API and node SSH",
        examples=["203.0.113.7/32"],
    )
    hetzner: Optional[HetznerConfig] = Field(
        default=None,
        examples=['{"location": "fsn1", "controlPlane": {"serverType": "cx23", "count": 1}}'],
    )
    doks: Optional[DoksConfig] = Field(
        default=None,
        examples=['{"region": "fra1", "nodePools": [{"name": "general", "size": "s-4vcpu-8gb", "count": 2}]}'],
    )
    kubeconfig: Optional[KubeconfigConfig] = Field(
        default=None, examples=['{"context": "k3d-swarm", "sshHost": "127.0.0.1"}']
    )
    swarms: list[Swarm] = Field(
        min_length=1,
        examples=['{"name": "agents", "replicas": 3, "sshPublicKeys": ["ssh-ed25519 AAAA... you@host"]}'],
    )

    @field_validator("admin_cidrs")
    @classmethod
    def _cidrs_not_world(cls, cidrs: Optional[list[str]], info: ValidationInfo) -> Optional[list[str]]:
        if cidrs is None:
            return None
        return check_admin_cidr_list(cidrs, allow_public=bool(info.data.get("allow_public_admin")))

    @model_validator(mode="after")
    def _storage_fits_platform(self) -> StackConfig:
        minimum = MINIMUM_STORAGE.get(self.platform)
        if minimum is None:
            return self
        for index, swarm in enumerate(self.swarms):
            if parse_quantity(swarm.storage) < parse_quantity(minimum):
                raise ValueError(
                    f"swarm:swarms[{index}].storage = {swarm.storage} is below {minimum}, the smallest volume on "
                    f"{self.platform}; fix with: pulumi config set --path 'swarm:swarms[{index}].storage' {minimum}"
                )
        return self

    @model_validator(mode="after")
    def _swarm_pools_exist(self) -> StackConfig:
        pools = self.pool_names()
        for index, swarm in enumerate(self.swarms):
            if swarm.pool is None or (pools is not None and swarm.pool in pools):
                continue
            key = f"swarm:swarms[{index}].pool"
            if not pools:
                raise ValueError(
                    f"{key} = {swarm.pool}, but platform {self.platform} has no worker pools to choose from; "
                    f"remove the key with: pulumi config rm --path '{key}'"
                )
            nearest = nearest_name(swarm.pool, pools) or pools[0]
            raise ValueError(
                f"{key} = {swarm.pool} names no worker pool (pools: {', '.join(pools)}); "
                f"fix with: pulumi config set --path '{key}' {nearest}"
            )
        return self

    def pool_names(self) -> Optional[list[str]]:
        """List the worker pools that swarms may name, or None when the platform section is missing."""
        if self.platform == "hetzner-k3s":
            return None if self.hetzner is None else [pool.name for pool in self.hetzner.workers]
        if self.platform == "doks":
            return None if self.doks is None else [pool.name for pool in self.doks.node_pools]
        return []

    def pool_taints(self) -> dict[str, list[Taint]]:
        """Map each worker pool of the platform to its taints."""
        if self.platform == "hetzner-k3s" and self.hetzner is not None:
            return {pool.name: list(pool.taints) for pool in self.hetzner.workers}
        if self.platform == "doks" and self.doks is not None:
            return {pool.name: list(pool.taints) for pool in self.doks.node_pools}
        return {}

    def protect_for(self, stack: str) -> bool:
        """Tell whether data-holding resources are protected: swarm:protect, or true for every stack but dev."""
        return self.protect if self.protect is not None else stack != "dev"

    @field_validator("swarms")
    @classmethod
    def _swarm_names_unique(cls, swarms: list[Swarm]) -> list[Swarm]:
        names = [swarm.name for swarm in swarms]
        for name in duplicates(names):
            index = last_index(names, name)
            raise ValueError(
                f"swarm name {name} is used more than once; rename one with: "
                f"pulumi config set --path 'swarm:swarms[{index}].name' {name}-2"
            )
        return swarms
