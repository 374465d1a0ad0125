"""`python -m stacks cost`: the monthly cost of stacks, side by side."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import yaml

from stacks.catalog import Catalog, UnknownPriceError, load_catalog
from stacks.config_loader import StackConfigError, parse_stack_config
from stacks.cost import StackCost, price_resources
from stacks.cost_compare import stack_values_on
from stacks.cost_report import as_json, render_markdown, render_text
from stacks.cost_sources import from_preview, from_state
from stacks.plan import read_stack_file, resolve_stack_file, run_plan

COMPARABLE_PLATFORMS = ("hetzner-k3s", "doks")
_SHORT_NAMES = {"hetzner-k3s": "hetzner", "doks": "doks"}


def _platforms(text: str | None) -> list[str]:
    if not text:
        return []
    platforms = [name.strip() for name in text.split(",") if name.strip()]
    for platform in platforms:
        if platform not in COMPARABLE_PLATFORMS:
            raise StackConfigError(
                f"invalid --on value {platform}: compare on {', '.join(COMPARABLE_PLATFORMS)}, "
                "such as --on hetzner-k3s,doks"
            )
    return platforms


def price_stack(stack: str, catalog: Catalog, arguments: argparse.Namespace) -> StackCost:
    plan = run_plan(stack)
    cost = price_resources(plan.stack, plan.resources, catalog, arguments.usd_per_eur)
    for pool, choice in (plan.outputs.get("autoSizing") or {}).items():
        cost.notes.append(
            f"pool {pool} sized automatically: {choice['layout']} at {choice['monthly']} a month; "
            f"no layout of its nodes costs less than {choice['lowerBound']}"
        )
    return cost


def price_on_platform(stack: str, platform: str, catalog: Catalog, arguments: argparse.Namespace) -> StackCost:
    """Price a stack's swarms on another platform, through a temporary stack file and its offline plan."""
    stack_file = read_stack_file(resolve_stack_file(stack))
    values = stack_file.swarm_values()
    config = parse_stack_config(values, stack_file.path.name, stack_file.swarm_secret_keys())
    try:
        target = stack_values_on(platform, config, values, catalog)
        with tempfile.TemporaryDirectory() as folder:
            name = f"{stack_file.stack}-{_SHORT_NAMES[platform]}"
            path = Path(folder) / f"Pulumi.{name}.yaml"
            path.write_text(yaml.safe_dump({"config": {f"swarm:{key}": value for key, value in target.items()}}))
            plan = run_plan(str(path))
    except StackConfigError as error:
        # The error is about the generated layout, not a file the user wrote.
        reason = str(error).splitlines()[0].split("; fix with:")[0]
        raise StackConfigError(f"cannot price the swarms of {stack_file.stack} on {platform}: {reason}") from None
    cost = price_resources(f"{stack_file.stack} on {platform}", plan.resources, catalog, arguments.usd_per_eur)
    cost.notes.append(f"swarms of {stack_file.stack} with nodes chosen for {platform}: {_layout(target)}")
    raised = [
        f"{swarm['name']} ({swarm.get('storage', '20Gi')})"
        for swarm, generated in zip(values.get("swarms", []), target["swarms"])
        if generated.get("storage") != swarm.get("storage", generated.get("storage"))
    ]
    if raised:
        smallest = target["swarms"][0].get("storage") if len(raised) == len(target["swarms"]) else "the smallest volume"
        cost.notes.append(f"workspaces of {', '.join(raised)} priced at {smallest}, the smallest volume on {platform}")
    return cost


def _layout(values: dict) -> str:
    if "hetzner" in values:
        worker = values["hetzner"]["workers"][0]
        plane = values["hetzner"]["controlPlane"]
        servers = "server" if plane["count"] == 1 else "servers"
        return f"{worker['count']} x {worker['serverType']} agents and {plane['count']} x {plane['serverType']} {servers}"
    pool = values["doks"]["nodePools"][0]
    return f"{pool['count']} x {pool['size']} nodes"


def run_cost_command(arguments: argparse.Namespace) -> int:
    if not (arguments.stacks or arguments.from_preview or arguments.from_state):
        raise StackConfigError("name at least one stack, such as `python -m stacks cost dev prod`, or give --from-preview or --from-state")
    platforms = _platforms(arguments.on)
    catalog = load_catalog()

    costs: list[StackCost] = []
    try:
        for stack in arguments.stacks:
            costs.append(price_stack(stack, catalog, arguments))
            for platform in platforms:
                costs.append(price_on_platform(stack, platform, catalog, arguments))
        for path in arguments.from_preview:
            name, resources = from_preview(Path(path))
            costs.append(price_resources(f"{name} (preview)", resources, catalog, arguments.usd_per_eur))
        for path in arguments.from_state:
            name, resources = from_state(Path(path))
            costs.append(price_resources(f"{name} (state)", resources, catalog, arguments.usd_per_eur))
    except UnknownPriceError as error:
        raise StackConfigError(str(error)) from None

    if arguments.format == "json":
        print(as_json(costs, catalog))
    elif arguments.format == "markdown":
        print(render_markdown(costs, catalog), end="")
    else:
        print(render_text(costs, catalog), end="")
    return 0
