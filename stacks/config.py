"""Typed stack configuration: the `swarm:` keys of a `Pulumi.<stack>.yaml`.

Every model forbids unknown keys and validates its values, so that the
components receive a config that is already known to be complete and
consistent. `stacks.config_loader` turns validation errors into one-line
messages that name the key and the `pulumi config set` command that fixes it.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Optional

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from stacks import hetzner_facts
from stacks.config_checks import (
    check_admin_cidr,
    check_admin_cidr_list,
    check_dns_label,
    check_image_reference,
    check_node_network,
    check_quantity,
    check_ssh_public_key,
    parse_quantity,
    quantity_text,
    whole_number,
)

__all__ = ["StackConfig", "HetznerConfig", "Swarm", "parse_quantity"]

DEFAULT_K3S_VERSION = "v1.34.1+k3s1"
DEFAULT_SERVER_IMAGE = "ubuntu-24.04"
DEFAULT_SWARM_IMAGE = "lscr.io/linuxserver/openssh-server:latest"

# The StatefulSet controller labels pods with their ordinal from Kubernetes
# 1.28 on, and SWARM_NODE_ID is read from that label.
MIN_KUBERNETES_MINOR = 28

# The SSH entry's namespace is swarm-ssh, so no swarm may be named ssh.
RESERVED_SWARM_NAMES = ("ssh",)

_K3S_VERSION = re.compile(r"^v1\.(\d+)\.\d+\+k3s\d+$")
_SERVER_TYPE = re.compile(r"^(cx|cpx|cax|ccx)\d{2}$")

WholeNumber = Annotated[int, BeforeValidator(whole_number)]
QuantityText = Annotated[str, BeforeValidator(quantity_text)]


class _ConfigModel(BaseModel):
    """Base of every config model: camelCase keys, unknown keys rejected, immutable."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        # Python code and tests build models by field name. Stack files are
        # parsed by alias only (see parse_stack_config), so a snake_case key
        # in a stack file is an unknown key.
        populate_by_name=True,
        extra="forbid",
        frozen=True,
    )


def _check_server_type(value: str) -> str:
    if not _SERVER_TYPE.match(value):
        raise ValueError(
            "must be a Hetzner server type name: cx, cpx, cax or ccx followed by two digits, such as cx23"
        )
    return value


def _duplicates(names: list[str]) -> list[str]:
    return sorted({name for name in names if names.count(name) > 1})


class ControlPlane(_ConfigModel):
    """K3s server nodes."""

    server_type: str = Field(description="Hetzner server type of each K3s server", examples=["cx23"])
    count: Annotated[Literal[1, 3], BeforeValidator(whole_number)] = Field(
        default=1, description="1, or 3 for a highly available control plane on embedded etcd", examples=[3]
    )

    @field_validator("server_type")
    @classmethod
    def _server_type_is_hetzner_name(cls, value: str) -> str:
        return _check_server_type(value)


class WorkerPool(_ConfigModel):
    """A group of K3s agent nodes of one server type."""

    name: str = Field(description="pool name, part of each server name", examples=["general"])
    server_type: str = Field(description="Hetzner server type of each agent", examples=["cx33"])
    count: WholeNumber = Field(
        ge=0, le=hetzner_facts.MAX_SERVERS_PER_NETWORK, description="number of agents", examples=[2]
    )
    location: Optional[str] = Field(
        default=None, description="Hetzner location of this pool; default: swarm:hetzner.location", examples=["nbg1"]
    )

    @field_validator("name")
    @classmethod
    def _name_is_dns_label(cls, value: str) -> str:
        if value == "server":
            # Agents are named <stack>-<pool>-<n>, which would clash with the
            # control plane's <stack>-server-<n>.
            raise ValueError("is reserved for the control plane; choose another pool name, such as general")
        return check_dns_label(value, 20)

    @field_validator("server_type")
    @classmethod
    def _server_type_is_hetzner_name(cls, value: str) -> str:
        return _check_server_type(value)

    @field_validator("location")
    @classmethod
    def _location_is_known(cls, value: Optional[str]) -> Optional[str]:
        return None if value is None else hetzner_facts.check_location(value)


