"""`python -m stacks prices refresh` against recorded API responses on a local HTTP server."""

from __future__ import annotations

import datetime
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from stacks.catalog import CATALOG_PATH, load_catalog
from stacks.plan import ROOT

RECORDED = Path(__file__).resolve().parent.parent / "fixtures" / "api"
HETZNER_TOKEN = "hetzner-test-token"
DIGITALOCEAN_TOKEN = "digitalocean-test-token"


class _RecordedApi(http.server.BaseHTTPRequestHandler):
    """Serve the recorded responses of both APIs, and reject requests without the expected token."""

    seen: list[tuple[str, str]] = []
    # Responses that replace a recorded one, by path and page: the malformed responses of some tests.
    overrides: dict[tuple[str, str], str] = {}

    def do_GET(self) -> None:  # noqa: N802 - http.server method name
        url = urlparse(self.path)
        page = parse_qs(url.query).get("page", ["1"])[0]
        routes = {
            "/hetzner/v1/server_types": (HETZNER_TOKEN, f"hetzner-server_types-{page}.json"),
            "/hetzner/v1/load_balancer_types": (HETZNER_TOKEN, "hetzner-load_balancer_types.json"),
            "/hetzner/v1/pricing": (HETZNER_TOKEN, "hetzner-pricing.json"),
            "/digitalocean/v2/sizes": (DIGITALOCEAN_TOKEN, f"digitalocean-sizes-{page}.json"),
        }
        self.seen.append((url.path, self.headers.get("Authorization", "")))
        if url.path not in routes:
            self.send_error(404)
            return
        token, name = routes[url.path]
        if self.headers.get("Authorization") != f"Bearer {token}":
            self.send_error(401)
            return
        base = f"http://{self.server.server_address[0]}:{self.server.server_address[1]}/digitalocean/v2"
        text = self.overrides.get((url.path, page)) or (RECORDED / name).read_text()
        body = text.replace("__BASE__", base).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def api_base():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RecordedApi)
    _RecordedApi.seen = []
    _RecordedApi.overrides = {}
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def refresh(api_base: str, catalog: Path, hetzner_token: str | None = HETZNER_TOKEN, digitalocean_token: str | None = DIGITALOCEAN_TOKEN):
    environment = {key: value for key, value in os.environ.items() if key not in ("HCLOUD_TOKEN", "DIGITALOCEAN_TOKEN", "DIGITALOCEAN_ACCESS_TOKEN")}
    if hetzner_token:
        environment["HCLOUD_TOKEN"] = hetzner_token
    if digitalocean_token:
        environment["DIGITALOCEAN_TOKEN"] = digitalocean_token
    return subprocess.run(
        [
            sys.executable, "-m", "stacks", "prices", "refresh",
            "--hetzner-api", f"{api_base}/hetzner/v1",
            "--digitalocean-api", f"{api_base}/digitalocean/v2",
            "--catalog", str(catalog),
        ],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120,
    )


@pytest.fixture
def catalog_copy(tmp_path) -> Path:
    path = tmp_path / "price_catalog.yaml"
    shutil.copy(CATALOG_PATH, path)
    return path


def test_refresh_rewrites_hetzner_prices(api_base, catalog_copy):
    result = refresh(api_base, catalog_copy)
    catalog = load_catalog(catalog_copy)

    assert result.returncode == 0, result.stderr
    cx23 = catalog.price("hetzner", "cx23", "nbg1")
    assert cx23.monthly == Decimal("5.49")
    assert cx23.hourly == Decimal("0.0088")
    assert cx23.locations == ["fsn1", "hel1", "nbg1"]
    assert (cx23.vcpus, cx23.memory_gb) == (2, Decimal(4))
    assert cx23.source.endswith("/hetzner/v1/server_types")
    assert cx23.read_on == datetime.date.today()


def test_refresh_follows_pages_and_locations(api_base, catalog_copy):
    refresh(api_base, catalog_copy)
    catalog = load_catalog(catalog_copy)

    assert catalog.price("hetzner", "ccx13", "fsn1").monthly == Decimal("42.99")
    assert catalog.price("hetzner", "ccx13", "sin").monthly == Decimal("55.99")
    assert catalog.price("hetzner", "cpx11", "ash").monthly == Decimal("7.49")
    assert catalog.updated_on == datetime.date.today()


def test_refresh_reads_load_balancers_volumes_and_ipv4(api_base, catalog_copy):
    refresh(api_base, catalog_copy)
    catalog = load_catalog(catalog_copy)

    lb21 = catalog.price("hetzner", "lb21", "fsn1")
    assert lb21.monthly == Decimal("18.99")
    limits = catalog.load_balancer_limits["hetzner"]
    assert limits.types["lb21"].services == 15
    assert limits.types["lb21"].targets == 75
    assert limits.source.endswith("/hetzner/v1/load_balancer_types")
    assert limits.read_on == datetime.date.today()
    assert catalog.price("hetzner", "volume").monthly == Decimal("0.0572")
    assert catalog.price("hetzner", "primary-ipv4", "fsn1").monthly == Decimal("0.5")


def test_refresh_rewrites_droplet_prices(api_base, catalog_copy):
    refresh(api_base, catalog_copy)
    catalog = load_catalog(catalog_copy)

    assert catalog.price("digitalocean", "s-4vcpu-8gb").monthly == Decimal("50")
    assert catalog.price("digitalocean", "s-2vcpu-4gb").memory_gb == Decimal(4)
    unavailable = [price for price in catalog.prices if price.sku == "s-1vcpu-512mb-10gb"]
    assert unavailable == []


