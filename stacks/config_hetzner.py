"""The `swarm:hetzner` config: a K3s cluster on Hetzner Cloud."""

from __future__ import annotations

import re
from typing import Annotated, Literal, Optional

from pydantic import AfterValidator, BeforeValidator, Field, field_validator, model_validator

from stacks import hetzner_facts
from stacks.config_base import MIN_KUBERNETES_MINOR, ConfigModel, WholeNumber, duplicates, last_index
from stacks.config_checks import check_dns_label, check_image_reference, check_node_network, whole_number
from stacks.config_pools import Taint, check_node_labels

DEFAULT_K3S_VERSION = "v1.34.1+k3s1"
DEFAULT_SERVER_IMAGE = "ubuntu-24.04"

_K3S_VERSION = re.compile(r"^v1\.(\d+)\.\d+\+k3s\d+$")
_SERVER_TYPE = re.compile(r"^(cx|cpx|cax|ccx)\d{2}$")


def _check_server_type(value: str) -> str:
    if not _SERVER_TYPE.match(value):
        raise ValueError(
            "must be a Hetzner server type name: cx, cpx, cax or ccx followed by two digits, such as cx23"
        )
    return value


class ControlPlane(ConfigModel):
    """K3s server nodes."""

    server_type: str = Field(description="Hetzner server type of each K3s server", examples=["cx23"])
    count: Annotated[Literal[1, 3], BeforeValidator(whole_number)] = Field(
        default=1, description="1, or 3 for a highly available control plane on embedded etcd", examples=[3]
    )

    @field_validator("server_type")
    @classmethod
    def _server_type_is_hetzner_name(cls, value: str) -> str:
        return _check_server_type(value)


class WorkerPool(ConfigModel):
    """A group of K3s agent nodes of one server type."""

    name: str = Field(description="pool name, part of each server name", examples=["general"])
    server_type: str = Field(description="Hetzner server type of each agent", examples=["cx33"])
    count: WholeNumber = Field(
        ge=0, le=hetzner_facts.MAX_SERVERS_PER_NETWORK, description="number of agents", examples=[2]
    )
    location: Optional[str] = Field(
        default=None, description="Hetzner location of this pool; default: swarm:hetzner.location", examples=["nbg1"]
    )
    labels: Annotated[dict[str, str], AfterValidator(check_node_labels)] = Field(
        default_factory=dict, description="extra Kubernetes labels of the pool's nodes", examples=['{"team": "ml"}']
    )
    taints: list[Taint] = Field(
        default_factory=list,
        description="taints of the pool's nodes; only swarms that name the pool run there",
        examples=['[{"key": "dedicated", "value": "review", "effect": "NoSchedule"}]'],
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


class HetznerConfig(ConfigModel):
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
        for name in duplicates(names):
            index = last_index(names, name)
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
