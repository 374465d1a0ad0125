"""The `swarms` stack output: per swarm, where to reach it and what it costs.

A swarm's monthly cost is its own workspace volumes plus a share of every
other cost of the stack (nodes, control plane, load balancer). The share is
the swarm's part of the running containers' requests, CPU and memory
weighted equally, so a parked swarm pays for its volumes only.
"""

from __future__ import annotations

from decimal import Decimal
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
    """Return each swarm's monthly cost in EUR and USD, as text such as "12.34" or "10.00 - 14.00"."""
    shares = request_shares(config.swarms)
    names = {swarm.name for swarm in config.swarms}
    costs = {}
    for swarm in config.swarms:
        amounts = {}
        for currency in ("EUR", "USD"):
            own_low, own_high = cost.total(currency, category="storage", resources={swarm.name})
            all_low, all_high = cost.total(currency)
            volumes_low, volumes_high = cost.total(currency, category="storage", resources=names)
            shared_low, shared_high = all_low - volumes_low, all_high - volumes_high
            low = (own_low + shared_low * shares[swarm.name]).quantize(Decimal("0.01"))
            high = (own_high + shared_high * shares[swarm.name]).quantize(Decimal("0.01"))
            amounts[currency] = str(low) if low == high else f"{low} - {high}"
        costs[swarm.name] = amounts
    return costs


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
