"""Config validation: every bad value fails with one line that names the key and the fix."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stacks.config import parse_quantity
from stacks.config_loader import StackConfigError, decode_value, parse_stack_config, resource_prefix
from tests.conftest import ALICE_KEY, BOB_KEY, dev_config


def swarm_values() -> dict[str, Any]:
    """The `swarm:` keys of the dev stack, without the namespace."""
    return {key.removeprefix("swarm:"): value for key, value in dev_config().items() if key.startswith("swarm:")}


def error_for(values: dict[str, Any]) -> str:
    with pytest.raises(StackConfigError) as caught:
        parse_stack_config(values)
    return str(caught.value)


def test_dev_config_parses():
    config = parse_stack_config(swarm_values())

    assert config.platform == "hetzner-k3s"
    assert config.hetzner is not None
    assert config.hetzner.location == "fsn1"
    assert config.hetzner.control_plane.count == 1
    assert config.hetzner.workers[0].server_type == "cx33"
    assert config.swarms[0].replicas == 3


def test_misspelt_key_suggests_nearest():
    values = swarm_values()
    values["hetzner"]["contrlPlane"] = values["hetzner"].pop("controlPlane")

    message = error_for(values)

    assert "unknown config key swarm:hetzner.contrlPlane" in message
    assert "did you mean swarm:hetzner.controlPlane, which is missing?" in message
    assert "pulumi config rm --path 'swarm:hetzner.contrlPlane'" in message
    assert message.count("\n") == 0


def test_misspelt_top_level_key_suggests_nearest():
    values = swarm_values()
    values["adminCidr"] = values.pop("adminCidrs")

    message = error_for(values)

    assert "unknown config key swarm:adminCidr:" in message
    assert "did you mean swarm:adminCidrs" in message
    assert "missing config key swarm:adminCidrs" in message


def test_misspelt_swarm_key_names_list_index():
    values = swarm_values()
    values["swarms"][0]["replica"] = values["swarms"][0].pop("replicas")

    message = error_for(values)

    assert "unknown config key swarm:swarms[0].replica:" in message
    assert "did you mean swarm:swarms[0].replicas, which is missing?" in message


@pytest.mark.parametrize(
    ("edit", "key", "bad_value", "allowed", "fix"),
    [
        (
            lambda v: v["hetzner"]["controlPlane"].update(count=2),
            "swarm:hetzner.controlPlane.count",
            "2",
            "1 or 3",
            "pulumi config set --path 'swarm:hetzner.controlPlane.count' 3",
        ),
        (
            lambda v: v["hetzner"].update(location="fsn2"),
            "swarm:hetzner.location",
            "fsn2",
            "fsn1, nbg1, hel1, ash, hil, sin",
            "pulumi config set --path 'swarm:hetzner.location' fsn1",
        ),
        (
            lambda v: v["hetzner"].update(loadBalancerType="lb99"),
            "swarm:hetzner.loadBalancerType",
            "lb99",
            "'lb11', 'lb21' or 'lb31'",
            "pulumi config set --path 'swarm:hetzner.loadBalancerType' lb11",
        ),
        (
            lambda v: v["hetzner"]["workers"][0].update(serverType="CX33"),
            "swarm:hetzner.workers[0].serverType",
            "CX33",
            "cx, cpx, cax or ccx followed by two digits",
            "pulumi config set --path 'swarm:hetzner.workers[0].serverType' cx33",
        ),
        (
            lambda v: v["swarms"][0].update(cpu="lots"),
            "swarm:swarms[0].cpu",
            "lots",
            "Kubernetes quantity",
            "pulumi config set --path 'swarm:swarms[0].cpu' 1",
        ),
        (
            lambda v: v["swarms"][0].update(replicas=-1),
            "swarm:swarms[0].replicas",
            "-1",
            "greater than or equal to 0",
            "pulumi config set --path 'swarm:swarms[0].replicas' 3",
        ),
        (
            lambda v: v.update(platform="hetzner"),
            "swarm:platform",
            "hetzner",
            "'hetzner-k3s'",
            "pulumi config set swarm:platform hetzner-k3s",
        ),
        (
            lambda v: v.update(adminCidrs=["203.0.113.7"]),
            "swarm:adminCidrs[0]",
            "203.0.113.7",
            "203.0.113.7/32",
            "pulumi config set --path 'swarm:adminCidrs[0]' 203.0.113.7/32",
        ),
        (
            lambda v: v["hetzner"].update(k3sVersion="1.34"),
            "swarm:hetzner.k3sVersion",
            "1.34",
            "K3s release tag",
            "pulumi config set --path 'swarm:hetzner.k3sVersion' v1.34.1+k3s1",
        ),
    ],
)
def test_invalid_value_names_key_value_and_fix(edit, key, bad_value, allowed, fix):
    values = swarm_values()
    edit(values)

    message = error_for(values)

    assert message.count("\n") == 0
    assert f"invalid config {key} = {bad_value}:" in message
    assert allowed in message
    assert fix in message


def test_world_open_admin_cidr_rejected():
    values = swarm_values()
    values["adminCidrs"] = ["0.0.0.0/0"]

    message = error_for(values)

    assert 'swarm:adminCidrs = ["0.0.0.0/0"] covers 0.0.0.0/0' in message
    assert "whole internet" in message
    assert "swarm:allowPublicAdmin" in message


def test_ipv6_world_open_admin_cidr_rejected():
    values = swarm_values()
    values["adminCidrs"] = ["::/0"]

    assert "whole internet" in error_for(values)


def test_missing_hetzner_section_for_hetzner_platform():
    values = swarm_values()
    del values["hetzner"]

    message = error_for(values)

    assert "missing config key swarm:hetzner" in message
    assert "swarm:platform is hetzner-k3s" in message


def test_missing_required_key_gives_set_command():
    values = swarm_values()
    del values["swarms"][0]["sshPublicKeys"]

    message = error_for(values)

    assert "missing config key swarm:swarms[0].sshPublicKeys" in message
    assert "pulumi config set swarm:swarms[0].sshPublicKeys" not in message
    assert "pulumi config set --path 'swarm:swarms[0].sshPublicKeys'" in message


def test_pool_in_other_network_zone_rejected():
    values = swarm_values()
    values["hetzner"]["workers"][0]["location"] = "ash"

    message = error_for(values)

    assert "swarm:hetzner.workers[0].location = ash is in network zone us-east" in message
    assert "swarm:hetzner.location = fsn1 is in eu-central" in message
    assert "fsn1, nbg1, hel1" in message


def test_pool_in_same_network_zone_accepted():
    values = swarm_values()
    values["hetzner"]["workers"][0]["location"] = "nbg1"

    config = parse_stack_config(values)

    assert config.hetzner.workers[0].location == "nbg1"


def test_more_than_100_servers_rejected():
    values = swarm_values()
    values["hetzner"]["workers"] = [
        {"name": "a", "serverType": "cx33", "count": 60},
        {"name": "b", "serverType": "cx33", "count": 40},
    ]

    message = error_for(values)

    assert "101 servers" in message
    assert "at most 100" in message


def test_duplicate_swarm_names_rejected():
    values = swarm_values()
    values["swarms"].append(dict(values["swarms"][0]))

    message = error_for(values)

    assert "swarm name agents is used more than once" in message
    assert "pulumi config set --path 'swarm:swarms[1].name' agents-2" in message


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("-----BEGIN OPENSSH PRIVATE KEY-----", "private key"),
        ("ssh-ed25519", "OpenSSH public key line"),
        ("ssh-dss AAAAB3NzaC1kc3MAAACBAP", "OpenSSH public key line"),
        ("ssh-ed25519 not*base64", "not a complete base64 SSH key"),
        (ALICE_KEY[:60], "not a complete base64 SSH key"),
        ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAEGFiY2RlZmdoaWprbG1ub3A=", "ed25519 key body of the wrong length"),
        (ALICE_KEY + "\n" + BOB_KEY, "contains a line break"),
        ("ssh-rsa " + ALICE_KEY.split()[1], "not a ssh-rsa key"),
    ],
)
def test_bad_ssh_public_key_rejected(key, reason):
    values = swarm_values()
    values["swarms"][0]["sshPublicKeys"] = [ALICE_KEY, key]

    message = error_for(values)

    assert "swarm:swarms[0].sshPublicKeys[1]" in message
    assert reason in message


def test_several_swarms_and_keys_accepted():
    values = swarm_values()
    values["swarms"].append({"name": "research", "replicas": 2, "sshPublicKeys": [BOB_KEY]})

    config = parse_stack_config(values)

    assert [swarm.name for swarm in config.swarms] == ["agents", "research"]
    assert config.swarms[1].storage == "20Gi"


def test_swarm_name_must_be_dns_label():
    values = swarm_values()
    values["swarms"][0]["name"] = "Agents_1"

    message = error_for(values)

    assert "swarm:swarms[0].name = Agents_1" in message
    assert "lowercase letters" in message


@pytest.mark.parametrize(
    ("network", "reason"),
    [
        ("8.8.0.0/16", "must lie in 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16"),
        ("169.254.0.0/16", "must lie in 10.0.0.0/8"),
        ("10.42.0.0/16", "overlaps 10.42.0.0/16, the K3s pod network"),
        ("10.43.0.0/20", "overlaps 10.43.0.0/16, the K3s service network"),
        ("10.0.0.0/8", "overlaps 10.42.0.0/16"),
        ("10.0.0.0/25", "a /24 or larger"),
        ("10.0.0.1/16", "zero host bits"),
    ],
)
def test_node_network_range_checked(network, reason):
    values = swarm_values()
    values["hetzner"]["networkIpRange"] = network

    assert reason in error_for(values)


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [("500m", 0.5), ("1", 1.0), ("2Gi", 2 * 2**30), ("1.5G", 1.5e9)],
)
def test_parse_quantity_units(quantity, expected):
    assert parse_quantity(quantity) == expected


def test_pool_named_server_rejected():
    values = swarm_values()
    values["hetzner"]["workers"][0]["name"] = "server"

    message = error_for(values)

    assert "swarm:hetzner.workers[0].name = server" in message
    assert "reserved for the control plane" in message


@pytest.mark.parametrize(
    ("stack", "expected"),
    [("dev", "swarm-dev"), ("Prod_EU", "swarm-prod-eu"), ("team.a", "swarm-team-a")],
)
def test_resource_prefix_is_dns_label(stack, expected):
    assert resource_prefix("swarm", stack) == expected


def test_long_stack_name_rejected():
    with pytest.raises(StackConfigError, match="pulumi stack rename"):
        resource_prefix("swarm", "a-very-long-stack-name-for-testing")


def test_private_key_never_echoed():
    values = swarm_values()
    values["swarms"][0]["sshPublicKeys"] = ["-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----"]

    message = error_for(values)

    assert "b3BlbnNzaC1rZXktdjEAAAAA" not in message
    assert "[private key, not shown]" in message
    assert message.count("\n") == 0


def test_secret_key_value_never_echoed():
    values = swarm_values()
    values["adminCidrs"] = ["10.1.2.3/8"]

    message = str(pytest.raises(StackConfigError, parse_stack_config, values, secret_keys={"adminCidrs"}).value)

    assert "10.1.2.3" not in message
    assert "[secret]" in message


@pytest.mark.parametrize(
    ("cidrs", "reason"),
    [
        (["0.0.0.0/1", "128.0.0.0/1"], "covers 0.0.0.0/0"),
        (["::/1", "8000::/1"], "covers ::/0"),
        (["203.0.113.7/32", "203.0.113.7/32"], "more than once"),
        (["not-a-cidr"], "must be a CIDR such as 203.0.113.7/32"),
        (["999.1.1.1/32"], "must be a CIDR such as 203.0.113.7/32"),
        (["203.0.113.7/24"], "host bits set or extra characters; the network is 203.0.113.0/24"),
        (["2001:db8::1"], "such as 2001:db8::1/128"),
    ],
)
def test_admin_cidrs_checked(cidrs, reason):
    values = swarm_values()
    values["adminCidrs"] = cidrs

    assert reason in error_for(values)


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (lambda v: v["swarms"][0].update(replicas=True), "must be a whole number, not true or false"),
        (lambda v: v["hetzner"]["controlPlane"].update(count=True), "must be a whole number"),
        (lambda v: v["swarms"][0].update(image=""), "non-empty image reference"),
        (lambda v: v["swarms"][0].update(image="my image:latest"), "without spaces"),
        (lambda v: v["hetzner"].update(image=""), "non-empty image reference"),
        (lambda v: v["hetzner"].update(k3sVersion="v1.20.0+k3s1"), "Kubernetes 1.28 or later"),
        (lambda v: v["swarms"][0].update(memory="1"), "at least 64Mi"),
        (lambda v: v["swarms"][0].update(cpu="1m"), "at least 10m"),
        (lambda v: v["swarms"][0].update(storage="100Mi"), "at least 1Gi"),
        (lambda v: v["swarms"][0].update(name="ssh"), "belongs to the SSH entry"),
        (lambda v: v["swarms"][0].update(workspacePath="/etc/swarm/ssh"), "must not contain /etc/swarm"),
        (lambda v: v["swarms"][0].update(workspacePath="/etc"), "must not contain /etc/swarm"),
        (lambda v: v["swarms"][0].update(ssh_public_keys=v["swarms"][0].pop("sshPublicKeys")), "unknown config key swarm:swarms[0].ssh_public_keys"),
        (lambda v: v["hetzner"]["controlPlane"].update(serverType={"name": "cx23"}), '= {"name": "cx23"}: Input should be a valid string'),
    ],
)
def test_bad_values_rejected(edit, reason):
    values = swarm_values()
    edit(values)

    assert reason in error_for(values)


@pytest.mark.parametrize(
    ("edit", "check"),
    [
        (lambda v: v["swarms"][0].update(cpu=1), lambda c: c.swarms[0].cpu == "1"),
        (lambda v: v["swarms"][0].update(cpu=0.5), lambda c: c.swarms[0].cpu == "0.5"),
        (lambda v: v["hetzner"]["controlPlane"].update(count="3"), lambda c: c.hetzner.control_plane.count == 3),
        (lambda v: v["swarms"][0].update(replicas="5"), lambda c: c.swarms[0].replicas == 5),
    ],
)
def test_values_as_pulumi_stores_them(edit, check):
    values = swarm_values()
    edit(values)

    assert check(parse_stack_config(values))


def test_json_text_from_config_set_path_decoded():
    # `pulumi config set --path 'swarm:hetzner.controlPlane' '{...}'` stores the object as text.
    values = swarm_values()
    values["hetzner"]["controlPlane"] = '{"serverType": "cx33", "count": 3}'
    values["swarms"][0]["sshPublicKeys"] = json.dumps([ALICE_KEY])

    config = parse_stack_config(decode_value(values))

    assert config.hetzner.control_plane.server_type == "cx33"
    assert config.swarms[0].ssh_public_keys == [ALICE_KEY]


def test_missing_section_reported_with_other_errors():
    values = swarm_values()
    values["hetzer"] = values.pop("hetzner")
    values["swarms"][0]["replicas"] = -1

    lines = error_for(values).splitlines()

    assert any(line.startswith("missing config key swarm:hetzner:") for line in lines)
    assert any(line.startswith("unknown config key swarm:hetzer: did you mean swarm:hetzner?") for line in lines)
    assert any(line.startswith("invalid config swarm:swarms[0].replicas = -1") for line in lines)


def test_uppercase_location_suggests_lowercase():
    values = swarm_values()
    values["hetzner"]["location"] = "FSN1"

    assert "(nearest: fsn1)" in error_for(values)


def test_too_many_placement_groups_rejected():
    values = swarm_values()
    values["hetzner"]["workers"] = [{"name": f"pool{n}", "serverType": "cx33", "count": 1} for n in range(50)]

    message = error_for(values)

    assert "needs 51 spread placement groups" in message
    assert "at most 50" in message


def test_duplicate_pool_names_give_rename_command():
    values = swarm_values()
    values["hetzner"]["workers"].append(dict(values["hetzner"]["workers"][0]))

    assert "pulumi config set --path 'swarm:hetzner.workers[1].name' general-2" in error_for(values)


def test_unknown_platform_lists_platforms():
    values = swarm_values()
    values["platform"] = "eks"

    message = error_for(values)

    assert "invalid config swarm:platform = eks" in message
    assert "'hetzner-k3s', 'doks' or 'kubeconfig'" in message


def test_public_admin_allowed_when_asked():
    values = swarm_values()
    values["adminCidrs"] = ["0.0.0.0/0", "::/0"]
    values["allowPublicAdmin"] = True

    config = parse_stack_config(values)

    assert config.admin_cidrs == ["0.0.0.0/0", "::/0"]
    assert config.allow_public_admin is True


@pytest.mark.parametrize(("stack", "setting", "expected"), [("dev", None, False), ("prod", None, True), ("dev", True, True), ("prod", False, False)])
def test_protect_default_by_stack(stack, setting, expected):
    values = swarm_values()
    if setting is not None:
        values["protect"] = setting

    assert parse_stack_config(values).protect_for(stack) is expected


def test_misspelt_key_beside_valid_one_lists_keys():
    values = swarm_values()
    values["hetzner"]["locaton"] = "nbg1"

    message = error_for(values)

    assert "unknown config key swarm:hetzner.locaton: did you mean swarm:hetzner.location? valid keys here:" in message
