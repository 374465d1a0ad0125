"""The `swarm:doks` config: a DigitalOcean Kubernetes cluster."""

from __future__ import annotations

import ipaddress
import re
from typing import Optional

from pydantic import Field, ValidationInfo, field_validator, model_validator

from stacks import digitalocean_facts
from stacks.config_base import MIN_KUBERNETES_MINOR, Autoscale, ConfigModel, WholeNumber, duplicates, last_index
from stacks.config_checks import check_dns_label
from stacks.config_pools import PoolNodeSettings, check_pool_sizing

DEFAULT_DOKS_VERSION = "1.34"

_MINOR_VERSION = re.compile(r"^1\.(\d+)$")
_TIME_OF_DAY = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_WEEKDAYS = ("any", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_RFC1918 = [ipaddress.ip_network(cidr) for cidr in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")]


class DoksNodePool(PoolNodeSettings):
    """A DOKS node pool that carries swarm containers."""

    name: str = Field(description="pool name, part of the DOKS node pool name", examples=["general"])
    size: Optional[str] = Field(default=None, description="Droplet size slug of each node", examples=["s-4vcpu-8gb"])
    count: Optional[WholeNumber] = Field(
        default=None, ge=1, description="number of nodes; optional with autoscale", examples=[2]
    )
    autoscale: Optional[Autoscale] = Field(default=None, examples=['{"min": 1, "max": 3}'])

    @field_validator("name")
    @classmethod
    def _name_is_dns_label(cls, value: str) -> str:
        if value == "system":
            raise ValueError("is reserved for the cluster's built-in pool; choose another pool name, such as general")
        return check_dns_label(value, 20)

    @field_validator("size")
    @classmethod
    def _size_is_known(cls, value: Optional[str]) -> Optional[str]:
        return None if value is None else digitalocean_facts.check_droplet_size(value)

    @model_validator(mode="after")
    def _count_or_autoscale(self, info: ValidationInfo) -> DoksNodePool:
        check_pool_sizing(self.name, self.sizing, "size", self.size, self.count, self.autoscale, info)
        if self.sizing == "auto":
            return self
        if self.count is None and self.autoscale is None:
            raise ValueError(f"node pool {self.name} needs a count, or autoscale bounds such as {{min: 1, max: 3}}")
        if self.count is not None and self.autoscale is not None:
            if not self.autoscale.min <= self.count <= self.autoscale.max:
                raise ValueError(
                    f"node pool {self.name} has count {self.count} outside its autoscale range "
                    f"{self.autoscale.min}..{self.autoscale.max}; remove count or move it into the range"
                )
        return self


class MaintenanceWindow(ConfigModel):
    """When DOKS may apply patch upgrades."""

    day: str = Field(default="any", examples=["sunday"])
    start_time: str = Field(default="04:00", description="UTC time of day, HH:MM", examples=["04:00"])

    @field_validator("day")
    @classmethod
    def _day_is_weekday(cls, value: str) -> str:
        if value not in _WEEKDAYS:
            raise ValueError(f"must be one of {', '.join(_WEEKDAYS)}")
        return value

    @field_validator("start_time")
    @classmethod
    def _time_is_hh_mm(cls, value: str) -> str:
        if not _TIME_OF_DAY.match(value):
            raise ValueError("must be a 24-hour UTC time of day such as 04:00")
        return value


class DoksConfig(ConfigModel):
    """The `swarm:doks` object: a DigitalOcean Kubernetes cluster."""

    region: str = Field(description="DigitalOcean region of the cluster", examples=["fra1"])
    version: str = Field(
        default=DEFAULT_DOKS_VERSION,
        description="Kubernetes minor version; the newest DOKS patch of it is used at creation",
        examples=[DEFAULT_DOKS_VERSION],
    )
    ha: bool = Field(default=False, description="highly available control plane, billed by DigitalOcean", examples=[True])
    node_pools: list[DoksNodePool] = Field(min_length=1, examples=['{"name": "general", "size": "s-4vcpu-8gb", "count": 2}'])
    maintenance_window: MaintenanceWindow = Field(default_factory=MaintenanceWindow)
    vpc_cidr: Optional[str] = Field(
        default=None, description="IP range of the cluster's VPC; default: chosen by DigitalOcean", examples=["10.20.0.0/16"]
    )

    @field_validator("region")
    @classmethod
    def _region_is_known(cls, value: str) -> str:
        return digitalocean_facts.check_region(value)

    @field_validator("version", mode="before")
    @classmethod
    def _version_is_text(cls, value: object) -> object:
        if isinstance(value, float):
            raise ValueError(
                f"is a number because it is unquoted in the stack file, and YAML reads 1.30 as {1.30}; "
                'quote it, as in version: "1.34"'
            )
        return value

    @field_validator("version")
    @classmethod
    def _version_is_minor(cls, value: str) -> str:
        match = _MINOR_VERSION.match(str(value))
        if match is None:
            raise ValueError(
                f"must be a Kubernetes minor version such as {DEFAULT_DOKS_VERSION}, never a patch or 'latest', "
                "because the newest patch of the minor is chosen at creation and then kept"
            )
        if int(match.group(1)) < MIN_KUBERNETES_MINOR:
            raise ValueError(f"must be 1.{MIN_KUBERNETES_MINOR} or later, such as {DEFAULT_DOKS_VERSION}")
        return value

    @field_validator("vpc_cidr")
    @classmethod
    def _vpc_is_private(cls, value: Optional[str]) -> Optional[str]:
        if value is None:
            return value
        try:
            network = ipaddress.ip_network(value, strict=True)
        except ValueError:
            raise ValueError("must be an IPv4 CIDR with zero host bits, such as 10.20.0.0/16") from None
        if network.version != 4 or not any(network.subnet_of(private) for private in _RFC1918):
            raise ValueError("must lie in 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16")
        # The pinned SDK's Vpc docs: the range "may not be larger than /16 or smaller than /24".
        if not 16 <= network.prefixlen <= 24:
            raise ValueError("must be a /16 to /24 range, as DigitalOcean VPCs require, such as 10.20.0.0/16")
        return value

    @model_validator(mode="after")
    def _pool_names_unique(self) -> DoksConfig:
        names = [pool.name for pool in self.node_pools]
        for name in duplicates(names):
            raise ValueError(
                f"node pool name {name} is used more than once; rename one with: "
                f"pulumi config set --path 'swarm:doks.nodePools[{last_index(names, name)}].name' {name}-2"
            )
        return self
