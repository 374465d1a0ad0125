"""Monthly cost of a stack, line by line, from the resources it plans.

The input is a list of resources with their type, name and inputs: the
offline plan, the steps of `pulumi preview --json`, or the resources of
`pulumi stack export`. Every billable resource becomes a line with a low and a
high monthly amount. The two differ only for autoscaling node pools, whose
range runs from `min` to `max` nodes: DOKS node pools, and on Hetzner the node
groups of the cluster autoscaler's Helm release, whose servers no plan lists.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Iterable, Optional, Protocol

from stacks.catalog import Catalog, Price, UnknownPriceError
from stacks.config_checks import parse_quantity

CATEGORIES = ("compute", "control plane", "network", "storage")
CENT = Decimal("0.01")

_HETZNER_SERVER = "hcloud:index/server:Server"
_HETZNER_LOAD_BALANCER = "hcloud:index/loadBalancer:LoadBalancer"
_HETZNER_PRIMARY_IP = "hcloud:index/primaryIp:PrimaryIp"
_DOKS_CLUSTER = "digitalocean:index/kubernetesCluster:KubernetesCluster"
_DOKS_NODE_POOL = "digitalocean:index/kubernetesNodePool:KubernetesNodePool"
_DO_LOAD_BALANCER = "digitalocean:index/loadBalancer:LoadBalancer"
_STATEFULSET = "kubernetes:apps/v1:StatefulSet"
_HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
_CLUSTER_AUTOSCALER_CHART = "cluster-autoscaler"


class Resource(Protocol):
    """The part of a planned resource that pricing reads."""

    type: str
    name: str
    inputs: dict[str, Any]


@dataclass(frozen=True)
class CostLine:
    """One billable item and its monthly amount, as a range for autoscaling pools."""

    category: str
    resource: str
    description: str
    sku: str
    quantity_low: Decimal
    quantity_high: Decimal
    unit: str
    unit_price: Decimal
    currency: str

    @property
    def monthly_low(self) -> Decimal:
        return self.quantity_low * self.unit_price

    @property
    def monthly_high(self) -> Decimal:
        return self.quantity_high * self.unit_price


@dataclass
class StackCost:
    """The cost lines of one stack and the totals derived from them."""

    stack: str
    platform: str
    lines: list[CostLine]
    containers: int
    usd_per_eur: Decimal
    notes: list[str] = field(default_factory=list)

    def total(
        self, currency: str, category: Optional[str] = None, resources: Optional[set[str]] = None
    ) -> tuple[Decimal, Decimal]:
        """Sum the lines, converted to `currency`, as (low, high), rounded to the cent.

        `category` keeps the lines of one category, and `resources` the lines of those resources.
        """
        low = high = Decimal(0)
        for line in self.lines:
            if category is not None and line.category != category:
                continue
            if resources is not None and line.resource not in resources:
                continue
            rate = self._rate(line.currency, currency)
            low += line.monthly_low * rate
            high += line.monthly_high * rate
        return _cents(low), _cents(high)

    @property
    def currency(self) -> str:
        """The currency the stack's provider bills in: EUR for Hetzner, USD for DigitalOcean."""
        currencies = {line.currency for line in self.lines}
        return currencies.pop() if len(currencies) == 1 else "EUR"

    def per_container(self, currency: str) -> Optional[tuple[Decimal, Decimal]]:
        if self.containers == 0:
            return None
        low, high = self.total(currency)
        return _cents(low / self.containers), _cents(high / self.containers)

    def _rate(self, source: str, target: str) -> Decimal:
        if source == target:
            return Decimal(1)
        if (source, target) == ("EUR", "USD"):
            return self.usd_per_eur
        return Decimal(1) / self.usd_per_eur


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def price_resources(
    stack: str, resources: Iterable[Resource], catalog: Catalog, usd_per_eur: Optional[Decimal] = None
) -> StackCost:
    """Price every billable resource of a stack."""
    resources = list(resources)
    types = {resource.type for resource in resources}
    if _HETZNER_SERVER in types:
        platform = "hetzner-k3s"
    elif _DOKS_CLUSTER in types:
        platform = "doks"
    else:
        platform = "kubeconfig"

    cost = StackCost(
        stack=stack,
        platform=platform,
        lines=[],
        containers=0,
        usd_per_eur=usd_per_eur if usd_per_eur is not None else catalog.exchange_rate.usd_per_eur,
    )
    if platform == "hetzner-k3s":
        _price_hetzner(resources, catalog, cost)
    elif platform == "doks":
        _price_doks(resources, catalog, cost)
    else:
        cost.notes.append("an existing cluster: its nodes and volumes are billed to its owner and not priced here")
    _price_workspaces(resources, catalog, cost)
    return cost


