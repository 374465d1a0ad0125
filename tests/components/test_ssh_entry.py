"""The SSH entry: one load balancer port, per-swarm key restrictions, and the ssh_config output."""

from __future__ import annotations

import re

import pytest

from components.ssh_entry import JUMP_USER, SSHD_CONFIG, render_jump_authorized_keys, render_ssh_config
from stacks.config import Swarm
from tests.conftest import ALICE_KEY, BOB_KEY
from tests.engine import FAKE_PUBLIC_KEY, LOAD_BALANCER_IPV4

CAROL_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq0y8C6ZQ3bSKQJz8dYtM0cX4P3m1wq2nQm5X9tV7uE carol@example.com"


def permitted_destinations(authorized_keys: str) -> dict[str, set[str]]:
    """Map each key body to the host:port destinations its line permits."""
    result = {}
    for line in authorized_keys.splitlines():
        options, key_type, key_body = line.rsplit(" ", 2)
        result[key_body] = set(re.findall(r'permitopen="([^"]+)"', options))
    return result


def swarms() -> list[Swarm]:
    return [
        Swarm(name="agents", replicas=2, ssh_public_keys=[ALICE_KEY, CAROL_KEY]),
        Swarm(name="review", replicas=1, ssh_port=22, ssh_public_keys=[BOB_KEY, CAROL_KEY]),
    ]


def test_key_opens_only_its_swarm():
    destinations = permitted_destinations(render_jump_authorized_keys(swarms()))

    assert destinations[ALICE_KEY.split()[1]] == {
        "agents-0.agents.swarm-agents.svc.cluster.local:2222",
        "agents-1.agents.swarm-agents.svc.cluster.local:2222",
    }
    assert destinations[BOB_KEY.split()[1]] == {"review-0.review.swarm-review.svc.cluster.local:22"}


def test_key_in_two_swarms_gets_one_line():
    authorized_keys = render_jump_authorized_keys(swarms())
    carol = CAROL_KEY.split()[1]

    assert authorized_keys.count(carol) == 1
    assert len(permitted_destinations(authorized_keys)[carol]) == 3


def test_jump_keys_allow_no_shell():
    for line in render_jump_authorized_keys(swarms()).splitlines():
        assert line.startswith('restrict,port-forwarding,command="/bin/false",')


def test_parked_swarm_keys_left_out():
    parked = [Swarm(name="idle", replicas=0, ssh_public_keys=[ALICE_KEY])]

    assert render_jump_authorized_keys(parked).strip() == ""


def test_sshd_config_forbids_shells_and_passwords():
    settings = dict(line.split(" ", 1) for line in SSHD_CONFIG.splitlines())

    assert settings["PasswordAuthentication"] == "no"
    assert settings["PermitTTY"] == "no"
    assert settings["AllowTcpForwarding"] == "local"
    assert settings["AllowUsers"] == JUMP_USER
    assert settings["PermitRootLogin"] == "no"


def test_ssh_config_routes_each_container_through_jump():
    text = render_ssh_config("swarm-dev-jump", "198.51.100.200", 22, swarms())
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    blocks = {block.splitlines()[0]: block for block in "\n".join(lines).split("\n\n") if block.strip()}

    assert set(blocks) == {"Host swarm-dev-jump", "Host agents-0", "Host agents-1", "Host review-0"}
    assert "HostName 198.51.100.200" in blocks["Host swarm-dev-jump"]
    assert "ProxyJump swarm-dev-jump" in blocks["Host agents-1"]
    assert "HostName agents-1.agents.swarm-agents.svc.cluster.local" in blocks["Host agents-1"]
    assert "Port 2222" in blocks["Host agents-1"]
    assert "Port 22" in blocks["Host review-0"]


def test_stack_exports_ssh_config(dev_applied):
    text = dev_applied.outputs["ssh_config"]

    assert f"HostName {LOAD_BALANCER_IPV4}" in text
    for ordinal in range(3):
        assert f"Host agents-{ordinal}\n" in text


def test_stack_exports_known_hosts_line(dev_applied):
    assert dev_applied.outputs["ssh_known_hosts"] == f"swarm-dev-jump {FAKE_PUBLIC_KEY}\n"


def test_jump_host_runs_as_non_root(dev_applied):
    pod = dev_applied.named("swarm-dev-ssh-deployment").raw_inputs["spec"]["template"]["spec"]
    container = pod["containers"][0]

    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}


def test_jump_service_uses_load_balancer_node_port(dev_applied):
    service = dev_applied.named("swarm-dev-ssh-service").raw_inputs["spec"]
    balancer = dev_applied.named("swarm-dev-lb-ssh").raw_inputs

    assert service["type"] == "NodePort"
    assert service["ports"][0]["nodePort"] == balancer["destinationPort"]


def test_jump_host_key_is_secret(dev_preview):
    secret = dev_preview.named("swarm-dev-ssh-host-key-secret")

    assert secret.inputs["stringData"] == "[secret]"


def test_jump_host_reaches_only_sshd_and_dns(dev_applied):
    spec = dev_applied.named("swarm-dev-ssh-network-policy").raw_inputs["spec"]
    to_swarms, to_dns = spec["egress"]

    assert spec["policyTypes"] == ["Ingress", "Egress"]
    assert to_swarms["to"] == [{"namespaceSelector": {"matchLabels": {"app.kubernetes.io/part-of": "swarm"}}}]
    assert to_swarms["ports"] == [{"protocol": "TCP", "port": 2222}]
    assert to_dns["ports"] == [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
    assert to_dns["to"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}]
    assert "ipBlock" not in str(spec["egress"])
    assert spec["ingress"] == [{"ports": [{"protocol": "TCP", "port": 2222}]}]


def test_jump_start_command_passes_shellcheck(tmp_path):
    import shutil
    import subprocess

    from components.ssh_entry import _START_SSHD

    if shutil.which("shellcheck") is None:
        pytest.fail("shellcheck is not installed; .ci/run installs it with apt-get")
    path = tmp_path / "start.sh"
    path.write_text("#!/bin/sh\n" + _START_SSHD + "\n")

    result = subprocess.run(["shellcheck", str(path)], capture_output=True, text=True)

    assert result.returncode == 0, result.stdout
