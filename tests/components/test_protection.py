"""swarm:protect: resources that contain data or the cluster's identity are protected in every stack but dev."""

from __future__ import annotations

import pytest

from stacks.plan import run_plan
from tests.conftest import dev_config

HETZNER_KEPT = ("swarm-test-network", "swarm-test-subnet", "swarm-test-server-0-ipv4", "swarm-test-server-0")


def test_dev_stack_unprotected(dev_preview):
    protected = [resource.name for resource in dev_preview.resources if resource.protect]

    assert protected == []


def test_hetzner_protects_network_ips_and_control_plane(write_stack):
    config = dev_config()
    config["swarm:protect"] = True

    plan = run_plan(str(write_stack(config)))

    for name in HETZNER_KEPT:
        assert plan.named(name).protect is True, name
    assert plan.named("swarm-test-swarms-agents-namespace").protect is True
    # Agents hold no data: they may be replaced or scaled away.
    assert plan.named("swarm-test-general-0").protect is False


def test_non_dev_stack_protected_by_default(write_stack):
    plan = run_plan(str(write_stack(dev_config(), stack="staging")))

    assert plan.named("swarm-staging-server-0").protect is True
    assert plan.named("swarm-staging-network").protect is True


def test_protect_false_turns_it_off(write_stack):
    config = dev_config()
    config["swarm:protect"] = False

    plan = run_plan(str(write_stack(config, stack="staging")))

    assert [resource.name for resource in plan.resources if resource.protect] == []


def test_prod_protects_cluster_and_vpc():
    plan = run_plan("prod")

    assert plan.named("swarm-prod-cluster").protect is True
    assert plan.named("swarm-prod-vpc").protect is True
    assert plan.named("swarm-prod-swarms-agents-namespace").protect is True
    assert plan.named("swarm-prod-agents").protect is False


def test_public_admin_warns(write_stack, monkeypatch):
    warnings = []
    monkeypatch.setattr("pulumi.log.warn", lambda message, *args, **kwargs: warnings.append(message))
    config = dev_config()
    config["swarm:adminCidrs"] = ["0.0.0.0/0"]
    config["swarm:allowPublicAdmin"] = True

    plan = run_plan(str(write_stack(config)))
    rules = plan.named("swarm-test-firewall").inputs["rules"]

    assert any("open to the whole internet" in message for message in warnings)
    assert rules[0]["sourceIps"] == ["0.0.0.0/0"]


@pytest.mark.parametrize("cidrs", [["0.0.0.0/0"], ["::/0"]])
def test_public_admin_rejected_without_flag(write_stack, cidrs):
    from stacks.config_loader import StackConfigError

    config = dev_config()
    config["swarm:adminCidrs"] = cidrs

    with pytest.raises(StackConfigError, match="swarm:allowPublicAdmin"):
        run_plan(str(write_stack(config)))


def test_ha_control_plane_fully_protected(write_stack):
    config = dev_config()
    config["swarm:protect"] = True
    config["swarm:hetzner"]["controlPlane"]["count"] = 3

    plan = run_plan(str(write_stack(config)))

    for index in range(3):
        assert plan.named(f"swarm-test-server-{index}").protect is True, index
        assert plan.named(f"swarm-test-server-{index}-ipv4").protect is True, index


def test_swarm_workloads_stay_deletable(write_stack):
    config = dev_config()
    config["swarm:protect"] = True

    plan = run_plan(str(write_stack(config)))

    # Only the namespaces, which hold the PVCs, are protected; removing a swarm deletes its StatefulSet.
    for suffix in ("statefulset", "service", "ssh-keys", "network-policy"):
        assert plan.named(f"swarm-test-swarms-agents-{suffix}").protect is False, suffix
