"""`sizing: auto` pools: the solver's choice reaches the config, the plan, the outputs and the cost report."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from stacks.config_loader import StackConfigError, parse_stack_config
from stacks.plan import run_plan
from tests.conftest import ROOT, dev_config
from tests.stacks.test_config import swarm_values


def auto_hetzner(replicas: int, **pool: Any) -> dict[str, Any]:
    values = swarm_values()
    values["hetzner"]["workers"] = [{"name": "general", "sizing": "auto", **pool}]
    values["swarms"][0]["replicas"] = replicas
    return values


def auto_doks(replicas: int, **pool: Any) -> dict[str, Any]:
    values = swarm_values()
    del values["hetzner"]
    values["platform"] = "doks"
    values["doks"] = {"region": "fra1", "nodePools": [{"name": "general", "sizing": "auto", **pool}]}
    values["swarms"][0]["replicas"] = replicas
    return values


def error_for(values: dict[str, Any]) -> str:
    with pytest.raises(StackConfigError) as caught:
        parse_stack_config(values)
    return str(caught.value)


def test_auto_pool_gets_cheapest_layout():
    # Twelve containers of 1 CPU and 2 GiB: one cx53 holds 14, for less than any mix of smaller types.
    pool = parse_stack_config(auto_hetzner(12)).hetzner.workers[0]

    assert (pool.server_type, pool.count) == ("cx53", 1)
    assert pool.sizing == "auto"


def test_auto_pool_grows_with_swarms():
    pool = parse_stack_config(auto_hetzner(200)).hetzner.workers[0]

    assert (pool.server_type, pool.count) == ("cx53", 15)


def test_fixed_type_sizes_only_count():
    pool = parse_stack_config(auto_hetzner(12, serverType="cx33")).hetzner.workers[0]

    # A cx33 holds three containers of 2 GiB by memory, and the jump host's small pods fit beside them.
    assert (pool.server_type, pool.count) == ("cx33", 4)


def test_auto_doks_pool():
    pool = parse_stack_config(auto_doks(12)).doks.node_pools[0]

    assert pool.size == "s-8vcpu-16gb"
    assert pool.count == 2


def test_auto_with_count_rejected():
    message = error_for(auto_hetzner(3, count=2))

    assert "pool general has sizing: auto, which chooses the count; remove count 2" in message


def test_auto_with_autoscale_rejected():
    message = error_for(auto_doks(3, autoscale={"min": 1, "max": 3}))

    assert "sizing: auto and autoscale" in message


def test_fixed_pool_needs_type():
    values = swarm_values()
    del values["hetzner"]["workers"][0]["serverType"]

    assert "pool general needs serverType, such as serverType: cx33, or sizing: auto" in error_for(values)


def test_no_type_holds_container():
    values = auto_hetzner(1)
    values["swarms"][0]["cpu"] = "64"

    message = error_for(values)
    assert message.startswith("swarm:hetzner.workers[0] has sizing: auto, but no hetzner node type in fsn1")
    assert "requests 64 CPU" in message
    assert "Traceback" not in message


def test_plan_shows_layout(write_stack):
    config = dev_config()
    config["swarm:hetzner"]["workers"] = [{"name": "general", "sizing": "auto"}]
    config["swarm:swarms"][0]["replicas"] = 12

    plan = run_plan(str(write_stack(config)))

    assert plan.named("swarm-test-general-0").inputs["serverType"] == "cx53"
    assert plan.outputs["autoSizing"]["general"]["layout"] == "1 x cx53"
    assert plan.outputs["autoSizing"]["general"]["monthly"] == "29.49 EUR"


def test_cost_report_names_layout(write_stack):
    config = dev_config()
    config["swarm:hetzner"]["workers"] = [{"name": "general", "sizing": "auto"}]
    path = write_stack(config)

    result = subprocess.run(
        [sys.executable, "-m", "stacks", "cost", str(path), "--format", "json"],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )

    assert result.returncode == 0, result.stderr
    (stack,) = json.loads(result.stdout)["stacks"]
    # Three containers and the jump host: one cx43 (15.99 EUR) costs less than two cx33 (16.98 EUR).
    assert any("pool general sized automatically: 1 x cx43 at 15.99 EUR" in note for note in stack["notes"])
