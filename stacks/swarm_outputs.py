"""The `swarms` stack output: per swarm, where to reach it and what it costs.

A swarm's monthly cost is its own workspace volumes plus a share of every
other cost of the stack (nodes, control plane, load balancer). The share is
the swarm's part of the running containers' requests, CPU and memory
weighted equally, so a parked swarm pays for its volumes only while another
swarm runs.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal
from typing import Any, Optional

import pulumi

from components.swarm_workloads import container_dns_name, namespace_name
from stacks.config import StackConfig, Swarm, parse_quantity
from stacks.cost import StackCost


def request_shares(swarms: list[Swarm]) -> dict[str, Decimal]:
    """Return each swarm's share of the running containers' CPU and memory requests; the shares sum to 1 or 0."""
    cpu = {swarm.name: Decimal(str(parse_quantity(swarm.cpu))) * swarm.running_replicas for swarm in swarms}
    memory = {swarm.name: Decimal(str(parse_quantity(swarm.memory))) * swarm.running_replicas for swarm in swarms}
    total_cpu, total_memory = sum(cpu.values()), sum(memory.values())
    if not total_cpu or not total_memory:
        return {swarm.name: Decimal(0) for swarm in swarms}
    return {name: (cpu[name] / total_cpu + memory[name] / total_memory) / 2 for name in cpu}


def swarm_costs(config: StackConfig, cost: StackCost) -> dict[str, dict[str, str]]:
    """Return each swarm's monthly cost in EUR and USD, as text such as "12.34" or "10.00 - 14.00".

    The swarms' costs add up to the stack's total to the cent: the cents lost
    in rounding go to the swarms with the largest remainders. When every swarm
    is parked, they share the rest of the stack equally.
    """
    shares = request_shares(config.swarms)
    if not any(shares.values()):
        shares = {swarm.name: Decimal(1) / len(config.swarms) for swarm in config.swarms}
    names = {swarm.name for swarm in config.swarms}
    amounts: dict[str, dict[str, list[Decimal]]] = {swarm.name: {} for swarm in config.swarms}
    for currency in ("EUR", "USD"):
        totals = cost.total(currency)
        volumes = cost.total(currency, category="storage", resources=names)
        for bound in (0, 1):
            shared = totals[bound] - volumes[bound]
            exact = {
                name: cost.total(currency, category="storage", resources={name})[bound] + shared * shares[name]
                for name in sorted(names)
            }
            for name, amount in _round_to_total(exact, totals[bound]).items():
                amounts[name].setdefault(currency, []).append(amount)
    return {
        name: {currency: _text(*bounds) for currency, bounds in by_currency.items()}
        for name, by_currency in amounts.items()
    }


def _round_to_total(exact: dict[str, Decimal], total: Decimal) -> dict[str, Decimal]:
    """Round each amount down to the cent, then hand out the missing cents by largest remainder."""
    cent = Decimal("0.01")
    rounded = {name: amount.quantize(cent, rounding=ROUND_DOWN) for name, amount in exact.items()}
    missing = int((total - sum(rounded.values())) / cent)
    for name in sorted(exact, key=lambda name: exact[name] - rounded[name], reverse=True)[: max(0, missing)]:
        rounded[name] += cent
    return rounded


def _text(low: Decimal, high: Decimal) -> str:
    return str(low) if low == high else f"{low} - {high}"


def swarm_outputs(
    config: StackConfig,
    jump_alias: str,
    ssh_host: pulumi.Input[str],
    ssh_port: int,
    cost: Optional[StackCost],
) -> dict[str, Any]:
    """Build the per-swarm output: namespace, SSH endpoint and host aliases, container DNS names and monthly cost."""
    costs = swarm_costs(config, cost) if cost is not None else {}

    endpoint = pulumi.Output.format("{0}:{1}", ssh_host, ssh_port)
    outputs: dict[str, Any] = {}
    for swarm in config.swarms:
        outputs[swarm.name] = {
            "namespace": namespace_name(swarm),
            "running": swarm.running,
            "ssh": {
                # The jump host's address. Each container is reached as
                # `ssh <alias>` with the ssh_config output, which jumps there.
                "endpoint": endpoint,
                "jumpHostAlias": jump_alias,
                "user": swarm.ssh_user,
                "hosts": [f"{swarm.name}-{ordinal}" for ordinal in range(swarm.running_replicas)],
            },
            "dnsNames": [container_dns_name(swarm, ordinal) for ordinal in range(swarm.running_replicas)],
            "monthlyCost": costs.get(swarm.name, {"unknown": "the price catalog has no price for part of this stack"}),
        }
    return outputs
