"""The `swarm:hetzner` config: a K3s cluster on Hetzner Cloud."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal, Optional

from pydantic import AfterValidator, BeforeValidator, Field, ValidationInfo, field_validator, model_validator

from stacks import hetzner_facts
from stacks.config_base import (
    MAX_RESOURCE_PREFIX_LENGTH,
    MIN_KUBERNETES_MINOR,
    Autoscale,
    ConfigModel,
    WholeNumber,
    duplicates,
    last_index,
)
from stacks.config_checks import check_dns_label, check_image_reference, check_node_network, whole_number
from stacks.config_pools import PoolNodeSettings, check_pool_sizing

DEFAULT_K3S_VERSION = "v1.34.1+k3s1"
DEFAULT_SERVER_IMAGE = "ubuntu-24.04"

# The cluster autoscaler names its servers <node group>-<up to 16 hex digits>
# (newNodeName in cluster-autoscaler/cloudprovider/hetzner/hetzner_node_group.go),
# and a pool's node group is <resource prefix>-<pool>. The Hetzner API
# requires a server name to be a valid hostname, and a name without dots is
# one hostname label of at most 63 characters.
MAX_AUTOSCALED_POOL_NAME_LENGTH = 63 - 16 - 1 - MAX_RESOURCE_PREFIX_LENGTH - 1

# Autoscaled nodes get the third /24 of the network as their subnet, so the
# network must contain at least three /24 ranges.
AUTOSCALED_NETWORK_MAX_PREFIX = 22

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


class WorkerPool(PoolNodeSettings):
    """A group of K3s agent nodes of one server type, fixed in number or autoscaled."""

    name: str = Field(description="pool name, part of each server name", examples=["general"])
    server_type: Optional[str] = Field(default=None, description="Hetzner server type of each agent", examples=["cx33"])
    count: Optional[WholeNumber] = Field(
        default=None,
        ge=0,
        le=hetzner_facts.MAX_SERVERS_PER_NETWORK,
        description="number of agents; optional with autoscale",
        examples=[2],
    )
    autoscale: Optional[Autoscale] = Field(default=None, examples=['{"min": 1, "max": 3}'])
    location: Optional[str] = Field(
        default=None, description="Hetzner location of this pool; default: swarm:hetzner.location", examples=["nbg1"]
    )

    @property
    def fixed_count(self) -> int:
        """Number of servers that Pulumi creates: `count`, or none when the cluster autoscaler creates them."""
        if self.autoscale is not None or self.count is None:
            return 0
        return self.count

    @property
    def max_servers(self) -> int:
        """Largest number of servers the pool can have: `count`, or `autoscale.max`."""
        return self.autoscale.max if self.autoscale is not None else self.fixed_count

    @property
    def placement_groups(self) -> int:
        """Number of spread placement groups that the pool's servers need."""
        if self.autoscale is None:
            return hetzner_facts.placement_groups_needed(self.fixed_count)
        return 1 if self.autoscale.max <= hetzner_facts.MAX_SERVERS_PER_PLACEMENT_GROUP else 0

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
    def _server_type_is_hetzner_name(cls, value: Optional[str]) -> Optional[str]:
        return None if value is None else _check_server_type(value)

    @field_validator("location")
    @classmethod
    def _location_is_known(cls, value: Optional[str]) -> Optional[str]:
        return None if value is None else hetzner_facts.check_location(value)

    @model_validator(mode="after")
    def _count_or_autoscale(self, info: ValidationInfo) -> WorkerPool:
        check_pool_sizing(self.name, self.sizing, "serverType", self.server_type, self.count, self.autoscale, info)
        if self.sizing == "auto":
            return self
        if self.count is None and self.autoscale is None:
            raise ValueError(
                f"worker pool {self.name} needs a count, or autoscale bounds such as {{min: 1, max: 3}}"
            )
        if self.autoscale is None:
            return self
        if self.count is not None and not self.autoscale.min <= self.count <= self.autoscale.max:
            raise ValueError(
                f"worker pool {self.name} has count {self.count} outside its autoscale range "
                f"{self.autoscale.min}..{self.autoscale.max}; remove count or move it into the range"
            )
        if len(self.name) > MAX_AUTOSCALED_POOL_NAME_LENGTH:
            raise ValueError(
                f"autoscaled worker pool name {self.name} has {len(self.name)} characters, but at most "
                f"{MAX_AUTOSCALED_POOL_NAME_LENGTH} fit, because the autoscaler names its servers "
                "<stack prefix>-<pool>-<16 hex digits> and a Hetzner server name has at most 63; "
                "choose a shorter pool name"
            )
        return self


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
        default="10.0.0.0/16",
        description="private network of the nodes, at least a /24, and at least a /22 with autoscaled pools",
        examples=["10.0.0.0/16"],
    )

    @property
    def max_servers(self) -> int:
        """Largest number of servers the cluster can have: the K3s servers and every pool at its most."""
        return self.control_plane.count + sum(pool.max_servers for pool in self.workers)

    @property
    def has_agents(self) -> bool:
        """Whether any worker pool has agents, or may get them from the autoscaler."""
        return any(pool.fixed_count > 0 or pool.autoscale is not None for pool in self.workers)

    @property
    def autoscaled_pools(self) -> list[WorkerPool]:
        """The worker pools whose servers the cluster autoscaler creates."""
        return [pool for pool in self.workers if pool.autoscale is not None]

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

        servers = self.max_servers
        if servers > hetzner_facts.MAX_SERVERS_PER_NETWORK:
            largest = max(range(len(self.workers)), key=lambda index: self.workers[index].max_servers)
            pool = self.workers[largest]
            field = "autoscale.max" if pool.autoscale is not None else "count"
            fewer = max(0, pool.max_servers - (servers - hetzner_facts.MAX_SERVERS_PER_NETWORK))
            raise ValueError(
                f"the cluster has up to {servers} servers (autoscaled pools count at autoscale.max), but a "
                f"Hetzner private network takes at most {hetzner_facts.MAX_SERVERS_PER_NETWORK}; fix with: "
                f"pulumi config set --path 'swarm:hetzner.workers[{largest}].{field}' {fewer}, or lower another pool"
            )

        groups = hetzner_facts.placement_groups_needed(self.control_plane.count)
        groups += sum(pool.placement_groups for pool in self.workers)
        if groups > hetzner_facts.MAX_PLACEMENT_GROUPS_PER_PROJECT:
            raise ValueError(
                f"the cluster needs {groups} spread placement groups (one per 10 servers of each fixed pool, "
                "one per autoscaled pool whose autoscale.max is at most 10), but a Hetzner project takes at most "
                f"{hetzner_facts.MAX_PLACEMENT_GROUPS_PER_PROJECT}; merge worker pools of the same server type"
            )

        if self.autoscaled_pools:
            network = ipaddress.ip_network(self.network_ip_range)
            if network.prefixlen > AUTOSCALED_NETWORK_MAX_PREFIX:
                raise ValueError(
                    f"swarm:hetzner.networkIpRange = {self.network_ip_range} is too small for autoscaled pools: "
                    "autoscaled nodes get the network's third /24 as their own subnet, so the network must be "
                    f"a /{AUTOSCALED_NETWORK_MAX_PREFIX} or larger; set it with: pulumi config set --path "
                    "'swarm:hetzner.networkIpRange' 10.0.0.0/16"
                )
        return self
