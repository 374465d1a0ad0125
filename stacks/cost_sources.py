"""Resources to price: from the offline plan, `pulumi preview --json`, or `pulumi stack export`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stacks.config_loader import StackConfigError


@dataclass(frozen=True)
class PricedResource:
    """A resource as the pricing reads it: type, name and inputs."""

    type: str
    name: str
    inputs: dict[str, Any]


_PRICED_OPERATIONS = {"same", "create", "update", "replace", "import", "read", "refresh"}


def _name_from_urn(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def _stack_from_urn(urn: str) -> str:
    # urn:pulumi:<stack>::<project>::<type>::<name>
    return urn.split("::", 1)[0].removeprefix("urn:pulumi:")


def _read_json(path: Path, kind: str) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise StackConfigError(f"{kind} file {path} not found") from None
    except json.JSONDecodeError as error:
        raise StackConfigError(f"invalid JSON in {kind} file {path} at line {error.lineno}: {error.msg}") from None


def from_preview(path: Path) -> tuple[str, list[PricedResource]]:
    """Read the resources that `pulumi preview --json` plans to have after the update."""
    document = _read_json(path, "preview")
    if not isinstance(document, dict) or not isinstance(document.get("steps"), (list, type(None))) or "steps" not in document:
        raise StackConfigError(f"{path} is not the output of `pulumi preview --json`: it has no 'steps'")
    steps = document["steps"] or []
    operations = {step.get("op") for step in steps}
    # `pulumi preview --json` lists unchanged resources only with --show-sames,
    # and without them an update would look like the whole stack.
    if operations - {"create", "same"} and "same" not in operations:
        raise StackConfigError(
            f"{path} has no unchanged resources: run `pulumi preview --json --show-sames` so that every resource is priced"
        )
    resources = []
    stack = "preview"
    for step in steps:
        # The state after the update: a replacement counts once, deletions not at all.
        if step.get("op") not in _PRICED_OPERATIONS:
            continue
        state = step.get("newState") or {}
        urn = state.get("urn") or step.get("urn", "")
        stack = _stack_from_urn(urn) or stack
        resources.append(PricedResource(state.get("type", ""), _name_from_urn(urn), state.get("inputs") or {}))
    return stack, resources


def from_state(path: Path) -> tuple[str, list[PricedResource]]:
    """Read the resources of a stack's state as `pulumi stack export` writes it."""
    document = _read_json(path, "state")
    deployment = document.get("deployment") if isinstance(document, dict) else None
    if not isinstance(deployment, dict):
        raise StackConfigError(f"{path} is not the output of `pulumi stack export`: it has no 'deployment'")
    resources = []
    stack = "state"
    for resource in deployment.get("resources") or []:
        urn = resource.get("urn", "")
        stack = _stack_from_urn(urn) or stack
        resources.append(PricedResource(resource.get("type", ""), _name_from_urn(urn), resource.get("inputs") or {}))
    return stack, resources