# The markers of a value that is not known yet in the three sources: the
# offline plan, `pulumi preview --json` and `pulumi stack export`.
_UNKNOWN_VALUES = ("[unknown]", "04da6b54-80e4-46f7-96ec-b56ff0331ba9")
_SECRET_SIGNATURE = "4dabf18193072939515e22adb298388d"


def _unusable(value: Any) -> Optional[str]:
    if value is None:
        return "missing"
    if isinstance(value, str) and value.startswith("[secret"):
        return "secret"
    if isinstance(value, dict) and _SECRET_SIGNATURE in value:
        return "secret"
    if isinstance(value, str) and value in _UNKNOWN_VALUES:
        return "unknown until the update runs"
    return None


def _input(resource: Resource, path: str, default: Any = None) -> Any:
    """Read a dotted input path that pricing needs, or raise UnknownPriceError saying why it cannot."""
    value: Any = resource.inputs
    for part in path.split("."):
        problem = _unusable(value)
        if problem is None and not isinstance(value, dict):
            problem = "not an object"
        if problem is not None:
            break
        value = value.get(part)
    else:
        problem = _unusable(value)
    if problem is None:
        return value
    if problem == "missing" and default is not None:
        return default
    raise UnknownPriceError(f"cannot price {resource.name} ({resource.type}): its input {path} is {problem}")


def _line(category: str, resource: str, description: str, price: Price, low: Decimal, high: Optional[Decimal] = None) -> CostLine:
    return CostLine(
        category=category,
        resource=resource,
        description=description,
        sku=price.sku,
        quantity_low=low,
        quantity_high=low if high is None else high,
        unit=price.unit,
        unit_price=price.monthly,
        currency=price.currency,
    )


def _price_hetzner(resources: list[Resource], catalog: Catalog, cost: StackCost) -> None:
    for resource in resources:
        if resource.type == _HETZNER_SERVER:
            location = _input(resource, "location", "*")
            price = catalog.price("hetzner", _input(resource, "serverType"), location)
            role = (resource.inputs.get("labels") or {}).get("swarm-role", "server")
            category = "control plane" if role == "server" else "compute"
            cost.lines.append(_line(category, resource.name, f"server {price.sku} in {location}", price, Decimal(1)))
            # A server whose IPv4 is not a Primary IP of the stack gets one
            # that Hetzner creates, and bills, with the server.
            public_net = (resource.inputs.get("publicNets") or [{}])[0]
            if public_net.get("ipv4Enabled", True) and "ipv4" not in public_net:
                ipv4 = catalog.price("hetzner", "primary-ipv4", location)
                cost.lines.append(_line("network", resource.name, f"primary IPv4 of {resource.name}", ipv4, Decimal(1)))
        elif resource.type == _HETZNER_PRIMARY_IP and resource.inputs.get("type") == "ipv4":
            price = catalog.price("hetzner", "primary-ipv4", _input(resource, "location", "*"))
            cost.lines.append(_line("network", resource.name, "primary IPv4", price, Decimal(1)))
        elif resource.type == _HETZNER_LOAD_BALANCER:
            location = _input(resource, "location", "*")
            price = catalog.price("hetzner", _input(resource, "loadBalancerType"), location)
            cost.lines.append(_line("network", resource.name, f"load balancer {price.sku}", price, Decimal(1)))
        elif resource.type == _HELM_RELEASE and resource.inputs.get("chart") == _CLUSTER_AUTOSCALER_CHART:
            _price_autoscaled_servers(resource, catalog, cost)


def _price_autoscaled_servers(release: Resource, catalog: Catalog, cost: StackCost) -> None:
    """Price each node group of the cluster autoscaler's release from its minSize to its maxSize servers."""
    if _input(release, "values.cloudProvider") != "hetzner":
        return
    # The Hetzner provider gives each server a public IPv4 unless
    # HCLOUD_PUBLIC_IPV4 parses as false (Go's strconv.ParseBool), and Hetzner
    # bills that address.
    public_ipv4_setting = _input(release, "values.extraEnv", {}).get("HCLOUD_PUBLIC_IPV4", "true")
    public_ipv4 = str(public_ipv4_setting).lower() not in ("false", "f", "0")
    for group_inputs in _input(release, "values.autoscalingGroups"):
        group = _Nested(release, group_inputs, "autoscaling group")
        name = _input(group, "name")
        location = _input(group, "region")
        low, high = Decimal(_input(group, "minSize")), Decimal(_input(group, "maxSize"))
        price = catalog.price("hetzner", _input(group, "instanceType"), location)
        description = f"autoscaled servers {price.sku} in {location}, autoscaling {low}-{high}"
        cost.lines.append(_line("compute", name, description, price, low, high))
        if public_ipv4:
            ipv4 = catalog.price("hetzner", "primary-ipv4", location)
            description = f"primary IPv4 of each autoscaled server of {name}, autoscaling {low}-{high}"
            cost.lines.append(_line("network", name, description, ipv4, low, high))


