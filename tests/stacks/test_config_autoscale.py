"""Config validation of autoscaled Hetzner worker pools: bounds, count, limits counted at max, network size."""

from __future__ import annotations

from typing import Any

import pytest

from stacks.config_base import Autoscale
from stacks.config_loader import StackConfigError, parse_stack_config
from tests.conftest import dev_config
from tests.stacks.test_config_platforms import stack_values


def hetzner_values(*workers: dict[str, Any]) -> dict[str, Any]:
    """Return the dev stack's `swarm:` keys with the given worker pools."""
    values = {key.removeprefix("swarm:"): value for key, value in dev_config().items() if key.startswith("swarm:")}
    values["hetzner"]["workers"] = list(workers)
    # lb31 takes 150 targets, so the load balancer never limits these clusters of up to 100 servers.
    values["hetzner"]["loadBalancerType"] = "lb31"
    return values


def burst(**changes: Any) -> dict[str, Any]:
    pool = {"name": "burst", "serverType": "cx43", "autoscale": {"min": 1, "max": 4}}
    pool.update(changes)
    return pool


def error_for(values: dict[str, Any]) -> str:
    with pytest.raises(StackConfigError) as caught:
        parse_stack_config(values)
    return str(caught.value)


def test_autoscaled_pool_needs_no_count():
    config = parse_stack_config(hetzner_values(burst()))
    (pool,) = config.hetzner.workers

    assert pool.count is None
    assert (pool.autoscale.min, pool.autoscale.max) == (1, 4)
    assert pool.fixed_count == 0
    assert pool.max_servers == 4
    assert config.hetzner.autoscaled_pools == [pool]
    assert config.hetzner.has_agents is True


def test_count_inside_range_accepted():
    config = parse_stack_config(hetzner_values(burst(count=4)))

    assert config.hetzner.workers[0].count == 4
    assert config.hetzner.workers[0].fixed_count == 0


def test_count_outside_range_rejected():
    message = error_for(hetzner_values(burst(count=5)))

    assert message.startswith("invalid config swarm:hetzner.workers[0]: ")
    assert "count 5 outside its autoscale range 1..4" in message
    assert "remove count or move it into the range" in message
    assert "\n" not in message


def test_pool_without_count_or_autoscale_rejected():
    message = error_for(hetzner_values({"name": "general", "serverType": "cx33"}))

    assert "invalid config swarm:hetzner.workers[0]" in message
    assert "needs a count, or autoscale bounds such as {min: 1, max: 3}" in message


def test_min_above_max_names_autoscale_key():
    message = error_for(hetzner_values(burst(autoscale={"min": 5, "max": 2})))

    assert "invalid config swarm:hetzner.workers[0].autoscale" in message
    assert "autoscale.min = 5 is above autoscale.max = 2" in message


def test_zero_min_rejected():
    message = error_for(hetzner_values(burst(autoscale={"min": 0, "max": 2})))

    assert "swarm:hetzner.workers[0].autoscale.min = 0" in message


def test_servers_counted_at_max():
    # One K3s server and an autoscaled pool of up to 100 agents make 101.
    message = error_for(hetzner_values(burst(autoscale={"min": 1, "max": 100})))

    assert "up to 101 servers" in message
    assert "autoscaled pools count at autoscale.max" in message
    assert "at most 100" in message
    assert "swarm:hetzner.workers[0].autoscale.max" in message


def test_servers_at_limit_accepted():
    config = parse_stack_config(hetzner_values(burst(autoscale={"min": 1, "max": 99})))

    assert config.hetzner.workers[0].max_servers == 99


def test_fixed_and_autoscaled_servers_add_up():
    message = error_for(hetzner_values({"name": "general", "serverType": "cx33", "count": 60}, burst(autoscale={"min": 1, "max": 40})))

    assert "up to 101 servers" in message


@pytest.mark.parametrize(("autoscale_max", "groups"), [(1, 1), (10, 1), (11, 0), (40, 0)])
def test_autoscaled_placement_groups(autoscale_max, groups):
    config = parse_stack_config(hetzner_values(burst(autoscale={"min": 1, "max": autoscale_max})))

    assert config.hetzner.workers[0].placement_groups == groups


def test_placement_groups_counted_for_autoscaled_pool():
    # The control plane's group, 48 fixed pools and one autoscaled pool of
    # at most 10 servers make 50 groups, one autoscaled pool more makes 51.
    fixed = [{"name": f"pool{n}", "serverType": "cx33", "count": 1} for n in range(48)]

    config = parse_stack_config(hetzner_values(*fixed, burst()))
    message = error_for(hetzner_values(*fixed, burst(), burst(name="burst2")))

    assert len(config.hetzner.workers) == 49
    assert "needs 51 spread placement groups" in message
    assert "one per autoscaled pool whose autoscale.max is at most 10" in message


def test_small_network_rejected_with_autoscale():
    values = hetzner_values(burst())
    values["hetzner"]["networkIpRange"] = "10.0.0.0/23"

    message = error_for(values)

    assert "swarm:hetzner.networkIpRange = 10.0.0.0/23 is too small for autoscaled pools" in message
    assert "a /22 or larger" in message
    assert "pulumi config set --path 'swarm:hetzner.networkIpRange' 10.0.0.0/16" in message


@pytest.mark.parametrize(("network", "workers"), [("10.0.0.0/22", [burst()]), ("10.0.0.0/23", [{"name": "general", "serverType": "cx33", "count": 2}])])
def test_network_size_accepted(network, workers):
    values = hetzner_values(*workers)
    values["hetzner"]["networkIpRange"] = network

    assert parse_stack_config(values).hetzner.network_ip_range == network


def test_long_autoscaled_pool_name_rejected():
    message = error_for(hetzner_values(burst(name="a" * 16)))

    assert "autoscaled worker pool name aaaaaaaaaaaaaaaa has 16 characters, but at most 15 fit" in message
    assert "a Hetzner server name has at most 63" in message


def test_long_fixed_pool_name_accepted():
    config = parse_stack_config(hetzner_values({"name": "a" * 20, "serverType": "cx33", "count": 2}))

    assert config.hetzner.workers[0].name == "a" * 20


def test_fixed_pool_count_unchanged():
    config = parse_stack_config(hetzner_values({"name": "general", "serverType": "cx33", "count": 2}))
    (pool,) = config.hetzner.workers

    assert (pool.fixed_count, pool.max_servers, pool.placement_groups) == (2, 2, 1)
    assert config.hetzner.autoscaled_pools == []


def test_pools_with_zero_agents_have_none():
    values = hetzner_values({"name": "general", "serverType": "cx33", "count": 0})
    # The K3s server then carries the dev swarm's three containers of 2 GiB.
    values["hetzner"]["controlPlane"]["serverType"] = "cx43"
    config = parse_stack_config(values)

    assert config.hetzner.has_agents is False


def test_hetzner_and_doks_share_autoscale_model():
    hetzner = parse_stack_config(hetzner_values(burst())).hetzner.workers[0]
    doks = parse_stack_config(stack_values("prod")).doks.node_pools[0]

    assert isinstance(hetzner.autoscale, Autoscale)
    assert isinstance(doks.autoscale, Autoscale)
