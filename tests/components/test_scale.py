"""Scaling a stack from one container to 200 in ten swarms leaves its load balancer as it is."""

from __future__ import annotations

import copy

import pytest

from stacks.config_loader import StackConfigError
from stacks.plan import Plan, run_plan
from tests.conftest import ALICE_KEY, dev_config

LOAD_BALANCER_TYPES = {
    "hetzner-k3s": ("hcloud:index/loadBalancer:LoadBalancer", "hcloud:index/loadBalancerService:LoadBalancerService",
                    "hcloud:index/loadBalancerTarget:LoadBalancerTarget"),
    "doks": ("digitalocean:index/loadBalancer:LoadBalancer",),
}


def scaled(config: dict, swarms: int, replicas: int) -> dict:
    config = copy.deepcopy(config)
    config["swarm:swarms"] = [
        {"name": f"team{index}", "replicas": replicas, "cpu": "1", "memory": "2Gi", "storage": "10Gi",
         "sshPublicKeys": [ALICE_KEY]}
        for index in range(swarms)
    ]
    return config


def hetzner_config(workers: int) -> dict:
    config = dev_config()
    config["swarm:hetzner"]["workers"] = [{"name": "general", "serverType": "cx53", "count": workers}]
    return config


def doks_config(nodes: int) -> dict:
    config = dev_config()
    del config["swarm:hetzner"]
    config["swarm:platform"] = "doks"
    config["swarm:doks"] = {"region": "fra1", "nodePools": [{"name": "general", "size": "s-8vcpu-16gb", "count": nodes}]}
    return config


def load_balancer_inputs(plan: Plan, platform: str) -> list[tuple[str, dict]]:
    return [
        (resource.name, resource.inputs)
        for resource_type in LOAD_BALANCER_TYPES[platform]
        for resource in plan.of_type(resource_type)
    ]


@pytest.mark.parametrize(
    ("platform", "small", "large"),
    [
        # 14 containers of 1 CPU and 2 GiB fit a cx53 after its reserve, so 200 need 15.
        ("hetzner-k3s", hetzner_config(1), hetzner_config(15)),
        # s-8vcpu-16gb: 13.3 GiB of allocatable memory fits 6 containers, so 200 need 34.
        ("doks", doks_config(1), doks_config(34)),
    ],
)
def test_scale_keeps_load_balancer(write_stack, platform, small, large):
    one = run_plan(str(write_stack(scaled(small, 1, 1), stack="scale")))
    many = run_plan(str(write_stack(scaled(large, 10, 20), stack="scale")))

    before = load_balancer_inputs(one, platform)
    after = load_balancer_inputs(many, platform)
    assert len(before) == len(LOAD_BALANCER_TYPES[platform])
    assert after == before
    assert len(many.of_type("kubernetes:apps/v1:StatefulSet")) == 10


def test_two_hundred_need_fifteen_cx53(write_stack):
    # The containers left over from several swarms add up to one node count in one message.
    with pytest.raises(StackConfigError, match="'swarm:hetzner.workers\\[0\\].count' 15,") as caught:
        run_plan(str(write_stack(scaled(hetzner_config(10), 10, 20), stack="scale")))

    assert len(str(caught.value).splitlines()) == 1
