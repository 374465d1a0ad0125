"""Config validation of the doks and kubeconfig platforms, and switching between platforms."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from stacks.config_loader import StackConfigError, parse_stack_config
from stacks.plan import ROOT


def stack_values(stack: str) -> dict[str, Any]:
    document = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
    return {key.removeprefix("swarm:"): copy.deepcopy(value) for key, value in document["config"].items()}


def error_for(values: dict[str, Any]) -> str:
    with pytest.raises(StackConfigError) as caught:
        parse_stack_config(values)
    return str(caught.value)


def test_prod_config_parses():
    config = parse_stack_config(stack_values("prod"))

    assert config.platform == "doks"
    assert config.doks.region == "fra1"
    assert config.doks.version == "1.34"
    assert config.doks.ha is True
    assert config.doks.node_pools[0].autoscale.max == 6
    assert [swarm.name for swarm in config.swarms] == ["agents", "review"]


def test_local_config_parses_without_admin_cidrs():
    config = parse_stack_config(stack_values("local"))

    assert config.platform == "kubeconfig"
    assert config.admin_cidrs is None
    assert config.kubeconfig.context == "k3d-swarm"
    assert config.kubeconfig.client_port() == 30022


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda v: v["doks"].update(region="fra2"), "invalid config swarm:doks.region = fra2: must be a DigitalOcean region"),
        (lambda v: v["doks"].update(region="fra2"), "(nearest: fra1)"),
        (lambda v: v["doks"]["nodePools"][0].update(size="s-4vcpu-9gb"), "invalid config swarm:doks.nodePools[0].size = s-4vcpu-9gb"),
        (lambda v: v["doks"]["nodePools"][0].update(size="s-4vcpu-9gb"), "nearest: s-4vcpu-8gb"),
        (lambda v: v["doks"]["nodePools"][0].update(autoscale={"min": 5, "max": 2}), "autoscale.min = 5 is above autoscale.max = 2"),
        (lambda v: v["doks"]["nodePools"][0].update(count=9), "count 9 outside its autoscale range 2..6"),
        (lambda v: v["doks"]["nodePools"][1].pop("count"), "node pool review needs a count, or autoscale bounds"),
        (lambda v: v["doks"].update(version="latest"), "never a patch or 'latest'"),
        (lambda v: v["doks"].update(version="1.34.2"), "never a patch or 'latest'"),
        (lambda v: v["doks"].update(version="1.27"), "1.28 or later"),
        (lambda v: v["doks"].update(vpcCidr="8.8.0.0/16"), "must lie in 10.0.0.0/8"),
        (lambda v: v["doks"]["maintenanceWindow"].update(day="someday"), "must be one of any, monday"),
        (lambda v: v["doks"]["maintenanceWindow"].update(startTime="25:00"), "24-hour UTC time of day"),
        (lambda v: v["doks"]["nodePools"][1].update(name="agents"), "node pool name agents is used more than once"),
        (lambda v: v["doks"]["nodePools"][0].update(name="system"), "reserved for the cluster's built-in pool"),
        (lambda v: v.pop("adminCidrs"), "missing config key swarm:adminCidrs"),
        (lambda v: v.pop("doks"), "missing config key swarm:doks"),
        (lambda v: v["doks"].update(autoUpgrade=True), "unknown config key swarm:doks.autoUpgrade"),
    ],
)
def test_doks_config_errors(edit, expected):
    values = stack_values("prod")
    edit(values)

    assert expected in error_for(values)


def test_ha_flag_on_platform_without_one():
    values = stack_values("dev")
    values["hetzner"]["ha"] = True

    message = error_for(values)

    assert "unknown config key swarm:hetzner.ha" in message
    assert "controlPlane" in message


def test_ha_flag_on_existing_cluster_rejected():
    values = stack_values("local")
    values["kubeconfig"]["ha"] = True

    assert "unknown config key swarm:kubeconfig.ha" in error_for(values)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda v: v["kubeconfig"].pop("sshHost"), "swarm:kubeconfig.sshHost is required with sshService NodePort"),
        (lambda v: v["kubeconfig"].update(sshPort=2222), "outside the NodePort range 30000-32767"),
        (lambda v: v["kubeconfig"].update(sshService="LoadBalancer"), "sshHost applies only to sshService NodePort"),
        (lambda v: v["kubeconfig"].update(sshService="Ingress"), "'NodePort' or 'LoadBalancer'"),
        (lambda v: v["kubeconfig"].update(storageClass="Local Path"), "swarm:kubeconfig.storageClass = Local Path"),
        (lambda v: v.pop("kubeconfig"), "missing config key swarm:kubeconfig"),
    ],
)
def test_kubeconfig_config_errors(edit, expected):
    values = stack_values("local")
    edit(values)

    assert expected in error_for(values)


def test_load_balancer_ssh_defaults_to_port_22():
    values = stack_values("local")
    values["kubeconfig"] = {"sshService": "LoadBalancer"}

    assert parse_stack_config(values).kubeconfig.client_port() == 22


@pytest.mark.parametrize("platform", ["hetzner-k3s", "doks", "kubeconfig"])
def test_platform_switch_is_one_key(platform):
    values = stack_values("dev")
    values["doks"] = stack_values("prod")["doks"]
    values["kubeconfig"] = stack_values("local")["kubeconfig"]
    values["platform"] = platform

    config = parse_stack_config(values)

    assert config.platform == platform
    assert config.swarms == parse_stack_config(stack_values("dev")).swarms


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda v: v["kubeconfig"].update(sshHost=""), "must be an IP address or a host name"),
        (lambda v: v["kubeconfig"].update(sshHost="127.0.0.1:30022"), "without port or spaces"),
        (lambda v: v["kubeconfig"].update(sshHost="127.0.0.1\n  ProxyCommand evil"), "without port or spaces"),
        (lambda v: v["kubeconfig"].update(storageClass="csi.hostpath.sc"), None),
        (lambda v: v["kubeconfig"].update(sshHost="k3d.example.com"), None),
    ],
)
def test_kubeconfig_addresses_checked(edit, expected):
    values = stack_values("local")
    edit(values)

    if expected is None:
        assert parse_stack_config(values).kubeconfig is not None
    else:
        message = error_for(values)
        assert expected in message
        assert "ProxyCommand evil\n" not in message


@pytest.mark.parametrize(
    ("cidr", "expected"),
    [("10.0.0.0/8", "/16 to /24"), ("10.20.0.0/28", "/16 to /24"), ("10.20.0.0/20", None)],
)
def test_vpc_size_checked(cidr, expected):
    values = stack_values("prod")
    values["doks"]["vpcCidr"] = cidr

    if expected is None:
        assert parse_stack_config(values).doks.vpc_cidr == cidr
    else:
        assert expected in error_for(values)


def test_unquoted_version_explained():
    values = stack_values("prod")
    values["doks"]["version"] = 1.30

    message = error_for(values)

    assert "unquoted in the stack file" in message
    assert 'quote it, as in version: "1.34"' in message


@pytest.mark.parametrize(("value", "suggested"), [("DOKS", "doks"), ("Kubeconfig", "kubeconfig")])
def test_platform_fix_suggests_nearest(value, suggested):
    values = stack_values("prod")
    values["platform"] = value

    assert f"pulumi config set swarm:platform {suggested}" in error_for(values)


def test_admin_cidrs_scalar_fix_sets_list():
    values = stack_values("prod")
    values["adminCidrs"] = "203.0.113.7/32"

    assert """pulumi config set swarm:adminCidrs '["203.0.113.7/32"]'""" in error_for(values)


def test_doks_missing_admin_cidrs_mentions_api_only():
    values = stack_values("prod")
    del values["adminCidrs"]

    message = error_for(values)

    assert "may reach the Kubernetes API are required when swarm:platform is doks" in message
    assert "node SSH" not in message