class HetznerConfig(_ConfigModel):
    """The `swarm:hetzner` object: a K3s cluster on Hetzner Cloud."""

    location: str = Field(description="Hetzner location of the servers and the load balancer", examples=["fsn1"])
    control_plane: ControlPlane = Field(examples=['{"serverType": "cx23", "count": 1}'])
    workers: list[WorkerPool] = Field(default_factory=list)
    load_balancer_type: Literal["lb11", "lb21", "lb31"] = Field(default="lb11", examples=["lb11"])
    k3s_version: str = Field(default=DEFAULT_K3S_VERSION, alias="k3sVersion", examples=[DEFAULT_K3S_VERSION])
    image: Annotated[str, AfterValidator(check_image_reference)] = Field(
        default=DEFAULT_SERVER_IMAGE, examples=[DEFAULT_SERVER_IMAGE]
    )
    network_ip_range: str = Field(
        default="10.0.0.0/16", description="private network of the nodes, at least a /24", examples=["10.0.0.0/16"]
    )

    @field_validator("location")
    @classmethod
    def _location_is_known(cls, value: str) -> str:
        return hetzner_facts.check_location(value)

    @field_validator("k3s_version")
    @classmethod
    def _k3s_version_is_release_tag(cls, value: str) -> str:
        match = _K3S_VERSION.match(value)
        if match is None:
            raise ValueError(f"must be a K3s release tag such as {DEFAULT_K3S_VERSION}")
        if int(match.group(1)) < MIN_KUBERNETES_MINOR:
            raise ValueError(
                f"must be Kubernetes 1.{MIN_KUBERNETES_MINOR} or later, because containers read their "
                f"ordinal from a pod label added in 1.{MIN_KUBERNETES_MINOR}; such as {DEFAULT_K3S_VERSION}"
            )
        return value

    @field_validator("network_ip_range")
    @classmethod
    def _network_is_private_range(cls, value: str) -> str:
        return check_node_network(value)

    @model_validator(mode="after")
    def _pools_fit_one_network(self) -> HetznerConfig:
        names = [pool.name for pool in self.workers]
        for name in _duplicates(names):
            index = len(names) - 1 - names[::-1].index(name)
            raise ValueError(
                f"worker pool name {name} is used more than once; rename one with: "
                f"pulumi config set --path 'swarm:hetzner.workers[{index}].name' {name}-2"
            )

        zone = hetzner_facts.network_zone(self.location)
        for index, pool in enumerate(self.workers):
            if pool.location and hetzner_facts.network_zone(pool.location) != zone:
                same_zone = [name for name, other in hetzner_facts.NETWORK_ZONES.items() if other == zone]
                raise ValueError(
                    f"swarm:hetzner.workers[{index}].location = {pool.location} is in network zone "
                    f"{hetzner_facts.network_zone(pool.location)}, but swarm:hetzner.location = "
                    f"{self.location} is in {zone}, and one private network spans one zone; "
                    f"use one of {', '.join(same_zone)} for the pool, or remove its location"
                )

        servers = self.control_plane.count + sum(pool.count for pool in self.workers)
        if servers > hetzner_facts.MAX_SERVERS_PER_NETWORK:
            raise ValueError(
                f"the cluster has {servers} servers, but a Hetzner private network takes at most "
                f"{hetzner_facts.MAX_SERVERS_PER_NETWORK}; lower swarm:hetzner.workers[].count"
            )

        groups = hetzner_facts.placement_groups_needed(self.control_plane.count)
        groups += sum(hetzner_facts.placement_groups_needed(pool.count) for pool in self.workers)
        if groups > hetzner_facts.MAX_PLACEMENT_GROUPS_PER_PROJECT:
            raise ValueError(
                f"the cluster needs {groups} spread placement groups (one per 10 servers of each pool), "
                f"but a Hetzner project takes at most {hetzner_facts.MAX_PLACEMENT_GROUPS_PER_PROJECT}; "
                "merge worker pools of the same server type"
            )
        return self


class Swarm(_ConfigModel):
    """One swarm: a StatefulSet of SSH-accessible containers, each with its own workspace volume."""

    name: str = Field(description="swarm name, used in namespaces, DNS names and SSH host aliases", examples=["agents"])
    replicas: WholeNumber = Field(ge=0, le=1000, description="number of containers", examples=[3])
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


class StackConfig(_ConfigModel):
    """All `swarm:` keys of one stack."""

    platform: Literal["hetzner-k3s"] = Field(
        description="where the cluster runs; doks and kubeconfig are planned, not yet available",
        examples=["hetzner-k3s"],
    )
    admin_cidrs: list[Annotated[str, AfterValidator(check_admin_cidr)]] = Field(
        min_length=1,
        description="CIDRs allowed to reach the Kubernetes API and node SSH",
        examples=["203.0.113.7/32"],
    )
    hetzner: Optional[HetznerConfig] = Field(
        default=None,
        examples=['{"location": "fsn1", "controlPlane": {"serverType": "cx23", "count": 1}}'],
    )
    swarms: list[Swarm] = Field(
        min_length=1,
        examples=['{"name": "agents", "replicas": 3, "sshPublicKeys": ["ssh-ed25519 AAAA... you@host"]}'],
    )

    @field_validator("admin_cidrs")
    @classmethod
    def _cidrs_not_world(cls, cidrs: list[str]) -> list[str]:
        return check_admin_cidr_list(cidrs)

    @field_validator("swarms")
    @classmethod
    def _swarm_names_unique(cls, swarms: list[Swarm]) -> list[Swarm]:
        names = [swarm.name for swarm in swarms]
        for name in _duplicates(names):
            index = len(names) - 1 - names[::-1].index(name)
            raise ValueError(
                f"swarm name {name} is used more than once; rename one with: "
                f"pulumi config set --path 'swarm:swarms[{index}].name' {name}-2"
            )
        return swarms
