"""`python -m stacks prices refresh`: rewrite the price catalog from the providers' APIs.

Hetzner prices come from `GET /pricing`, `GET /server_types` and `GET
/load_balancer_types`; DigitalOcean Droplet prices from `GET /sizes`. Prices
that no API serves (DigitalOcean's load balancer, HA control plane and
volumes) stay as the catalog has them, with their own source and date.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import yaml

from stacks.catalog import CATALOG_PATH, Catalog, LoadBalancerLimits, LoadBalancerTypes, Price, load_catalog
from stacks.config_loader import StackConfigError

_TIMEOUT_SECONDS = 30


def _number(text: Any) -> Decimal:
    """Turn an API amount such as "3.7900000000" or 24.0 into a Decimal without trailing zeros."""
    value = Decimal(str(text))
    return value.quantize(Decimal(1)) if value == value.to_integral() else value.normalize()


# More pages than any price list has; a pagination link that never ends stops here.
_MAX_PAGES = 100


class UnexpectedResponseError(StackConfigError):
    """An API response without the fields or values the catalog needs."""


def _get(url: str, token: str) -> Any:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT_SECONDS) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        hint = "; check the API token" if error.code in (401, 403) else "; try again later"
        raise StackConfigError(f"price refresh failed: GET {url} returned HTTP {error.code}{hint}") from None
    except (urllib.error.URLError, TimeoutError) as error:
        raise StackConfigError(f"price refresh failed: GET {url}: {getattr(error, 'reason', error)}") from None
    except json.JSONDecodeError:
        raise UnexpectedResponseError(f"price refresh failed: GET {url} returned no JSON") from None


def _hetzner_pages(base: str, path: str, key: str, token: str) -> Iterator[dict]:
    page: Optional[int] = 1
    for _ in range(_MAX_PAGES):
        document = _get(f"{base}/{path}?page={page}&per_page=50", token)
        yield from document[key]
        next_page = (document.get("meta") or {}).get("pagination", {}).get("next_page")
        if next_page is None:
            return
        if not isinstance(next_page, int) or next_page <= page:
            raise UnexpectedResponseError(f"price refresh failed: {base}/{path} page {page} points to page {next_page}")
        page = next_page
    raise UnexpectedResponseError(f"price refresh failed: {base}/{path} has more than {_MAX_PAGES} pages")


def _grouped_by_price(prices: list[dict]) -> list[tuple[list[str], Decimal, Optional[Decimal]]]:
    """Group a Hetzner per-location price list into locations that share one price."""
    groups: dict[tuple[Decimal, Optional[Decimal]], list[str]] = {}
    for entry in prices:
        monthly = _number(entry["price_monthly"]["net"])
        hourly = _number(entry["price_hourly"]["net"]) if entry.get("price_hourly") else None
        groups.setdefault((monthly, hourly), []).append(entry["location"])
    return [(sorted(locations), monthly, hourly) for (monthly, hourly), locations in groups.items()]


def _read_prices(read: Callable[[str, str, datetime.date], list[Price]], base: str, token: str, today: datetime.date) -> list[Price]:
    """Run one provider's reader, turning a response without the expected fields into a one-line error."""
    try:
        return read(base, token, today)
    except (KeyError, TypeError, ValueError, ArithmeticError, AttributeError) as error:
        raise UnexpectedResponseError(f"price refresh failed: unexpected response from {base}: {error!r}") from None


def hetzner_load_balancer_limits(base: str, token: str, today: datetime.date) -> LoadBalancerTypes:
    """Read the services and targets that each Hetzner load balancer type takes."""
    try:
        types = {
            balancer["name"]: LoadBalancerLimits(services=balancer["max_services"], targets=balancer["max_targets"])
            for balancer in _hetzner_pages(base, "load_balancer_types", "load_balancer_types", token)
        }
    except (KeyError, TypeError, ValueError) as error:
        raise UnexpectedResponseError(f"price refresh failed: unexpected response from {base}: {error!r}") from None
    if not types:
        raise UnexpectedResponseError("price refresh failed: the hetzner API returned no load balancer types; the catalog is unchanged")
    return LoadBalancerTypes(types=types, read_on=today, source=f"{base}/load_balancer_types")


