"""Capacity checks: stacks whose swarms cannot be scheduled fail at plan time, at their exact limits."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import pytest
import yaml

from stacks.capacity import check_capacity, system_reserve
from stacks.catalog import load_catalog
from stacks.config_loader import StackConfigError, parse_stack_config
from tests.conftest import ROOT
from tests.stacks.test_config import swarm_values

CATALOG = load_catalog()


def hetzner_values(server_type: str, count: int, replicas: int, cpu: str = "500m", memory: str = "1Gi") -> dict[str, Any]:
    values = swarm_values()
    values["hetzner"]["workers"] = [{"name": "general", "serverType": server_type, "count": count}]
    values["swarms"][0].update(replicas=replicas, cpu=cpu, memory=memory, storage="10Gi")
    return values


def doks_values(size: str, count: int, replicas: int, cpu: str = "100m", memory: str = "128Mi") -> dict[str, Any]:
    values = swarm_values()
    del values["hetzner"]
    values["platform"] = "doks"
    values["doks"] = {"region": "fra1", "nodePools": [{"name": "general", "size": size, "count": count}]}
    values["swarms"][0].update(replicas=replicas, cpu=cpu, memory=memory, storage="10Gi")
    return values


def error_for(values: dict[str, Any]) -> str:
    with pytest.raises(StackConfigError) as caught:
        parse_stack_config(values)
    return str(caught.value)


def test_reserve_follows_published_tiers():
    # 4 vCPUs: 6% + 1% + 2 x 0.5% of a core. 8 GiB: 25% of 4 GiB + 20% of 4 GiB, plus 100 MiB.
    reserve = system_reserve(4, Decimal(8))

    assert reserve.millicores == 80
    assert reserve.mebibytes == math.ceil((4 * 0.25 + 4 * 0.20) * 1024) + 100


def test_reserve_of_large_node():
    # 16 vCPUs add 12 cores at 0.25%; 32 GiB add 8 GiB at 10% and 16 GiB at 6%.
    reserve = system_reserve(16, Decimal(32))

    assert reserve.millicores == 80 + 30
    assert reserve.mebibytes == math.ceil((1 + 0.8 + 0.8 + 16 * 0.06) * 1024) + 100


def test_sixteen_volumes_fit_one_hetzner_node():
    config = parse_stack_config(hetzner_values("cx53", 1, 16))

    assert config.swarms[0].replicas == 16


def test_seventeen_volumes_need_second_hetzner_node():
    message = error_for(hetzner_values("cx53", 1, 17))

    assert "swarm agents does not fit: 17 containers" in message
    assert "1 of them find no room" in message
    assert "16 volumes allocatable per node" in message
    assert "pulumi config set --path 'swarm:hetzner.workers[0].count' 2" in message


def test_twenty_volumes_fit_two_hetzner_nodes():
    assert error_for(hetzner_values("cx53", 1, 20)).count("does not fit") == 1
    assert parse_stack_config(hetzner_values("cx53", 2, 20)).swarms[0].replicas == 20


def test_seven_volumes_fit_one_doks_node():
    assert parse_stack_config(doks_values("s-4vcpu-8gb", 1, 7)).swarms[0].replicas == 7


def test_eighth_volume_needs_second_doks_node():
    message = error_for(doks_values("s-4vcpu-8gb", 1, 8))

    assert "7 volumes allocatable per node" in message
    assert "pulumi config set --path 'swarm:doks.nodePools[0].count' 2" in message


def test_cpu_limit_is_exact():
    # s-4vcpu-8gb: 4000m minus an 80m reserve leaves 3920m, four containers of 980m.
    # The jump host fits the DOKS system pool, so it takes no room here.
    assert parse_stack_config(doks_values("s-4vcpu-8gb", 1, 4, cpu="980m")).swarms[0].cpu == "980m"

    message = error_for(doks_values("s-4vcpu-8gb", 1, 4, cpu="981m"))
    assert "3.92 CPU" in message
    assert "1 of them find no room" in message


def test_memory_limit_is_exact():
    # 8 GiB minus 1844 MiB of reserve and 100 MiB of eviction threshold leaves 6248 MiB.
    assert parse_stack_config(doks_values("s-4vcpu-8gb", 1, 2, memory="3124Mi")).swarms[0].memory == "3124Mi"

    message = error_for(doks_values("s-4vcpu-8gb", 1, 2, memory="3125Mi"))
    assert "6.10 GiB" in message


def test_container_larger_than_any_node():
    message = error_for(doks_values("s-2vcpu-4gb", 3, 1, cpu="3"))

    assert "each of its containers requests 3 CPU" in message
    assert "choose a larger node type for swarm:doks.nodePools[0]" in message


def test_autoscaling_pool_counts_at_max():
    values = doks_values("s-4vcpu-8gb", 1, 14)
    values["doks"]["nodePools"][0] = {"name": "general", "size": "s-4vcpu-8gb", "autoscale": {"min": 1, "max": 2}}
    assert parse_stack_config(values).swarms[0].replicas == 14

    values["swarms"][0]["replicas"] = 15
    assert "pulumi config set --path 'swarm:doks.nodePools[0].autoscale.max' 3" in error_for(values)


def test_parked_swarm_needs_no_capacity():
    values = hetzner_values("cx23", 1, 100)
    values["swarms"][0]["running"] = False

    assert parse_stack_config(values).swarms[0].running is False


def test_control_plane_carries_swarms_without_agents():
    values = hetzner_values("cx33", 0, 1)
    values["hetzner"]["controlPlane"] = {"serverType": "cx23", "count": 1}
    values["swarms"][0].update(cpu="1", memory="1Gi")
    assert parse_stack_config(values).swarms[0].replicas == 1

    values["swarms"][0]["replicas"] = 2
    message = error_for(values)
    assert "swarm:hetzner.controlPlane" in message
    assert "add a worker pool under swarm:hetzner.workers" in message


def test_tainted_pools_take_only_bound_swarms():
    values = doks_values("s-4vcpu-8gb", 1, 2)
    values["doks"]["nodePools"][0]["taints"] = [{"key": "dedicated", "value": "review"}]

    message = error_for(values)
    assert "every worker pool has taints" in message
    assert "swarm:swarms[0].pool" in message

    values["swarms"][0]["pool"] = "general"
    assert parse_stack_config(values).swarms[0].pool == "general"


def test_bound_swarm_fits_only_its_pool():
    values = doks_values("s-4vcpu-8gb", 1, 8)
    values["doks"]["nodePools"].append({"name": "spare", "size": "s-4vcpu-8gb", "count": 3})
    # Unbound, the eight containers spread over both pools.
    assert parse_stack_config(values).swarms[0].replicas == 8

    values["swarms"][0]["pool"] = "general"
    assert "room on pool general (swarm:doks.nodePools[0]: 1 x s-4vcpu-8gb" in error_for(values)


def test_pool_without_servers_rejects_bound_swarm():
    values = hetzner_values("cx33", 0, 1)
    values["swarms"][0]["pool"] = "general"

    assert "no worker pool has servers" in error_for(values)


def test_jump_host_needs_untainted_hetzner_pool():
    values = hetzner_values("cx33", 2, 1)
    values["hetzner"]["workers"][0]["taints"] = [{"key": "dedicated", "value": "agents"}]
    values["swarms"][0]["pool"] = "general"

    assert "the SSH entry's jump host needs a worker pool without taints" in error_for(values)


def test_load_balancer_targets_limit():
    # One K3s server and 24 agents are 25 targets, all that lb11 takes.
    assert parse_stack_config(hetzner_values("cx23", 24, 1)).hetzner.load_balancer_type == "lb11"

    message = error_for(hetzner_values("cx23", 25, 1))
    assert "lb11 takes at most 25 targets" in message
    assert "up to 26" in message
    assert "pulumi config set --path 'swarm:hetzner.loadBalancerType' lb21" in message


def test_larger_load_balancer_takes_more_targets():
    values = hetzner_values("cx23", 25, 1)
    values["hetzner"]["loadBalancerType"] = "lb21"

    assert parse_stack_config(values).hetzner.load_balancer_type == "lb21"


def with_server_type(config, server_type):
    pool = config.hetzner.workers[0].model_copy(update={"server_type": server_type})
    return config.model_copy(update={"hetzner": config.hetzner.model_copy(update={"workers": [pool]})})


def test_unknown_hardware_warns_without_error():
    config = with_server_type(parse_stack_config(hetzner_values("cx33", 1, 1)), "cx99")
    report = check_capacity(config, CATALOG)

    assert report.problems == []
    assert "no vCPU and memory figures for cx99" in report.warnings[0]


def test_unknown_hardware_keeps_volume_limit():
    config = with_server_type(parse_stack_config(hetzner_values("cx33", 1, 1)), "cx99")
    swarm = config.swarms[0].model_copy(update={"replicas": 17})
    report = check_capacity(config.model_copy(update={"swarms": [swarm]}), CATALOG)

    assert "1 x cx99 with unknown CPU and memory and 16 volumes per node" in report.problems[0]
    assert "choose a larger node type" not in report.problems[0]


def test_existing_cluster_is_not_checked():
    values = swarm_values()
    del values["hetzner"]
    values["platform"] = "kubeconfig"
    values["kubeconfig"] = {"context": "k3d-swarm", "sshService": "NodePort", "sshHost": "127.0.0.1"}
    values["swarms"][0]["replicas"] = 1000

    assert check_capacity(parse_stack_config(values), CATALOG).problems == []


@pytest.mark.parametrize("stack", ["dev", "prod", "local"])
def test_example_stacks_fit(stack):
    document = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
    values = {key.removeprefix("swarm:"): value for key, value in document["config"].items() if key.startswith("swarm:")}

    report = check_capacity(parse_stack_config(values), CATALOG)

    assert report.problems == []
    assert report.warnings == []


def test_firewall_effective_rules_limit():
    # Two rules carry every admin range, and ICMP adds two more: 249 ranges make 500 rules.
    values = hetzner_values("cx33", 1, 1)
    values["adminCidrs"] = [f"198.51.{index // 256}.{index % 256}/32" for index in range(249)]
    assert len(parse_stack_config(values).admin_cidrs) == 249

    values["adminCidrs"].append("203.0.113.7/32")
    message = error_for(values)
    assert "502 effective rules" in message
    assert "at most 500" in message


def test_jump_host_fix_offers_no_replicas():
    # The jump host has no replicas key, so the fix names only the node count and the node type.
    values = hetzner_values("cx33", 1, 3, cpu="1", memory="2Gi")
    values["swarms"][0]["storage"] = "10Gi"

    message = error_for(values)
    assert "the SSH entry's jump host does not fit" in message
    assert ", or or" not in message
    assert message.endswith("'swarm:hetzner.workers[0].count' 2, or choose a larger node type")


def test_quantities_are_exact():
    # 15790m and 15.79 are the same quantity; both leave room for the jump host on one cx53.
    for cpu in ("15790m", "15.79"):
        assert parse_stack_config(hetzner_values("cx53", 1, 1, cpu=cpu, memory="28894Mi")).swarms[0].cpu == cpu


def test_volume_bound_fix_offers_no_larger_type():
    message = error_for(hetzner_values("cx53", 1, 17))

    assert "choose a larger node type" not in message


def test_count_beyond_network_says_so():
    values = hetzner_values("cx53", 1, 1000, cpu="1", memory="2Gi")
    values["hetzner"]["loadBalancerType"] = "lb31"
    values["swarms"].append(dict(values["swarms"][0], name="second"))

    message = error_for(values)
    assert "would need 143 nodes, but at most 99 fit the Hetzner private network" in message
    assert "pulumi config set" not in message


def test_suggested_count_makes_stack_fit():
    values = doks_values("s-4vcpu-8gb", 1, 1, cpu="1", memory="2Gi")
    values["swarms"] = [dict(values["swarms"][0], name=f"team{index}", replicas=7 + index) for index in range(6)]
    message = error_for(values)
    count = int(message.split("'swarm:doks.nodePools[0].count' ")[1].split(",")[0])

    values["doks"]["nodePools"][0]["count"] = count
    assert len(parse_stack_config(values).swarms) == 6
    values["doks"]["nodePools"][0]["count"] = count - 1
    assert "does not fit" in error_for(values) or "find no room" in error_for(values)


def test_larger_untainted_pool_gets_the_fix():
    values = doks_values("s-4vcpu-8gb", 1, 3, cpu="1500m", memory="3Gi")
    values["doks"]["nodePools"].insert(0, {"name": "small", "size": "s-1vcpu-2gb", "count": 1})

    message = error_for(values)
    assert "more than one node" not in message
    assert "'swarm:doks.nodePools[1].count' 2" in message


def test_jump_host_config_map_limit():
    values = swarm_values()
    del values["hetzner"]
    values["platform"] = "kubeconfig"
    values["kubeconfig"] = {"context": "k3d-swarm", "sshService": "NodePort", "sshHost": "127.0.0.1"}
    values["swarms"] = [
        dict(values["swarms"][0], name=f"team-{index:02d}-agents-abcdefghijklmn", replicas=1000) for index in range(8)
    ]

    message = error_for(values)
    assert "the SSH entry's ConfigMap would hold 1087680 bytes" in message
    assert "at most 1048576" in message

    values["swarms"].pop()
    assert len(parse_stack_config(values).swarms) == 7
