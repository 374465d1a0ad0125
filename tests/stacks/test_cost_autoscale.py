"""Cost of autoscaled Hetzner worker pools: a range from min to max servers, from the plan and from the config."""

from __future__ import annotations

from decimal import Decimal

import pytest

from stacks.catalog import UnknownPriceError, load_catalog
from stacks.config_loader import parse_stack_config
from stacks.cost import price_resources
from stacks.cost_estimate import estimate, estimate_output
from stacks.cost_sources import PricedResource
from stacks.plan import run_plan
from tests.conftest import dev_config

CATALOG = load_catalog()
RELEASE = "kubernetes:helm.sh/v3:Release"
BURST = {"name": "burst", "serverType": "cx43", "autoscale": {"min": 1, "max": 4}}


def autoscaled_config() -> dict:
    config = dev_config()
    config["swarm:hetzner"]["workers"].append(BURST)
    return config


@pytest.fixture
def autoscaled_cost(write_stack):
    plan = run_plan(str(write_stack(autoscaled_config())))
    return price_resources(plan.stack, plan.resources, CATALOG)


def autoscaler_release(values: object) -> PricedResource:
    return PricedResource(RELEASE, "autoscaler", {"chart": "cluster-autoscaler", "values": values})


def test_autoscaled_pool_is_a_range(autoscaled_cost):
    (servers,) = [line for line in autoscaled_cost.lines if line.resource == "swarm-test-burst" and line.category == "compute"]
    (ipv4,) = [line for line in autoscaled_cost.lines if line.resource == "swarm-test-burst" and line.category == "network"]

    assert (servers.sku, servers.quantity_low, servers.quantity_high) == ("cx43", 1, 4)
    assert (servers.monthly_low, servers.monthly_high) == (Decimal("15.99"), Decimal("63.96"))
    assert "autoscaling 1-4" in servers.description
    assert (ipv4.sku, ipv4.quantity_low, ipv4.quantity_high) == ("primary-ipv4", 1, 4)


def test_autoscaled_total_by_hand(autoscaled_cost):
    # The dev stack's 34.892 EUR plus 1 to 4 x (cx43 15.99 + IPv4 0.50):
    # 51.382 to 100.852 EUR.
    assert autoscaled_cost.total("EUR") == (Decimal("51.38"), Decimal("100.85"))
    assert autoscaled_cost.total("EUR", "compute") == (Decimal("32.97"), Decimal("80.94"))
    assert autoscaled_cost.total("EUR", "network") == (Decimal("9.49"), Decimal("10.99"))


def test_estimate_matches_autoscaled_plan(autoscaled_cost):
    values = {key.removeprefix("swarm:"): value for key, value in autoscaled_config().items()}

    from_config = estimate("test", parse_stack_config(values), CATALOG)

    assert from_config.total("EUR") == autoscaled_cost.total("EUR")
    assert from_config.total("USD") == autoscaled_cost.total("USD")
    assert from_config.containers == autoscaled_cost.containers


def test_estimate_output_shows_range():
    values = {key.removeprefix("swarm:"): value for key, value in autoscaled_config().items()}

    output = estimate_output("test", parse_stack_config(values), CATALOG)

    assert output["EUR"] == "51.38 - 100.85"


def test_pool_without_public_ipv4_priced_without_it():
    groups = [{"name": "burst", "minSize": 2, "maxSize": 3, "instanceType": "cx43", "region": "fsn1"}]
    server = PricedResource("hcloud:index/server:Server", "server-0", {"serverType": "cx23", "location": "fsn1", "publicNets": [{"ipv4Enabled": False}]})
    release = autoscaler_release({"cloudProvider": "hetzner", "autoscalingGroups": groups, "extraEnv": {"HCLOUD_PUBLIC_IPV4": "false"}})

    cost = price_resources("test", [server, release], CATALOG)

    assert [line.sku for line in cost.lines] == ["cx23", "cx43"]
    assert (cost.lines[1].quantity_low, cost.lines[1].quantity_high) == (2, 3)


def test_other_cloud_release_not_priced():
    server = PricedResource("hcloud:index/server:Server", "server-0", {"serverType": "cx23", "location": "fsn1", "publicNets": [{"ipv4Enabled": False}]})
    release = autoscaler_release({"cloudProvider": "aws", "autoscalingGroups": [{"name": "asg1", "minSize": 1, "maxSize": 2}]})

    cost = price_resources("test", [server, release], CATALOG)

    assert [line.sku for line in cost.lines] == ["cx23"]


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ("[secret]", "values.cloudProvider is secret"),
        ({"cloudProvider": "hetzner", "autoscalingGroups": "[unknown]"}, "values.autoscalingGroups is unknown until the update runs"),
        ({"cloudProvider": "hetzner", "autoscalingGroups": [{"name": "burst", "minSize": 1, "instanceType": "cx43", "region": "fsn1"}]}, "input maxSize is missing"),
    ],
)
def test_unreadable_groups_name_the_input(values, problem):
    server = PricedResource("hcloud:index/server:Server", "server-0", {"serverType": "cx23", "location": "fsn1"})

    with pytest.raises(UnknownPriceError) as caught:
        price_resources("test", [server, autoscaler_release(values)], CATALOG)

    assert "cannot price autoscaler" in str(caught.value)
    assert problem in str(caught.value)
