"""The sizing solver: cheapest node type and count on small catalogs whose optimum is known."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from stacks.placement import Demand
from stacks.catalog import Catalog, ExchangeRate, Price, VolumeLimits, load_catalog
from stacks.sizing import SizingError, cheapest_layout, compute_lower_bound

TODAY = datetime.date(2026, 12, 4)


def catalog_of(*types: tuple[str, int, int, str], volumes_per_node: int = 16) -> Catalog:
    """A Hetzner catalog with the given (sku, vcpus, memory GB, monthly EUR) server types."""
    prices = [
        Price(provider="hetzner", sku=sku, kind="server", unit="month", monthly=Decimal(monthly), currency="EUR",
              vcpus=vcpus, memory_gb=Decimal(memory), read_on=TODAY, source="test")
        for sku, vcpus, memory, monthly in types
    ]
    limits = VolumeLimits(minimum_gb=10, maximum_gb=10240, source="test", max_per_node=volumes_per_node, max_per_node_source="test")
    rate = ExchangeRate(usd_per_eur=Decimal("1.1"), date=TODAY, source="test")
    return Catalog(updated_on=TODAY, exchange_rate=rate, volume_limits={"hetzner": limits}, prices=prices)


def containers(count: int, cpu_millicores: int = 1000, memory_mib: int = 2048) -> list[Demand]:
    return [Demand("swarm agents", "swarm:swarms[0]", count, cpu_millicores, memory_mib, 1, None)]


def test_small_type_wins_small_swarm():
    # cx33 (3.92 CPU, 6.10 GiB allocatable) takes three containers of 1 CPU and 2 GiB.
    catalog = catalog_of(("cx33", 4, 8, "8.49"), ("cx43", 8, 16, "15.99"))

    layout = cheapest_layout(catalog, "hetzner", "fsn1", containers(3))

    assert (layout.sku, layout.nodes) == ("cx33", 1)
    assert layout.monthly == Decimal("8.49")


def test_cheaper_total_wins_over_fewer_nodes():
    # Seven containers: a cx33 takes 3 and a cx43 takes 6 (by memory), so
    # 3 x cx33 (25.47) beats 2 x cx43 (31.98).
    catalog = catalog_of(("cx33", 4, 8, "8.49"), ("cx43", 8, 16, "15.99"))

    layout = cheapest_layout(catalog, "hetzner", "fsn1", containers(7))

    assert (layout.sku, layout.nodes) == ("cx33", 3)


def test_volume_limit_forces_second_node():
    # 17 small containers fit one large node by CPU and memory, but it attaches 16 volumes.
    catalog = catalog_of(("cx53", 16, 32, "29.49"))

    assert cheapest_layout(catalog, "hetzner", "fsn1", containers(16, 100, 128)).nodes == 1
    assert cheapest_layout(catalog, "hetzner", "fsn1", containers(17, 100, 128)).nodes == 2


def test_tie_prefers_fewer_nodes():
    # Two cx11 or one cx21 at the same price: the single cx21 wins.
    catalog = catalog_of(("cx11", 4, 8, "10.00"), ("cx21", 8, 16, "20.00"))

    layout = cheapest_layout(catalog, "hetzner", "fsn1", containers(6))

    assert (layout.sku, layout.nodes) == ("cx21", 1)


def test_tie_on_nodes_prefers_name():
    catalog = catalog_of(("cx32", 4, 8, "10.00"), ("cx31", 4, 8, "10.00"))

    assert cheapest_layout(catalog, "hetzner", "fsn1", containers(2)).sku == "cx31"


def test_container_larger_than_any_node():
    catalog = catalog_of(("cx33", 4, 8, "8.49"), ("cx43", 8, 16, "15.99"))

    with pytest.raises(SizingError, match="no node type holds one container of swarm agents, which requests 12 CPU"):
        cheapest_layout(catalog, "hetzner", "fsn1", containers(1, 12000))


def test_lower_bound_prices_requests():
    # Cheapest vCPU: 15.99 / 8; cheapest GiB: 15.99 / 16. Ten containers: 10 CPUs or 20 GiB.
    catalog = catalog_of(("cx33", 4, 8, "8.49"), ("cx43", 8, 16, "15.99"))

    bound = compute_lower_bound(catalog, "hetzner", "fsn1", containers(10))

    assert bound == (Decimal("15.99") / 8 * 10).quantize(Decimal("0.01"))


def test_layout_never_below_lower_bound():
    catalog = load_catalog()
    for count in (1, 3, 12, 48, 200):
        for provider, location in (("hetzner", "fsn1"), ("digitalocean", "fra1")):
            layout = cheapest_layout(catalog, provider, location, containers(count))
            assert layout.monthly >= compute_lower_bound(catalog, provider, location, containers(count))


def test_arm_types_not_chosen():
    catalog = load_catalog()

    assert not cheapest_layout(catalog, "hetzner", "fsn1", containers(12)).sku.startswith("cax")