def _price_doks(resources: list[Resource], catalog: Catalog, cost: StackCost) -> None:
    for resource in resources:
        if resource.type == _DOKS_CLUSTER:
            if _input(resource, "ha", False) is True:
                price = catalog.price("digitalocean", "doks-ha-control-plane")
                cost.lines.append(_line("control plane", resource.name, "HA control plane", price, Decimal(1)))
            price = catalog.price("digitalocean", _input(resource, "nodePool.size"))
            count = Decimal(_input(resource, "nodePool.nodeCount", 1))
            cost.lines.append(_line("compute", resource.name, f"system pool, {price.sku}", price, count))
        elif resource.type == _DOKS_NODE_POOL:
            price = catalog.price("digitalocean", _input(resource, "size"))
            if _input(resource, "autoScale", False) is True:
                low, high = Decimal(_input(resource, "minNodes")), Decimal(_input(resource, "maxNodes"))
                description = f"node pool, {price.sku}, autoscaling {low}-{high}"
            else:
                low = high = Decimal(_input(resource, "nodeCount"))
                description = f"node pool, {price.sku}"
            cost.lines.append(_line("compute", resource.name, description, price, low, high))
        elif resource.type == _DO_LOAD_BALANCER:
            price = catalog.price("digitalocean", "load-balancer")
            units = Decimal(_input(resource, "sizeUnit", 1))
            cost.lines.append(_line("network", resource.name, "load balancer", price, units))


def _price_workspaces(resources: list[Resource], catalog: Catalog, cost: StackCost) -> None:
    provider = {"hetzner-k3s": "hetzner", "doks": "digitalocean"}.get(cost.platform)
    location = "*"
    for resource in resources:
        if resource.type == _HETZNER_SERVER:
            location = resource.inputs.get("location", "*")
            break

    for resource in resources:
        if resource.type != _STATEFULSET:
            continue
        # Kubernetes runs one replica when the StatefulSet names none.
        replicas = int(_input(resource, "spec.replicas", 1))
        cost.containers += replicas
        # A parked swarm runs no containers but keeps its workspaces.
        annotations = (resource.inputs.get("metadata") or {}).get("annotations") or {}
        workspaces = max(replicas, int(annotations.get("swarm/workspaces", replicas)))
        if provider is None:
            continue
        price = catalog.price(provider, "volume", location)
        limits = catalog.volume_limits[provider]
        for claim in _input(resource, "spec.volumeClaimTemplates", []):
            request = _input(_Nested(resource, claim, "volume claim template"), "spec.resources.requests.storage")
            size = volume_size_gb(request, limits.minimum_gb)
            if size > limits.maximum_gb:
                raise UnknownPriceError(
                    f"cannot price {resource.name}: a {request} volume is larger than the {limits.maximum_gb} GB "
                    f"that {provider} volumes may have"
                )
            name = (resource.inputs.get("metadata") or {}).get("name", resource.name)
            parked = ", parked" if replicas == 0 and workspaces else ""
            description = f"{workspaces} x {size} GB volume ({request} requested) of swarm {name}{parked}"
            cost.lines.append(_line("storage", resource.name, description, price, Decimal(workspaces * size)))


@dataclass(frozen=True)
class _Nested:
    """An object inside a resource's inputs, such as a volume claim template, read with the same checks as a resource."""

    resource: Resource
    inputs: dict[str, Any]
    kind: str

    @property
    def name(self) -> str:
        return f"{self.resource.name} ({self.kind})"

    @property
    def type(self) -> str:
        return self.resource.type


def volume_size_gb(request: str, minimum_gb: int) -> int:
    """Return the billed size of a volume for a storage request: whole GiB, at least the provider's minimum.

    NOTE: Hetzner and DigitalOcean both bill whole units that their docs call
    GB, and both CSI drivers round a request up to whole GiB; this treats the
    two as the same unit.
    """
    gib = math.ceil(parse_quantity(request) / 2**30)
    return max(gib, minimum_gb)
