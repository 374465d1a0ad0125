"""The cost engine and the price catalog: hand-computed totals, minimums, ranges, currencies, errors."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from stacks.catalog import DIGITALOCEAN_MAX_BILLED_HOURS, UnknownPriceError, load_catalog
from stacks.config_loader import parse_stack_config
from stacks.cost import price_resources, volume_size_gb
from stacks.cost_estimate import estimate, estimate_output
from stacks.cost_sources import PricedResource
from stacks.plan import read_stack_file, resolve_stack_file, run_plan
from tests.conftest import dev_config

CATALOG = load_catalog()


@pytest.fixture(scope="module")
def dev_cost():
    plan = run_plan("dev")
    return price_resources(plan.stack, plan.resources, CATALOG)


@pytest.fixture(scope="module")
def prod_cost():
    plan = run_plan("prod")
    return price_resources(plan.stack, plan.resources, CATALOG)


def test_dev_total_by_hand(dev_cost):
    # cx23 server 5.49 + 2 x cx33 agents 8.49 + 3 x IPv4 0.50 + lb11 7.49
    # + 3 containers x 20 GB x 0.0572 = 34.892 EUR.
    assert dev_cost.total("EUR") == (Decimal("34.89"), Decimal("34.89"))
    assert dev_cost.total("EUR", "control plane") == (Decimal("5.49"), Decimal("5.49"))
    assert dev_cost.total("EUR", "compute") == (Decimal("16.98"), Decimal("16.98"))
    assert dev_cost.total("EUR", "network") == (Decimal("8.99"), Decimal("8.99"))
    assert dev_cost.total("EUR", "storage") == (Decimal("3.43"), Decimal("3.43"))


def test_dev_usd_and_per_container(dev_cost):
    # 34.892 x 1.1133 = 38.845 USD; 34.892 / 3 = 11.631 EUR.
    assert dev_cost.total("USD") == (Decimal("38.85"), Decimal("38.85"))
    assert dev_cost.per_container("EUR") == (Decimal("11.63"), Decimal("11.63"))
    assert dev_cost.containers == 3


def test_dev_counts_every_ipv4(dev_cost):
    ipv4 = [line for line in dev_cost.lines if line.sku == "primary-ipv4"]

    assert len(ipv4) == 3


def test_prod_total_by_hand(prod_cost):
    # HA 40 + system pool 24 + agents pool 2-6 x 48 + review pool 24 + LB 12
    # + volumes (8 x 20 + 2 x 10 GiB) x 0.10 = 214 to 406 USD.
    assert prod_cost.total("USD") == (Decimal("214.00"), Decimal("406.00"))
    assert prod_cost.total("USD", "control plane") == (Decimal("40.00"), Decimal("40.00"))
    assert prod_cost.total("USD", "compute") == (Decimal("144.00"), Decimal("336.00"))
    assert prod_cost.total("USD", "network") == (Decimal("12.00"), Decimal("12.00"))
    assert prod_cost.total("USD", "storage") == (Decimal("18.00"), Decimal("18.00"))


def test_prod_eur_conversion(prod_cost):
    # 214 / 1.1133 = 192.222; 406 / 1.1133 = 364.682.
    assert prod_cost.total("EUR") == (Decimal("192.22"), Decimal("364.68"))
    assert prod_cost.per_container("USD") == (Decimal("21.40"), Decimal("40.60"))


def test_autoscaled_pool_is_a_range(prod_cost):
    (agents,) = [line for line in prod_cost.lines if line.resource == "swarm-prod-agents"]

    assert (agents.quantity_low, agents.quantity_high) == (2, 6)
    assert (agents.monthly_low, agents.monthly_high) == (Decimal(96), Decimal(288))


def test_exchange_rate_override():
    plan = run_plan("dev")

    cost = price_resources(plan.stack, plan.resources, CATALOG, usd_per_eur=Decimal("1.20"))

    # 34.892 x 1.20 = 41.8704.
    assert cost.total("USD") == (Decimal("41.87"), Decimal("41.87"))
    assert cost.total("EUR") == (Decimal("34.89"), Decimal("34.89"))


@pytest.mark.parametrize(
    ("request_size", "minimum", "expected"),
    [("5Gi", 10, 10), ("10Gi", 10, 10), ("20Gi", 10, 20), ("20.5Gi", 10, 21), ("500Mi", 1, 1), ("15G", 10, 14)],
)
def test_volume_size_rounding(request_size, minimum, expected):
    assert volume_size_gb(request_size, minimum) == expected


def test_small_volumes_billed_at_minimum():
    statefulset = PricedResource(
        "kubernetes:apps/v1:StatefulSet",
        "old-swarm",
        {"spec": {"replicas": 3, "volumeClaimTemplates": [{"spec": {"resources": {"requests": {"storage": "2Gi"}}}}]}},
    )
    server = PricedResource("hcloud:index/server:Server", "node", {"serverType": "cx23", "location": "fsn1", "publicNets": [{"ipv4Enabled": False}]})

    cost = price_resources("old", [server, statefulset], CATALOG)
    (storage,) = [line for line in cost.lines if line.category == "storage"]

    assert storage.quantity_low == 30
    assert storage.monthly_low == Decimal("30") * Decimal("0.0572")


def test_unknown_sku_names_it_and_catalog_date():
    resources = [PricedResource("hcloud:index/server:Server", "old", {"serverType": "cx22", "location": "fsn1"})]

    with pytest.raises(UnknownPriceError) as caught:
        price_resources("old", resources, CATALOG)

    message = str(caught.value)
    assert "no hetzner price for cx22 in fsn1" in message
    assert f"price catalog of {CATALOG.updated_on}" in message
    assert "python -m stacks prices refresh" in message


def test_unknown_location_is_an_error():
    with pytest.raises(UnknownPriceError, match="no hetzner price for cx23 in ash"):
        CATALOG.price("hetzner", "cx23", "ash")


def test_existing_cluster_costs_nothing_with_note():
    plan = run_plan("local")

    cost = price_resources(plan.stack, plan.resources, CATALOG)

    assert cost.lines == []
    assert cost.containers == 2
    assert "not priced here" in cost.notes[0]


@pytest.mark.parametrize("stack", ["dev", "prod", "local"])
def test_config_estimate_matches_plan(stack):
    stack_file = read_stack_file(resolve_stack_file(stack))
    config = parse_stack_config(stack_file.swarm_values())
    plan = run_plan(stack)

    from_plan = price_resources(plan.stack, plan.resources, CATALOG)
    from_config = estimate(stack, config, CATALOG)

    assert from_config.total("EUR") == from_plan.total("EUR")
    assert from_config.total("USD") == from_plan.total("USD")
    assert from_config.containers == from_plan.containers


def test_estimate_output_for_dev():
    stack_file = read_stack_file(resolve_stack_file("dev"))
    config = parse_stack_config(stack_file.swarm_values())

    assert estimate_output("dev", config, CATALOG) == {"EUR": "34.89", "USD": "38.85", "catalog": str(CATALOG.updated_on)}


def test_estimate_output_names_missing_price():
    values = {key.removeprefix("swarm:"): value for key, value in dev_config().items()}
    values["hetzner"]["loadBalancerType"] = "lb21"

    output = estimate_output("dev", parse_stack_config(values), CATALOG)

    assert "no hetzner price for lb21" in output["unknown"]


def test_stack_output_exports_estimate(dev_preview):
    assert dev_preview.outputs["estimatedMonthlyCost"] == {"EUR": "34.89", "USD": "38.85", "catalog": str(CATALOG.updated_on)}


def test_catalog_entries_have_source_and_date():
    for price in CATALOG.prices:
        assert price.source.strip(), price.sku
        assert price.read_on <= datetime.date.today(), price.sku
        assert price.monthly > 0, price.sku


def test_digitalocean_monthly_caps_672_hours():
    for price in CATALOG.prices:
        if price.provider == "digitalocean" and price.hourly is not None:
            assert abs(price.hourly * DIGITALOCEAN_MAX_BILLED_HOURS - price.monthly) < Decimal("0.01"), price.sku


def test_hetzner_hourly_never_above_monthly_cap():
    for price in CATALOG.prices:
        if price.provider == "hetzner" and price.hourly is not None and price.unit == "month":
            assert price.hourly < price.monthly, price.sku


def test_parked_swarm_counts_storage_not_containers(write_stack):
    config = dev_config()
    config["swarm:swarms"][0]["running"] = False

    plan = run_plan(str(write_stack(config)))
    cost = price_resources(plan.stack, plan.resources, CATALOG)
    (storage,) = [line for line in cost.lines if line.category == "storage"]

    assert cost.containers == 0
    assert storage.quantity_low == 60
    assert "parked" in storage.description
    assert cost.total("EUR") == (Decimal("34.89"), Decimal("34.89"))
