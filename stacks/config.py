"""Typed stack configuration: the `swarm:` keys of a `Pulumi.<stack>.yaml`.

Every model forbids unknown keys and validates its values, so that the
components receive a config that is already known to be complete and
consistent. `stacks.config_loader` turns validation errors into one-line
messages that name the key and the `pulumi config set` command that fixes it.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from typing import Annotated, Literal, Optional

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from stacks import hetzner_facts

DEFAULT_K3S_VERSION = "v1.34.1+k3s1"
DEFAULT_SERVER_IMAGE = "ubuntu-24.04"
DEFAULT_SWARM_IMAGE = "lscr.io/linuxserver/openssh-server:latest"

# A DNS-1123 label. Swarm and pool names become parts of Kubernetes object
# names and Hetzner server names, so they must be valid in both.
_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")

# Kubernetes resource quantities as the API server accepts them for CPU,
# memory and storage requests (decimal and binary SI suffixes, millicores).
_QUANTITY = re.compile(r"^(\d+(\.\d+)?|\.\d+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")
_BINARY_FACTORS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL_FACTORS = {"m": 1e-3, "": 1, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}

_SSH_KEY_TYPES = (
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
)

_K3S_VERSION = re.compile(r"^v1\.\d+\.\d+\+k3s\d+$")
_SERVER_TYPE = re.compile(r"^(cx|cpx|cax|ccx)\d{2}$")


def parse_quantity(quantity: str) -> float:
    """Convert a Kubernetes quantity such as `500m`, `2Gi` or `1.5` to a number of base units."""
    match = _QUANTITY.match(quantity)
    if match is None:
        raise ValueError(f"invalid Kubernetes quantity {quantity!r}")
    number, suffix = float(match.group(1)), match.group(3) or ""
    factor = _BINARY_FACTORS.get(suffix) or _DECIMAL_FACTORS[suffix]
    return number * factor


class _ConfigModel(BaseModel):
    """Base of every config model: camelCase keys, unknown keys rejected, immutable."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
    )


def _check_dns_label(value: str, max_length: int) -> str:
    if len(value) > max_length:
        raise ValueError(f"must be at most {max_length} characters, got {len(value)}")
    if not _DNS_LABEL.match(value):
        raise ValueError(
            "must be lowercase letters, digits and '-', start with a letter and end with a letter or digit"
        )
    return value


def _check_quantity(value: str, unit_example: str) -> str:
    if not isinstance(value, str) or not _QUANTITY.match(value):
        raise ValueError(f"must be a Kubernetes quantity such as {unit_example}")
    if parse_quantity(value) <= 0:
        raise ValueError(f"must be greater than zero, such as {unit_example}")
    return value


def _check_ssh_public_key(key: str) -> str:
    if "PRIVATE KEY" in key:
        raise ValueError("is a private key; paste the content of the .pub file instead")
    fields = key.split()
    if len(fields) < 2 or fields[0] not in _SSH_KEY_TYPES:
        raise ValueError(
            "must be an OpenSSH public key line such as 'ssh-ed25519 AAAAC3... user@host' "
            f"(key types: {', '.join(_SSH_KEY_TYPES)})"
        )
    try:
        blob = base64.b64decode(fields[1], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("has a key body that is not valid base64") from None
    # The key blob starts with its own type as a length-prefixed string, which
    # catches a body pasted under the wrong type or cut short.
    declared_length = int.from_bytes(blob[:4], "big")
    if blob[4 : 4 + declared_length].decode("ascii", "replace") != fields[0]:
        raise ValueError(f"has a key body that is not a {fields[0]} key")
    return key


def _check_admin_cidr(cidr: str) -> str:
    if "/" not in cidr:
        raise ValueError(f"needs a prefix length, such as {cidr}/32")
    try:
        network = ipaddress.ip_network(cidr, strict=True)
    except ValueError:
        raise ValueError("must be a CIDR with zero host bits, such as 203.0.113.7/32") from None
    if network.prefixlen == 0:
        raise ValueError(
            "opens the Kubernetes API and node SSH to the whole internet; list your own addresses instead"
        )
    return cidr


class ControlPlane(_ConfigModel):
    """K3s server nodes."""

    server_type: str = Field(description="Hetzner server type of each K3s server", examples=["cx23"])
    count: Literal[1, 3] = Field(
        default=1, description="1, or 3 for a highly available control plane on embedded etcd", examples=[3]
    )

    @field_validator("server_type")
    @classmethod
    def _server_type_is_hetzner_name(cls, value: str) -> str:
        return _check_server_type(value)


def _check_server_type(value: str) -> str:
    if not _SERVER_TYPE.match(value):
        raise ValueError(
            "must be a Hetzner server type name: cx, cpx, cax or ccx followed by two digits, such as cx23"
        )
    return value


class WorkerPool(_ConfigModel):
    """A group of K3s agent nodes of one server type."""

    name: str = Field(description="pool name, part of each server name", examples=["general"])
    server_type: str = Field(description="Hetzner server type of each agent", examples=["cx33"])
    count: int = Field(
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
        return _check_dns_label(value, 20)

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
    image: str = Field(default=DEFAULT_SERVER_IMAGE, examples=[DEFAULT_SERVER_IMAGE])
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
        if not _K3S_VERSION.match(value):
            raise ValueError(f"must be a K3s release tag such as {DEFAULT_K3S_VERSION}")
        return value

    @field_validator("network_ip_range")
    @classmethod
    def _network_is_private_range(cls, value: str) -> str:
        try:
            network = ipaddress.ip_network(value, strict=True)
        except ValueError:
            raise ValueError("must be an IPv4 CIDR such as 10.0.0.0/16") from None
        if network.version != 4 or not network.is_private or network.prefixlen > 24:
            raise ValueError("must be a private IPv4 range of /24 or larger, such as 10.0.0.0/16")
        return value

    @model_validator(mode="after")
    def _pools_fit_one_network(self) -> HetznerConfig:
        names = [pool.name for pool in self.workers]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"worker pool names must be unique, repeated: {', '.join(duplicates)}")

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
                f"{hetzner_facts.MAX_SERVERS_PER_NETWORK}"
            )
        return self