def hetzner_prices(base: str, token: str, today: datetime.date) -> list[Price]:
    """Read server, load balancer, volume and primary IPv4 prices from the Hetzner Cloud API."""
    return _read_prices(_hetzner_prices, base, token, today)


def _hetzner_prices(base: str, token: str, today: datetime.date) -> list[Price]:
    prices: list[Price] = []
    server_source = f"{base}/server_types"
    for server_type in _hetzner_pages(base, "server_types", "server_types", token):
        for locations, monthly, hourly in _grouped_by_price(server_type["prices"]):
            prices.append(
                Price(
                    provider="hetzner", sku=server_type["name"], kind="server", locations=locations, unit="month",
                    monthly=monthly, hourly=hourly, currency="EUR", vcpus=server_type["cores"],
                    memory_gb=_number(server_type["memory"]), read_on=today, source=server_source,
                    deprecated=bool(server_type.get("deprecated") or server_type.get("deprecation")),
                )
            )

    balancer_source = f"{base}/load_balancer_types"
    for balancer in _hetzner_pages(base, "load_balancer_types", "load_balancer_types", token):
        for locations, monthly, hourly in _grouped_by_price(balancer["prices"]):
            prices.append(
                Price(
                    provider="hetzner", sku=balancer["name"], kind="load-balancer", locations=locations, unit="month",
                    monthly=monthly, hourly=hourly, currency="EUR", read_on=today, source=balancer_source,
                )
            )

    pricing = _get(f"{base}/pricing", token)["pricing"]
    pricing_source = f"{base}/pricing"
    prices.append(
        Price(
            provider="hetzner", sku="volume", kind="volume", unit="gb-month",
            monthly=_number(pricing["volume"]["price_per_gb_month"]["net"]), currency="EUR",
            read_on=today, source=pricing_source,
        )
    )
    for primary_ip in pricing.get("primary_ips", []):
        if primary_ip["type"] != "ipv4":
            continue
        for locations, monthly, hourly in _grouped_by_price(primary_ip["prices"]):
            prices.append(
                Price(
                    provider="hetzner", sku="primary-ipv4", kind="ipv4", locations=locations, unit="month",
                    monthly=monthly, hourly=hourly, currency="EUR", read_on=today, source=pricing_source,
                )
            )
    return prices


def digitalocean_prices(base: str, token: str, today: datetime.date) -> list[Price]:
    """Read Droplet prices from the DigitalOcean API; the monthly price is the cap of the hourly one."""
    return _read_prices(_digitalocean_prices, base, token, today)


def _digitalocean_prices(base: str, token: str, today: datetime.date) -> list[Price]:
    prices: list[Price] = []
    url: Optional[str] = f"{base}/sizes?per_page=200"
    seen: set[str] = set()
    while url:
        # The token goes only to the API it belongs to, and each page once.
        if urllib.parse.urlsplit(url)[:2] != urllib.parse.urlsplit(base)[:2] or url in seen or len(seen) >= _MAX_PAGES:
            raise UnexpectedResponseError(f"price refresh failed: {base}/sizes links to {url} as its next page")
        seen.add(url)
        document = _get(url, token)
        for size in document["sizes"]:
            if not size.get("available", True):
                continue
            prices.append(
                Price(
                    provider="digitalocean", sku=size["slug"], kind="droplet", unit="month",
                    monthly=_number(size["price_monthly"]), hourly=_number(size["price_hourly"]), currency="USD",
                    vcpus=size["vcpus"], memory_gb=_number(Decimal(size["memory"]) / 1024),
                    read_on=today, source=f"{base}/sizes",
                )
            )
        url = ((document.get("links") or {}).get("pages") or {}).get("next")
    return prices


def check_fresh_prices(provider: str, fresh: list[Price], kinds: tuple[str, ...]) -> None:
    """Reject API data that would make the catalog wrong: missing kinds, duplicates, prices of zero or less."""
    for kind in kinds:
        if not any(price.kind == kind for price in fresh):
            raise UnexpectedResponseError(f"price refresh failed: the {provider} API returned no {kind} prices; the catalog is unchanged")
    keys = [(price.sku, location) for price in fresh for location in price.locations]
    repeated = sorted({f"{sku} in {location}" for sku, location in keys if keys.count((sku, location)) > 1})
    if repeated:
        raise UnexpectedResponseError(f"price refresh failed: the {provider} API listed {', '.join(repeated)} more than once")
    for price in fresh:
        if price.monthly <= 0:
            raise UnexpectedResponseError(
                f"price refresh failed: the {provider} API gave {price.sku} a monthly price of {price.monthly}; the catalog is unchanged"
            )