def test_refresh_keeps_prices_without_api(api_base, catalog_copy):
    before = load_catalog(catalog_copy)

    refresh(api_base, catalog_copy)
    after = load_catalog(catalog_copy)

    for sku in ("doks-ha-control-plane", "load-balancer", "volume"):
        assert after.price("digitalocean", sku) == before.price("digitalocean", sku)
    assert after.exchange_rate == before.exchange_rate


def test_refresh_sends_tokens(api_base, catalog_copy):
    refresh(api_base, catalog_copy)

    sent = dict(_RecordedApi.seen)
    assert sent["/hetzner/v1/pricing"] == f"Bearer {HETZNER_TOKEN}"
    assert sent["/digitalocean/v2/sizes"] == f"Bearer {DIGITALOCEAN_TOKEN}"


def test_refresh_with_wrong_token_exits_2(api_base, catalog_copy):
    before = catalog_copy.read_text()

    result = refresh(api_base, catalog_copy, hetzner_token="wrong")

    assert result.returncode == 2
    assert "returned HTTP 401; check the API token" in result.stderr
    assert "Traceback" not in result.stderr
    assert catalog_copy.read_text() == before


def test_refresh_one_provider_only(api_base, catalog_copy):
    before = load_catalog(catalog_copy)

    result = refresh(api_base, catalog_copy, hetzner_token=None)
    after = load_catalog(catalog_copy)

    assert result.returncode == 0, result.stderr
    assert "skipped hetzner: HCLOUD_TOKEN is not set" in result.stdout
    assert after.price("hetzner", "cx33", "fsn1") == before.price("hetzner", "cx33", "fsn1")
    assert after.price("digitalocean", "s-4vcpu-8gb").monthly == Decimal("50")


def test_refresh_without_tokens_exits_2(api_base, catalog_copy):
    result = refresh(api_base, catalog_copy, hetzner_token=None, digitalocean_token=None)

    assert result.returncode == 2
    assert "set HCLOUD_TOKEN" in result.stderr


def recorded(name: str) -> dict:
    return json.loads((RECORDED / name).read_text())


@pytest.mark.parametrize(
    ("path", "page", "edit", "expected"),
    [
        ("/hetzner/v1/server_types", "1", lambda d: d["server_types"][0]["prices"][0]["price_monthly"].update(net="0.0000"), "a monthly price of 0"),
        ("/hetzner/v1/pricing", "1", lambda d: d["pricing"]["volume"]["price_per_gb_month"].update(net="-0.0572"), "a monthly price of -0.0572"),
        ("/hetzner/v1/pricing", "1", lambda d: d["pricing"].update(primary_ips=[]), "returned no ipv4 prices"),
        ("/hetzner/v1/server_types", "2", lambda d: d["server_types"].append(dict(d["server_types"][0])), "listed ccx13 in fsn1, ccx13 in sin more than once"),
        ("/hetzner/v1/server_types", "1", lambda d: d["server_types"][0].pop("prices"), "unexpected response from"),
        ("/hetzner/v1/server_types", "2", lambda d: d["meta"]["pagination"].update(next_page=1), "page 2 points to page 1"),
        ("/digitalocean/v2/sizes", "2", lambda d: d.update(sizes="none"), "unexpected response from"),
        ("/digitalocean/v2/sizes", "1", lambda d: d["links"]["pages"].update(next="http://127.0.0.2:1/steal"), "links to http://127.0.0.2:1/steal"),
    ],
)
def test_refresh_rejects_bad_api_data(api_base, catalog_copy, path, page, edit, expected):
    name = {"/hetzner/v1/server_types": f"hetzner-server_types-{page}.json", "/hetzner/v1/pricing": "hetzner-pricing.json", "/digitalocean/v2/sizes": f"digitalocean-sizes-{page}.json"}[path]
    document = recorded(name)
    edit(document)
    _RecordedApi.overrides[(path, page)] = json.dumps(document)
    before = catalog_copy.read_text()

    result = refresh(api_base, catalog_copy)

    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert catalog_copy.read_text() == before


def test_refresh_server_error_names_status(api_base, catalog_copy):
    _RecordedApi.overrides[("/hetzner/v1/pricing", "1")] = "not json"

    result = refresh(api_base, catalog_copy)

    assert result.returncode == 2
    assert "returned no JSON" in result.stderr


def test_refresh_marks_deprecated_types(api_base, catalog_copy):
    document = recorded("hetzner-server_types-1.json")
    document["server_types"][0]["deprecation"] = {"announced": "2025-10-01T00:00:00+00:00", "unavailable_after": "2026-01-01T00:00:00+00:00"}
    _RecordedApi.overrides[("/hetzner/v1/server_types", "1")] = json.dumps(document)

    refresh(api_base, catalog_copy)

    assert load_catalog(catalog_copy).price("hetzner", "cx23", "fsn1").deprecated is True
    assert load_catalog(catalog_copy).price("hetzner", "ccx13", "fsn1").deprecated is False


def test_refreshed_catalog_has_no_yaml_anchors(api_base, catalog_copy):
    refresh(api_base, catalog_copy)

    text = catalog_copy.read_text()
    assert "&id" not in text
    assert text.startswith("# Price catalog of the cost report")
