"""The per-swarm stack output: endpoint, DNS names, namespace and monthly cost of each swarm."""

from __future__ import annotations

from decimal import Decimal

from stacks.catalog import load_catalog
from stacks.config_loader import parse_stack_config
from stacks.cost_estimate import estimate
from stacks.swarm_outputs import request_shares, swarm_costs
from tests.conftest import BOB_KEY
from tests.engine import LOAD_BALANCER_IPV4
from tests.stacks.test_config import swarm_values


def two_swarm_config(running: bool = True):
    values = swarm_values()
    values["swarms"].append(
        {"name": "research", "replicas": 1, "cpu": "1", "memory": "2Gi", "storage": "10Gi",
         "running": running, "sshPublicKeys": [BOB_KEY]}
    )
    return parse_stack_config(values)


def test_dev_output_names_every_container(dev_applied):
    agents = dev_applied.outputs["swarms"]["agents"]

    assert agents["namespace"] == "swarm-agents"
    assert agents["ssh"]["endpoint"] == f"{LOAD_BALANCER_IPV4}:22"
    assert agents["ssh"]["hosts"] == ["agents-0", "agents-1", "agents-2"]
    assert agents["ssh"]["user"] == "dev"
    assert agents["dnsNames"][2] == "agents-2.agents.swarm-agents.svc.cluster.local"


def test_dev_output_cost_is_whole_stack(dev_applied):
    # The only swarm carries every cost of the stack.
    assert dev_applied.outputs["swarms"]["agents"]["monthlyCost"]["EUR"] == dev_applied.outputs["estimatedMonthlyCost"]["EUR"]


def test_preview_output_known_but_endpoint(dev_preview):
    agents = dev_preview.outputs["swarms"]["agents"]

    assert agents["ssh"]["endpoint"] == "[unknown]"
    assert agents["namespace"] == "swarm-agents"


def test_shares_follow_requests():
    shares = request_shares(two_swarm_config().swarms)

    # agents: 3 of 4 CPUs and 6 of 8 GiB.
    assert shares == {"agents": Decimal("0.75"), "research": Decimal("0.25")}


def test_swarm_costs_add_up_to_stack():
    config = two_swarm_config()
    cost = estimate("test", config, load_catalog())
    costs = swarm_costs(config, cost)

    total = sum(Decimal(amounts["EUR"]) for amounts in costs.values())
    assert abs(total - cost.total("EUR")[0]) <= Decimal("0.01")


def test_parked_swarm_pays_only_volumes():
    config = two_swarm_config(running=False)
    cost = estimate("test", config, load_catalog())
    research = swarm_costs(config, cost)["research"]

    volumes = cost.total("EUR", category="storage", resources={"research"})[0]
    assert volumes > 0
    assert Decimal(research["EUR"]) == volumes


def test_costs_add_up_to_the_cent():
    values = swarm_values()
    values["swarms"] += [
        {"name": f"team{index}", "replicas": 1, "cpu": "100m", "memory": "128Mi", "storage": "10Gi",
         "sshPublicKeys": [BOB_KEY]}
        for index in range(3)
    ]
    config = parse_stack_config(values)
    cost = estimate("test", config, load_catalog())

    for currency in ("EUR", "USD"):
        total = sum(Decimal(amounts[currency]) for amounts in swarm_costs(config, cost).values())
        assert total == cost.total(currency)[0]


def test_all_parked_share_the_rest():
    values = swarm_values()
    values["swarms"][0]["running"] = False
    config = parse_stack_config(values)
    cost = estimate("test", config, load_catalog())

    (agents,) = swarm_costs(config, cost).values()
    assert Decimal(agents["EUR"]) == cost.total("EUR")[0]
