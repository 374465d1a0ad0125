"""Bad stack configs through the command line: exit code 2 and one line that names the key, never a traceback."""

from __future__ import annotations

import copy
from typing import Any, Callable

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stacks.__main__ import main
from stacks.config_loader import StackConfigError, parse_stack_config
from stacks.plan import ROOT


def stack_config(stack: str) -> dict[str, Any]:
    return copy.deepcopy(yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"])


def swarm(config: dict) -> dict:
    return config["swarm:swarms"][0]


def hetzner(config: dict) -> dict:
    return config["swarm:hetzner"]


def doks(config: dict) -> dict:
    return config["swarm:doks"]


def kubeconfig(config: dict) -> dict:
    return config["swarm:kubeconfig"]


Edit = Callable[[dict], Any]

# (stack, edit, key the message must name)
BAD_CONFIGS: list[tuple[str, Edit, str]] = [
    ("dev", lambda c: c.update({"swarm:platform": "hetzner"}), "swarm:platform"),
    ("dev", lambda c: c.update({"swarm:platform": "aws"}), "swarm:platform"),
    ("dev", lambda c: c.update({"swarm:platfrom": c.pop("swarm:platform")}), "swarm:platfrom"),
    ("dev", lambda c: c.update({"swarm:adminCidrs": ["203.0.113.7"]}), "swarm:adminCidrs[0]"),
    ("dev", lambda c: c.update({"swarm:adminCidrs": ["203.0.113.7/33"]}), "swarm:adminCidrs[0]"),
    ("dev", lambda c: c.update({"swarm:adminCidrs": ["203.0.113.7/24"]}), "swarm:adminCidrs[0]"),
    ("dev", lambda c: c.update({"swarm:adminCidrs": ["0.0.0.0/0"]}), "swarm:adminCidrs"),
    ("dev", lambda c: c.update({"swarm:adminCidrs": []}), "swarm:adminCidrs"),
    ("dev", lambda c: c.update({"swarm:adminCidrs": "203.0.113.7/32"}), "swarm:adminCidrs"),
    ("dev", lambda c: hetzner(c).update(location="fsn2"), "swarm:hetzner.location"),
    ("dev", lambda c: hetzner(c).update(location=7), "swarm:hetzner.location"),
    ("dev", lambda c: hetzner(c).update(locaton=hetzner(c).pop("location")), "swarm:hetzner.locaton"),
    ("dev", lambda c: hetzner(c)["controlPlane"].update(count=2), "swarm:hetzner.controlPlane.count"),
    ("dev", lambda c: hetzner(c)["controlPlane"].update(serverType="CX23"), "swarm:hetzner.controlPlane.serverType"),
    ("dev", lambda c: hetzner(c)["workers"][0].update(count=-1), "swarm:hetzner.workers[0].count"),
    ("dev", lambda c: hetzner(c)["workers"][0].update(location="ash"), "swarm:hetzner.workers[0].location"),
    ("dev", lambda c: hetzner(c)["workers"][0].update(name="Big_Pool"), "swarm:hetzner.workers[0].name"),
    ("dev", lambda c: hetzner(c)["workers"][0].update(autoscale={"min": 3, "max": 2}), "swarm:hetzner.workers[0].autoscale"),
    ("dev", lambda c: hetzner(c)["workers"][0].update(autoscale={"min": "one", "max": 3}), "swarm:hetzner.workers[0].autoscale.min"),
    ("dev", lambda c: hetzner(c)["workers"][0].update(autoscale={"min": 1, "max": 3}, count=9), "swarm:hetzner.workers[0]: worker pool general has count 9"),
    ("dev", lambda c: hetzner(c)["workers"][0].pop("count"), "swarm:hetzner.workers[0]: worker pool general needs a count"),
    ("dev", lambda c: hetzner(c)["workers"][0].update(autoscale={"min": 1, "max": 100}), "swarm:hetzner.workers[0].autoscale.max"),
    ("dev", lambda c: hetzner(c)["workers"][0].update(name="autoscaled-general", autoscale={"min": 1, "max": 3}), "swarm:hetzner.workers[0]: autoscaled worker pool name"),
    ("dev", lambda c: (hetzner(c)["workers"][0].update(autoscale={"min": 1, "max": 3}), hetzner(c).update(networkIpRange="10.0.0.0/23")), "swarm:hetzner.networkIpRange = 10.0.0.0/23"),
    ("dev", lambda c: hetzner(c).update(loadBalancerType="lb99"), "swarm:hetzner.loadBalancerType"),
    ("dev", lambda c: hetzner(c).update(k3sVersion="latest"), "swarm:hetzner.k3sVersion"),
    ("dev", lambda c: hetzner(c).update(networkIpRange="10.42.0.0/16"), "swarm:hetzner.networkIpRange"),
    ("dev", lambda c: hetzner(c).update(ha=True), "swarm:hetzner.ha"),
    ("dev", lambda c: swarm(c).update(name="Agents"), "swarm:swarms[0].name"),
    ("dev", lambda c: swarm(c).update(name="a" * 40), "swarm:swarms[0].name"),
    ("dev", lambda c: swarm(c).update(name="ssh"), "swarm:swarms[0].name"),
    ("dev", lambda c: c["swarm:swarms"].append(dict(swarm(c))), "swarm:swarms[1].name"),
    ("dev", lambda c: swarm(c).update(replicas=-3), "swarm:swarms[0].replicas"),
    ("dev", lambda c: swarm(c).update(replicas="many"), "swarm:swarms[0].replicas"),
    ("dev", lambda c: swarm(c).update(replicas=True), "swarm:swarms[0].replicas"),
    ("dev", lambda c: swarm(c).update(cpu="fast"), "swarm:swarms[0].cpu"),
    ("dev", lambda c: swarm(c).update(memory="2GB"), "swarm:swarms[0].memory"),
    ("dev", lambda c: swarm(c).update(storage="5Gi"), "swarm:swarms[0].storage"),
    ("dev", lambda c: swarm(c).update(sshPublicKeys=["ssh-ed25519 AAAA"]), "swarm:swarms[0].sshPublicKeys[0]"),
    ("dev", lambda c: swarm(c).update(sshPublicKeys=["-----BEGIN OPENSSH PRIVATE KEY-----"]), "swarm:swarms[0].sshPublicKeys[0]"),
    ("dev", lambda c: swarm(c).update(sshPublicKeys=[]), "swarm:swarms[0].sshPublicKeys"),
    ("dev", lambda c: swarm(c).update(sshPort=70000), "swarm:swarms[0].sshPort"),
    ("dev", lambda c: swarm(c).update(workspacePath="relative/path"), "swarm:swarms[0].workspacePath"),
    ("dev", lambda c: swarm(c).update(image="my image"), "swarm:swarms[0].image"),
    ("dev", lambda c: swarm(c).update(ssh_public_keys=swarm(c).pop("sshPublicKeys")), "swarm:swarms[0].ssh_public_keys"),
    ("dev", lambda c: c.update({"swarm:swarms": []}), "swarm:swarms"),
    ("dev", lambda c: c.update({"swarm:allowPublicAdmin": "perhaps"}), "swarm:allowPublicAdmin"),
    ("prod", lambda c: doks(c).update(region="fra9"), "swarm:doks.region"),
    ("prod", lambda c: doks(c)["nodePools"][0].update(size="s-99vcpu-1gb"), "swarm:doks.nodePools[0].size"),
    ("prod", lambda c: doks(c)["nodePools"][0].update(autoscale={"min": 6, "max": 2}), "swarm:doks.nodePools[0].autoscale"),
    ("prod", lambda c: doks(c).update(version="latest"), "swarm:doks.version"),
    ("prod", lambda c: doks(c).update(vpcCidr="10.0.0.0/8"), "swarm:doks.vpcCidr"),
    ("prod", lambda c: doks(c)["maintenanceWindow"].update(day="funday"), "swarm:doks.maintenanceWindow.day"),
    ("prod", lambda c: c.pop("swarm:adminCidrs"), "swarm:adminCidrs"),
    ("local", lambda c: kubeconfig(c).update(sshPort=22), "swarm:kubeconfig.sshPort"),
    ("local", lambda c: kubeconfig(c).update(sshService="Ingress"), "swarm:kubeconfig.sshService"),
    ("local", lambda c: kubeconfig(c).update(sshHost="127.0.0.1:30022"), "swarm:kubeconfig.sshHost"),
]


def test_table_has_forty_cases():
    assert len(BAD_CONFIGS) >= 40


@pytest.mark.parametrize(("stack", "edit", "key"), BAD_CONFIGS)
def test_bad_config_exits_2_naming_key(tmp_path, capsys, stack, edit, key):
    config = stack_config(stack)
    edit(config)
    path = tmp_path / f"Pulumi.{stack}.yaml"
    path.write_text(yaml.safe_dump({"config": config}))

    exit_code = main(["plan", str(path)])
    output = capsys.readouterr()

    assert exit_code == 2
    assert output.out == ""
    lines = output.err.strip().splitlines()
    assert len(lines) == 1, output.err
    assert lines[0].startswith("error: ")
    assert key in lines[0]
    assert "Traceback" not in output.err


# Values of every shape that YAML and `pulumi config set` produce.
_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.floats(allow_nan=True), st.text(max_size=30),
    st.sampled_from(["fsn1", "cx23", "1Gi", "0.0.0.0/0", "10.0.0.0/16", "hetzner-k3s", "doks", "kubeconfig", "[", "{"]),
)
_KEYS = st.sampled_from(
    ["platform", "adminCidrs", "hetzner", "doks", "kubeconfig", "swarms", "name", "replicas", "location", "controlPlane",
     "workers", "count", "serverType", "nodePools", "size", "autoscale", "min", "max", "storage", "cpu", "memory",
     "sshPublicKeys", "sshPort", "sshHost", "region", "version", "protect", "allowPublicAdmin", "x"]
)
_VALUES = st.recursive(_SCALARS, lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(_KEYS, children, max_size=5)), max_leaves=25)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_KEYS, _VALUES, max_size=6))
def test_random_config_never_crashes(values):
    try:
        parse_stack_config(values)
    except StackConfigError as error:
        assert str(error).strip()
        assert "Traceback" not in str(error)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_random_edits_of_dev_never_crash(data):
    values = {key.removeprefix("swarm:"): value for key, value in stack_config("dev").items() if key.startswith("swarm:")}
    target = data.draw(st.sampled_from([values, values["hetzner"], values["hetzner"]["controlPlane"], values["swarms"][0]]))
    key = data.draw(st.sampled_from(sorted(target)))
    target[key] = data.draw(_VALUES)
    try:
        parse_stack_config(values)
    except StackConfigError as error:
        assert str(error).strip()
