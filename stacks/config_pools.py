"""Config pieces that node pools of every platform share: node labels and taints.

A swarm names the pool it runs on with `swarm:swarms[].pool`. A pool with
taints carries only the swarms that name it, because only they get the
matching tolerations.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Optional

from pydantic import AfterValidator, BeforeValidator, Field, ValidationInfo, field_validator

from stacks.config_base import ConfigModel

# The node label whose value is the pool name. The swarms select their pool
# by it, so a pool's own labels must not set it.
POOL_LABEL = "swarm.pool"

# The Kubernetes namespaces in which the kubelet lets a node set its own labels.
_KUBELET_LABEL_PREFIXES = ("node.kubernetes.io", "kubelet.kubernetes.io")

# Kubernetes label syntax. A key is a name of at most 63 characters, optionally
# after a DNS subdomain prefix and a slash. A value has at most 63 characters or is empty.
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
    domain = prefix.split(".")
    reserved = prefix and (domain[-2:] in (["kubernetes", "io"], ["k8s", "io"]))
    if reserved and prefix not in _KUBELET_LABEL_PREFIXES:
        # The kubelet refuses to start with other node labels of these namespaces.
        raise ValueError(
            f"{key!r} is in the {'.'.join(domain[-2:])} namespace, which Kubernetes reserves for itself; "
            "use a prefix of your own such as example.com/, or node.kubernetes.io/"
        )
    return key


def label_text(value: Any) -> Any:
    """Accept a number as a label or taint value, as YAML reads `tier: 1`, but reject true and false."""
    if isinstance(value, bool):
        raise ValueError(
            f"is {str(value).lower()} because YAML reads unquoted yes, no, on, off, true and false as booleans; "
            "quote the value"
        )
    if isinstance(value, (int, float)):
        return str(value)
    return value


def label_map(labels: Any) -> Any:
    """Apply `label_text` to every value of a label map."""
    if not isinstance(labels, dict):
        return labels
    converted = {}
    for key, value in labels.items():
        try:
            converted[key] = label_text(value)
        except ValueError as error:
            raise ValueError(f"label {key} {error}") from None
    return converted


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
    value: Annotated[str, BeforeValidator(label_text)] = Field(default="", examples=["review"])
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


def check_taints(taints: list[Taint]) -> list[Taint]:
    """Reject two taints with the same key and effect, which Kubernetes does not accept on one node."""
    seen = set()
    for taint in taints:
        if (taint.key, taint.effect) in seen:
            raise ValueError(
                f"has two taints with key {taint.key} and effect {taint.effect}, but a node takes one of each; "
                "keep one of them"
            )
        seen.add((taint.key, taint.effect))
    return taints


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
        raise ValueError(
        f"pool {pool} has sizing: auto, which chooses the count; remove count {count} from the pool in the stack file"
    )


class PoolNodeSettings(ConfigModel):
    """The keys that every platform's worker pool shares: how its nodes are sized, labelled and tainted."""

    sizing: Sizing = Field(
        default="fixed",
        description="auto: choose the cheapest node type (unless one is set) and count for the swarms",
        examples=["auto"],
    )
    labels: Annotated[dict[str, str], BeforeValidator(label_map), AfterValidator(check_node_labels)] = Field(
        default_factory=dict, description="extra Kubernetes labels of the pool's nodes", examples=['{"team": "ml"}']
    )
    taints: Annotated[list[Taint], AfterValidator(check_taints)] = Field(
        default_factory=list,
        description="taints of the pool's nodes; only swarms that name the pool run there",
        examples=['{"key": "dedicated", "value": "review", "effect": "NoSchedule"}'],
    )