class Swarm(_ConfigModel):
    """One swarm: a StatefulSet of SSH-accessible containers, each with its own workspace volume."""

    name: str = Field(description="swarm name, used in namespaces, DNS names and SSH host aliases", examples=["agents"])
    replicas: int = Field(ge=0, le=1000, description="number of containers", examples=[3])
    image: str = Field(default=DEFAULT_SWARM_IMAGE, examples=[DEFAULT_SWARM_IMAGE])
    cpu: str = Field(default="1", description="CPU request and limit per container", examples=["1"])
    memory: str = Field(default="2Gi", description="memory request and limit per container", examples=["2Gi"])
    storage: str = Field(default="20Gi", description="workspace volume size per container", examples=["20Gi"])
    ssh_public_keys: list[Annotated[str, AfterValidator(_check_ssh_public_key)]] = Field(
        min_length=1, description="keys allowed into this swarm", examples=["ssh-ed25519 AAAA... you@host"]
    )
    ssh_user: str = Field(default="dev", description="login user inside each container", examples=["dev"])
    ssh_port: int = Field(
        default=2222, ge=1, le=65535, description="port sshd listens on in the image", examples=[2222]
    )
    workspace_path: str = Field(default="/config", description="mount path of the workspace volume", examples=["/config"])

    @field_validator("name")
    @classmethod
    def _name_is_dns_label(cls, value: str) -> str:
        # 30 leaves room for the "swarm-" namespace prefix, the pod ordinal and
        # the controller-revision-hash label that Kubernetes derives from it.
        return _check_dns_label(value, 30)

    @field_validator("cpu")
    @classmethod
    def _cpu_is_quantity(cls, value: str) -> str:
        return _check_quantity(value, "'1' or '500m'")

    @field_validator("memory", "storage")
    @classmethod
    def _bytes_is_quantity(cls, value: str) -> str:
        return _check_quantity(value, "'2Gi'")

    @field_validator("ssh_user")
    @classmethod
    def _user_is_posix_name(cls, value: str) -> str:
        if not re.match(r"^[a-z_][a-z0-9_-]{0,31}$", value):
            raise ValueError("must be a POSIX user name such as 'dev'")
        return value

    @field_validator("workspace_path")
    @classmethod
    def _path_is_absolute(cls, value: str) -> str:
        if not value.startswith("/") or value == "/":
            raise ValueError("must be an absolute directory path other than '/', such as /config")
        return value


class StackConfig(_ConfigModel):
    """All `swarm:` keys of one stack."""

    platform: Literal["hetzner-k3s"] = Field(description="where the cluster runs", examples=["hetzner-k3s"])
    admin_cidrs: list[Annotated[str, AfterValidator(_check_admin_cidr)]] = Field(
        min_length=1,
        description="CIDRs allowed to reach the Kubernetes API and node SSH",
        examples=["203.0.113.7/32"],
    )
    hetzner: Optional[HetznerConfig] = None
    swarms: list[Swarm] = Field(min_length=1)

    @field_validator("swarms")
    @classmethod
    def _swarm_names_unique(cls, swarms: list[Swarm]) -> list[Swarm]:
        names = [swarm.name for swarm in swarms]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"swarm names must be unique, repeated: {', '.join(duplicates)}")
        return swarms
