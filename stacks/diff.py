"""Compare the offline plans of stacks between two versions: resources, changed inputs and monthly cost.

A plan is the JSON of `python -m stacks plan --format json`. Resources are
matched by URN. An input that changes is listed as its path with the old and
the new value; a secret shows only that it changed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Optional

from stacks.catalog import Catalog, UnknownPriceError
from stacks.cost import StackCost, price_resources
from stacks.cost_sources import PricedResource

SECRET_PREFIX = "[secret"
_VALUE_LIMIT = 80

# Inputs whose change replaces the resource instead of updating it. Some are
# fields that the Kubernetes API keeps immutable. The others are arguments
# that the providers mark ForceNew: terraform-provider-hcloud for a server's
# location, and terraform-provider-digitalocean for a cluster's region and
# VPC, a VPC's region and range, and a node pool's size.
# NOTE: the list covers the inputs this program sets; it is not every
# ForceNew argument of these providers.
REPLACING_INPUTS = {
    "hcloud:index/server:Server": ("location",),
    "digitalocean:index/kubernetesCluster:KubernetesCluster": ("region", "vpcUuid"),
    "digitalocean:index/vpc:Vpc": ("region", "ipRange"),
    "digitalocean:index/kubernetesNodePool:KubernetesNodePool": ("size",),
    "kubernetes:apps/v1:StatefulSet": ("spec.selector", "spec.serviceName", "spec.volumeClaimTemplates", "spec.podManagementPolicy"),
    "kubernetes:storage.k8s.io/v1:StorageClass": ("provisioner", "reclaimPolicy", "volumeBindingMode", "parameters"),
}


@dataclass(frozen=True)
class InputChange:
    """One input that differs between the two plans, as display text."""

    path: str
    before: str
    after: str
    # "replaces" when the change replaces the resource, "ignored" when the
    # resource ignores the input after creation.
    effect: str = ""


@dataclass
class ResourceUpdate:
    type: str
    name: str
    changes: list[InputChange]

    @property
    def replaces(self) -> bool:
        return any(change.effect == "replaces" for change in self.changes)

    @property
    def ignored(self) -> bool:
        return all(change.effect == "ignored" for change in self.changes)


@dataclass(frozen=True)
class ResourceChange:
    """A resource created or deleted, with what its options do to that."""

    type: str
    name: str
    note: str = ""


@dataclass
class StackDiff:
    """The changes of one stack, and its monthly cost before and after."""

    stack: str
    status: str  # "added", "removed", "changed", "unchanged" or "failed"
    platform_before: Optional[str] = None
    platform_after: Optional[str] = None
    creates: list[ResourceChange] = field(default_factory=list)
    deletes: list[ResourceChange] = field(default_factory=list)
    updates: list[ResourceUpdate] = field(default_factory=list)
    cost_before: Optional[StackCost] = None
    cost_after: Optional[StackCost] = None
    errors: list[str] = field(default_factory=list)

    @property
    def replacements(self) -> list[ResourceUpdate]:
        return [update for update in self.updates if update.replaces]

    @property
    def in_place_updates(self) -> list[ResourceUpdate]:
        return [update for update in self.updates if not update.replaces and not update.ignored]


def _text(value: Any) -> str:
    text = value if isinstance(value, str) else _json(value)
    return text.replace("\n", "\\n")


def _display_pair(before: str, after: str) -> tuple[str, str]:
    """Cut two long values to a window around their first difference, so the change stays visible."""
    if len(before) <= _VALUE_LIMIT and len(after) <= _VALUE_LIMIT:
        return before, after
    start = 0
    while start < min(len(before), len(after)) and before[start] == after[start]:
        start += 1
    start = max(0, start - 20)

    def window(text: str) -> str:
        end = start + _VALUE_LIMIT - 6
        prefix = "..." if start else ""
        suffix = "..." if end < len(text) else ""
        return prefix + text[start:end] + suffix

    return window(before), window(after)


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _flatten(value: Any, path: str = "") -> dict[str, Any]:
    """Flatten nested inputs to dotted paths, such as spec.template.spec.containers[0].image."""
    if isinstance(value, dict) and value:
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat.update(_flatten(item, f"{path}.{key}" if path else key))
        return flat
    if isinstance(value, list) and value:
        flat = {}
        for index, item in enumerate(value):
            flat.update(_flatten(item, f"{path}[{index}]"))
        return flat
    return {path: value}


def _effect(resource_type: str, path: str, ignored: list[str]) -> str:
    def under(prefixes) -> bool:
        return any(path == prefix or path.startswith((prefix + ".", prefix + "[")) for prefix in prefixes)

    if under(ignored):
        return "ignored"
    if under(REPLACING_INPUTS.get(resource_type, ())):
        return "replaces"
    return ""


def input_changes(
    before: dict[str, Any], after: dict[str, Any], resource_type: str = "", ignored: Optional[list[str]] = None
) -> list[InputChange]:
    """List the inputs that differ, secrets shown only as changed, each with its effect on the resource."""
    changes = _input_changes(before, after)
    return [
        InputChange(change.path, change.before, change.after, _effect(resource_type, change.path, ignored or []))
        for change in changes
    ]


def _input_changes(before: dict[str, Any], after: dict[str, Any]) -> list[InputChange]:
    old, new = _flatten(before), _flatten(after)
    changes = []
    for path in sorted(set(old) | set(new)):
        was, now = old.get(path), new.get(path)
        if was == now:
            continue
        if _is_secret(was) or _is_secret(now):
            # Tagged secrets ("[secret:<tag>]") compare by their tag. A plan
            # without tags cannot tell, so it counts as unchanged.
            if _is_secret(was) and _is_secret(now) and (was == SECRET_PREFIX + "]" or now == SECRET_PREFIX + "]"):
                continue
            changes.append(InputChange(path, "[secret]" if path in old else "(none)", "[secret] (changed)" if path in new else "(none)"))
            continue
        shown_was, shown_now = _display_pair(_text(was), _text(now))
        changes.append(InputChange(path, "(none)" if path not in old else shown_was, "(none)" if path not in new else shown_now))
    return changes


def _is_secret(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(SECRET_PREFIX)


def _platform(plan: dict[str, Any]) -> str:
    types = {resource["type"] for resource in plan["resources"]}
    if any(kind.startswith("hcloud:") for kind in types):
        return "hetzner-k3s"
    if any(kind.startswith("digitalocean:") for kind in types):
        return "doks"
    return "kubeconfig"


def _price(plan: dict[str, Any], catalog: Catalog, usd_per_eur: Optional[Decimal], errors: list[str]) -> Optional[StackCost]:
    resources = [PricedResource(item["type"], item["name"], item["inputs"]) for item in plan["resources"]]
    try:
        return price_resources(plan["stack"], resources, catalog, usd_per_eur)
    except UnknownPriceError as error:
        errors.append(str(error))
        return None


def diff_plans(
    stack: str,
    before: Optional[dict[str, Any]],
    after: Optional[dict[str, Any]],
    catalog: Catalog,
    usd_per_eur: Optional[Decimal] = None,
) -> StackDiff:
    """Compare two plans of one stack; either side may be None for a stack that exists on one side only."""
    result = StackDiff(stack=stack, status="changed")
    if before is not None:
        result.platform_before = _platform(before)
        result.cost_before = _price(before, catalog, usd_per_eur, result.errors)
    if after is not None:
        result.platform_after = _platform(after)
        result.cost_after = _price(after, catalog, usd_per_eur, result.errors)

    old = {item["urn"]: item for item in (before or {}).get("resources", [])}
    new = {item["urn"]: item for item in (after or {}).get("resources", [])}
    result.creates = [ResourceChange(new[urn]["type"], new[urn]["name"]) for urn in new if urn not in old]
    result.deletes = [ResourceChange(old[urn]["type"], old[urn]["name"], _deletion_note(old[urn])) for urn in old if urn not in new]
    for urn in new:
        if urn in old:
            ignored = (old[urn].get("options") or {}).get("ignoreChanges") or []
            changes = input_changes(old[urn]["inputs"], new[urn]["inputs"], new[urn]["type"], ignored)
            if changes:
                result.updates.append(ResourceUpdate(new[urn]["type"], new[urn]["name"], changes))

    if before is None:
        result.status = "added"
    elif after is None:
        result.status = "removed"
    elif not (result.creates or result.deletes or [update for update in result.updates if not update.ignored]):
        result.status = "unchanged"
    return result


def _deletion_note(resource: dict[str, Any]) -> str:
    options = resource.get("options") or {}
    if options.get("protect"):
        return "protected: the update fails until swarm:protect is turned off"
    if options.get("retainOnDelete"):
        return "kept in the cluster: Pulumi only forgets it"
    return ""


def cost_change(diff: StackDiff, currency: str) -> Optional[tuple[Decimal, Decimal, Decimal, Decimal]]:
    """Return (before low, before high, after low, after high) in `currency`, zero for a missing side."""
    if diff.errors:
        return None
    before = diff.cost_before.total(currency) if diff.cost_before else (Decimal(0), Decimal(0))
    after = diff.cost_after.total(currency) if diff.cost_after else (Decimal(0), Decimal(0))
    return before[0], before[1], after[0], after[1]