def refresh_catalog(
    catalog: Catalog,
    today: datetime.date,
    hetzner: Optional[tuple[str, str]] = None,
    digitalocean: Optional[tuple[str, str]] = None,
) -> tuple[Catalog, list[str]]:
    """Replace the prices of each provider given as (base URL, token), keeping the prices no API serves."""
    prices = list(catalog.prices)
    balancer_limits = dict(catalog.load_balancer_limits)
    refreshed = []
    if hetzner is not None:
        fresh = hetzner_prices(hetzner[0], hetzner[1], today)
        check_fresh_prices("hetzner", fresh, ("server", "load-balancer", "volume", "ipv4"))
        balancer_limits["hetzner"] = hetzner_load_balancer_limits(hetzner[0], hetzner[1], today)
        prices = [price for price in prices if price.provider != "hetzner"] + fresh
        refreshed.append(f"hetzner: {len(fresh)} prices")
    if digitalocean is not None:
        fresh = digitalocean_prices(digitalocean[0], digitalocean[1], today)
        check_fresh_prices("digitalocean", fresh, ("droplet",))
        prices = [price for price in prices if not (price.provider == "digitalocean" and price.kind == "droplet")] + fresh
        refreshed.append(f"digitalocean: {len(fresh)} Droplet prices")
    prices.sort(key=lambda price: (price.provider, price.kind, price.sku, price.locations))
    update = {"prices": prices, "load_balancer_limits": balancer_limits, "updated_on": today}
    return catalog.model_copy(update=update), refreshed


class _PlainDumper(yaml.SafeDumper):
    """A YAML dumper without anchors, so that each price can be edited by hand on its own."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


CATALOG_HEADER = (
    "# Price catalog of the cost report: every price with its source and the date it was read.\n"
    "# Prices are without VAT. Rewritten by `python -m stacks prices refresh`, which keeps the\n"
    "# prices that no API serves (and their sources) as they are.\n"
)


def write_catalog(catalog: Catalog, path: Path) -> None:
    """Write the catalog through a temporary file, so that a failed write leaves the old one whole."""
    document = catalog.model_dump(mode="json")
    for price in document["prices"]:
        for key in [key for key, value in price.items() if value in (None, {}, []) or (key == "deprecated" and not value)]:
            del price[key]
    text = CATALOG_HEADER + yaml.dump(document, Dumper=_PlainDumper, sort_keys=False, width=120, allow_unicode=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def run_refresh_command(arguments: argparse.Namespace) -> int:
    path = Path(arguments.catalog) if arguments.catalog else CATALOG_PATH
    hetzner_token = os.environ.get("HCLOUD_TOKEN")
    digitalocean_token = os.environ.get("DIGITALOCEAN_TOKEN") or os.environ.get("DIGITALOCEAN_ACCESS_TOKEN")
    if not hetzner_token and not digitalocean_token:
        raise StackConfigError(
            "no API token: set HCLOUD_TOKEN (a read-only Hetzner Cloud token is enough) and/or "
            "DIGITALOCEAN_TOKEN to refresh that provider's prices"
        )

    catalog, refreshed = refresh_catalog(
        load_catalog(path),
        datetime.date.today(),
        hetzner=(arguments.hetzner_api.rstrip("/"), hetzner_token) if hetzner_token else None,
        digitalocean=(arguments.digitalocean_api.rstrip("/"), digitalocean_token) if digitalocean_token else None,
    )
    write_catalog(catalog, path)
    print(f"refreshed {path}: {'; '.join(refreshed)}")
    if not hetzner_token:
        print("skipped hetzner: HCLOUD_TOKEN is not set")
    if not digitalocean_token:
        print("skipped digitalocean: DIGITALOCEAN_TOKEN is not set")
    return 0
