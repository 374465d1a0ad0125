"""Config pieces that node pools of every platform share: node labels and taints.

A swarm names the pool it runs on with `swarm:swarms[].pool`. A pool with
taints carries only the swarms that name it, because only they get the
matching tolerations.
"""

from __future__ import annotations

import re
from typing import Any, Literal, Optional

from pydantic import Field, ValidationInfo, field_validator

from stacks.config_base import ConfigModel

# The node label whose value is the pool name. The swarms select their pool
# by it, so a pool's own labels must not set it.
POOL_LABEL = "swarm.pool"

# Kubernetes label syntax: a name of at most 63 characters, optionally after a
# DNS subdomain prefix and a slash; a value of at most 63 characters or empty.
_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_LABEL_PREFIX = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")


def check_label_key(key: str) -> str:
    """Validate a Kubernetes label or taint key, such as dedicated or example.com/team."""
    prefix, _, name = key.rpartition("/")
    if not _LABEL_NAME.match(name) or (prefix and (len(prefix) > 253 or not _LABEL_PREFIX.match(prefix))):
        raise ValueError(
            f"{key!r} is not a Kubernetes label key: use up to 63 letters, digits, '-', '_' or '.', "
            "optionally after a DNS prefix and '/', such as example.com/team"
        )
    if key == POOL_LABEL:
        raise ValueError(f"{POOL_LABEL} is set from the pool name; choose another key")
    return key


def check_label_value(value: str) -> str:
    """Validate a Kubernetes label or taint value: empty, or up to 63 letters, digits, '-', '_' or '.'."""
    if not _LABEL_VALUE.match(value):
        raise ValueError(
            f"{value!r} is not a Kubernetes label value: use up to 63 letters, digits, '-', '_' or '.', "
            "starting and ending with a letter or digit"
        )
    return value


class Taint(ConfigModel):
    """A node taint: pods without a matching toleration stay off the pool's nodes."""

    key: str = Field(examples=["dedicated"])
    value: str = Field(default="", examples=["review"])
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] = Field(
        default="NoSchedule", examples=["NoSchedule"]
    )

    @field_validator("key")
    @classmethod
    def _key_is_label_key(cls, value: str) -> str:
        return check_label_key(value)

    @field_validator("value")
    @classmethod
    def _value_is_label_value(cls, value: str) -> str:
        return check_label_value(value)

    def as_k3s_flag(self) -> str:
        """Render the taint as K3s's `node-taint` option writes it: key=value:Effect."""
        return f"{self.key}={self.value}:{self.effect}" if self.value else f"{self.key}:{self.effect}"


def check_node_labels(labels: dict[str, str]) -> dict[str, str]:
    """Validate every key and value of a pool's node labels."""
    for key, value in labels.items():
        check_label_key(key)
        check_label_value(value)
    return labels


# The validation context key that marks a config whose `sizing: auto` pools
# already carry the node type and count that the sizing solver chose.
SIZING_RESOLVED = "sizing_resolved"

Sizing = Literal["fixed", "auto"]


def check_pool_sizing(
    pool: str, sizing: str, type_key: str, node_type: Optional[str], count: Optional[int], autoscale: Any, info: ValidationInfo
) -> None:
    """Check that a pool names its node type and size, or leaves both to `sizing: auto`."""
    if sizing == "fixed":
        if node_type is None:
            example = "cx33" if type_key == "serverType" else "s-4vcpu-8gb"
            raise ValueError(f"pool {pool} needs {type_key}, such as {type_key}: {example}, or sizing: auto to choose it")
        return
    if autoscale is not None:
        raise ValueError(
            f"pool {pool} has sizing: auto and autoscale, but the solver chooses a fixed count; remove one of them"
        )
    resolved = bool(info.context and info.context.get(SIZING_RESOLVED))
    if count is not None and not resolved:
        raise ValueError(f"pool {pool} has sizing: auto, which chooses the count; remove count {count}")
