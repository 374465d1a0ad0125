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
    # Twelve containers of 1 CPU and 2 GiB: one cx53 takes 14, for less than any mix of smaller types.
    pool = parse_stack_config(auto_hetzner(12)).hetzner.workers[0]

    assert (pool.server_type, pool.count) == ("cx53", 1)
    assert pool.sizing == "auto"


def test_auto_pool_grows_with_swarms():
    pool = parse_stack_config(auto_hetzner(200)).hetzner.workers[0]

    assert (pool.server_type, pool.count) == ("cx53", 15)


def test_fixed_type_sizes_only_count():
    pool = parse_stack_config(auto_hetzner(12, serverType="cx33")).hetzner.workers[0]

    # A cx33 takes three containers of 2 GiB by memory, and the jump host's small pods fit beside them.
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
    assert message.startswith("swarm:hetzner.workers[0] has sizing: auto, but no node type holds one container")
    assert "requests 64 CPU" in message
    assert "the largest, ccx63" in message
    assert "Traceback" not in message


def test_plan_shows_layout(write_stack):
    config = dev_config()
    config["swarm:hetzner"]["workers"] = [{"name": "general", "sizing": "auto"}]
    config["swarm:swarms"][0]["replicas"] = 12

    plan = run_plan(str(write_stack(config)))

    assert plan.named("swarm-test-general-0").inputs["serverType"] == "cx53"
    assert plan.outputs["autoSizing"]["general"]["layout"] == "1 x cx53"
    # 29.49 EUR for the server and 0.50 EUR for its primary IPv4.
    assert plan.outputs["autoSizing"]["general"]["monthly"] == "29.99 EUR"


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
    # Three containers and the jump host: one cx43 (15.99 EUR and 0.50 EUR of IPv4) costs less than two cx33.
    assert any("pool general sized automatically: 1 x cx43 at 16.49 EUR" in note for note in stack["notes"])


def test_bound_swarm_sizes_its_pool():
    values = auto_hetzner(10)
    values["swarms"][0]["pool"] = "general"

    pool = parse_stack_config(values).hetzner.workers[0]
    assert (pool.server_type, pool.count) == ("cx53", 1)


def test_tainted_auto_pool_takes_bound_swarm():
    values = auto_doks(6, taints=[{"key": "dedicated", "value": "agents"}])
    values["swarms"][0]["pool"] = "general"

    assert parse_stack_config(values).doks.node_pools[0].count >= 1


def test_ipv4_counts_in_the_choice():
    # 22 containers of 1 CPU and 6 GiB: 11 x cx43 cost 175.89 EUR for the servers but 181.39 EUR with
    # their IPv4 addresses, more than 6 x cx53 (176.94 + 3.00 EUR).
    values = auto_hetzner(22)
    values["swarms"][0]["memory"] = "6Gi"

    pool = parse_stack_config(values).hetzner.workers[0]
    assert (pool.server_type, pool.count) == ("cx53", 6)


def test_count_capped_by_network():
    values = auto_hetzner(1000)
    values["hetzner"]["loadBalancerType"] = "lb31"
    values["hetzner"]["workers"].insert(0, {"name": "fixed", "serverType": "cx23", "count": 60})
    values["swarms"][0].update(cpu="100m", memory="128Mi", pool="general")

    message = error_for(values)
    assert "at most 39 nodes" in message
    assert "Traceback" not in message


def test_second_untainted_auto_pool_takes_only_bound():
    values = auto_doks(10)
    values["doks"]["nodePools"].append({"name": "second", "sizing": "auto"})
    values["swarms"].append(dict(values["swarms"][0], name="bound", replicas=1, pool="second"))

    first, second = parse_stack_config(values).doks.node_pools
    assert first.count * 7 >= 10
    # One container of 1 CPU: an s-1vcpu-2gb keeps 940m after its reserve, so the s-2vcpu-4gb is the smallest.
    assert (second.size, second.count) == ("s-2vcpu-4gb", 1)


def test_auto_pool_takes_what_fixed_pools_leave():
    values = auto_doks(10)
    values["doks"]["nodePools"].insert(0, {"name": "fixed", "size": "s-4vcpu-8gb", "count": 2})

    fixed, auto = parse_stack_config(values).doks.node_pools
    # Two fixed nodes take six of the ten containers, so the auto pool takes four: one
    # s-8vcpu-16gb, the same price as two s-4vcpu-8gb but fewer nodes.
    assert (auto.size, auto.count) == ("s-8vcpu-16gb", 1)


def test_pinned_arm_type_sizes_count():
    pool = parse_stack_config(auto_hetzner(3, serverType="cax21")).hetzner.workers[0]

    # A cax21 holds three containers of 2 GiB and one of the jump host's two pods.
    assert pool.server_type == "cax21"
    assert pool.count == 2


def test_pinned_unpriced_type_named():
    message = error_for(auto_hetzner(3, serverType="cx99"))

    assert "no price and hardware figures for cx99 in fsn1" in message


def test_output_bound_covers_whole_catalog(write_stack):
    config = dev_config()
    config["swarm:hetzner"]["workers"] = [{"name": "general", "sizing": "auto"}]
    config["swarm:swarms"][0].update(replicas=22, memory="6Gi")

    plan = run_plan(str(write_stack(config)))
    choice = plan.outputs["autoSizing"]["general"]

    assert choice["layout"] == "6 x cx53"
    assert choice["lowerBound"] == f"{parse_lower_bound(config)} EUR"


def parse_lower_bound(config: dict) -> str:
    from stacks.capacity import stack_demands
    from stacks.catalog import load_catalog
    from stacks.sizing import compute_lower_bound

    values = {key.removeprefix("swarm:"): value for key, value in config.items() if key.startswith("swarm:")}
    resolved = parse_stack_config(values)
    return str(compute_lower_bound(load_catalog(), "hetzner", "fsn1", stack_demands(resolved)))


def test_idle_hetzner_auto_pool_has_no_servers():
    values = auto_hetzner(3)
    values["hetzner"]["workers"].append({"name": "idle", "sizing": "auto"})

    busy, idle = parse_stack_config(values).hetzner.workers
    assert busy.count >= 1
    assert idle.count == 0


def test_idle_doks_auto_pool_keeps_one_node():
    values = auto_doks(3)
    values["doks"]["nodePools"].append({"name": "idle", "sizing": "auto"})

    _, idle = parse_stack_config(values).doks.node_pools
    assert (idle.size, idle.count) == ("s-1vcpu-2gb", 1)
