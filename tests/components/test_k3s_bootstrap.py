"""The K3s bootstrap script, run with stand-ins for `ip`, `curl`, `sleep` and the K3s installer."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from components.k3s_cloud_init import BOOTSTRAP_SCRIPT, HCLOUD_PROVIDER_ID, K3sNode, bootstrap_command, render_user_data
from tests.components.test_k3s_cloud_init import cloud_init_schema_errors, shellcheck_errors

# `ip -o -4 addr show` on a Hetzner server: the public interface, then the
# private one, whose address Hetzner gives as a /32.
IP_OUTPUT = """\
1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever
2: eth0    inet 203.0.113.5/32 metric 100 scope global dynamic eth0\\       valid_lft 86000sec preferred_lft 86000sec
3: enp7s0    inet {private}/32 brd {private} scope global dynamic enp7s0\\       valid_lft 86000sec preferred_lft 86000sec
"""

FAKE_IP = """\
#!/bin/sh
printf '%s' "$IP_OUTPUT"
"""

# Serves the server id for the metadata request and writes an installer that
# records its environment for the download of get.k3s.io.
FAKE_CURL = """\
#!/bin/sh
echo "$*" >> "$CALLS"
output=""
last=""
while [ $# -gt 0 ]; do
  if [ "$1" = --output ]; then output="$2"; fi
  last="$1"
  shift
done
case "$last" in
  */instance-id) printf '%s' "$SERVER_ID" ;;
  *) printf 'echo "$INSTALL_K3S_EXEC $INSTALL_K3S_VERSION" > "$INSTALLED"\\n' > "$output" ;;
esac
"""

AGENT = K3sNode(
    role="agent",
    k3s_version="v1.34.1+k3s1",
    private_ip=None,
    private_subnet="10.0.2.0/24",
    token="agent-token",
    join_url="https://10.0.1.10:6443",
    node_labels=("swarm.pool=burst",),
)


def run_bootstrap(tmp_path: Path, arguments: list[str], private: str, server_id: str = "4711", config: str = "") -> subprocess.CompletedProcess:
    """Run the bootstrap script against a config file in tmp_path, with the stand-in commands first on PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, text in (("ip", FAKE_IP), ("curl", FAKE_CURL), ("sleep", "#!/bin/sh\n")):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    config_path = tmp_path / "config.yaml"
    config_path.write_text(config)
    script = tmp_path / "bootstrap"
    script.write_text(BOOTSTRAP_SCRIPT.replace("/etc/rancher/k3s/config.yaml", str(config_path)))
    environment = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "IP_OUTPUT": IP_OUTPUT.format(private=private),
        "SERVER_ID": server_id,
        "CALLS": str(tmp_path / "calls"),
        "INSTALLED": str(tmp_path / "installed"),
    }
    return subprocess.run(["sh", str(script), *arguments], env=environment, capture_output=True, text=True, timeout=60)


def written_config(tmp_path: Path) -> dict:
    return yaml.safe_load((tmp_path / "config.yaml").read_text())


def test_fixed_node_keeps_its_address(tmp_path):
    result = run_bootstrap(tmp_path, ["agent", "v1.34.1+k3s1", "10.0.1.20"], private="10.0.1.20", config="node-ip: 10.0.1.20\n")

    assert result.returncode == 0, result.stderr
    config = written_config(tmp_path)
    assert config["node-ip"] == "10.0.1.20"
    assert config["flannel-iface"] == "enp7s0"
    assert "kubelet-arg" not in config
    assert "instance-id" not in (tmp_path / "calls").read_text()
    assert (tmp_path / "installed").read_text() == "agent v1.34.1+k3s1\n"


def test_fixed_address_matches_whole_address(tmp_path):
    # The interface with 10.0.1.20 is not the one of 10.0.1.2, although one
    # address starts with the other.
    result = run_bootstrap(tmp_path, ["agent", "v1.34.1+k3s1", "10.0.1.2"], private="10.0.1.20")

    assert result.returncode == 1
    assert "no interface has an address in 10.0.1.2/32 after 120 attempts" in result.stderr


def test_autoscaled_node_discovers_address(tmp_path):
    result = run_bootstrap(tmp_path, ["agent", "v1.34.1+k3s1", "10.0.2.0/24", HCLOUD_PROVIDER_ID], private="10.0.2.7")

    assert result.returncode == 0, result.stderr
    config = written_config(tmp_path)
    assert config["node-ip"] == "10.0.2.7"
    assert config["flannel-iface"] == "enp7s0"
    assert config["kubelet-arg"] == ["provider-id=hcloud://4711"]
    assert "http://169.254.169.254/hetzner/v1/metadata/instance-id" in (tmp_path / "calls").read_text()
    assert (tmp_path / "installed").read_text() == "agent v1.34.1+k3s1\n"


def test_autoscaled_config_keeps_rendered_keys(tmp_path):
    rendered = yaml.safe_load(render_user_data(AGENT))["write_files"][0]["content"]

    result = run_bootstrap(tmp_path, bootstrap_command(AGENT)[1:], private="10.0.2.7", config=rendered)

    assert result.returncode == 0, result.stderr
    config = written_config(tmp_path)
    assert config["token"] == "agent-token"
    assert config["server"] == "https://10.0.1.10:6443"
    assert config["node-label"] == ["swarm.pool=burst"]
    assert config["node-ip"] == "10.0.2.7"


def test_address_outside_subnet_not_taken(tmp_path):
    result = run_bootstrap(tmp_path, ["agent", "v1.34.1+k3s1", "10.0.2.0/24", HCLOUD_PROVIDER_ID], private="10.0.1.7")

    assert result.returncode == 1
    assert "no interface has an address in 10.0.2.0/24" in result.stderr
    assert not (tmp_path / "installed").exists()


@pytest.mark.parametrize("server_id", ["", "not found"])
def test_missing_server_id_stops_bootstrap(tmp_path, server_id):
    result = run_bootstrap(tmp_path, ["agent", "v1.34.1+k3s1", "10.0.2.0/24", HCLOUD_PROVIDER_ID], private="10.0.2.7", server_id=server_id)

    assert result.returncode == 1
    assert "the metadata service returned no server id" in result.stderr
    assert not (tmp_path / "installed").exists()


def test_autoscaled_user_data_passes_validators(tmp_path):
    document = render_user_data(AGENT)
    scripts = [item["content"] for item in yaml.safe_load(document)["write_files"] if item["content"].startswith("#!")]

    assert cloud_init_schema_errors(document, tmp_path) == ""
    assert len(scripts) == 1
    assert shellcheck_errors(scripts[0], tmp_path) == ""


def test_autoscaled_user_data_leaves_address_to_script():
    document = yaml.safe_load(render_user_data(AGENT))
    config = yaml.safe_load(document["write_files"][0]["content"])

    assert "node-ip" not in config
    assert config["token"] == "agent-token"
    assert document["runcmd"] == [["/usr/local/sbin/swarm-k3s-bootstrap", "agent", "v1.34.1+k3s1", "10.0.2.0/24", "hcloud-provider-id"]]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"private_ip": "10.0.1.20"}, "either a fixed private_ip or the private_subnet"),
        ({"private_subnet": None}, "either a fixed private_ip or the private_subnet"),
        ({"role": "server"}, "a K3s server needs a fixed private_ip"),
    ],
)
def test_node_address_settings_checked(changes, message):
    fields = {name: getattr(AGENT, name) for name in AGENT.__dataclass_fields__}
    fields.update(changes)

    with pytest.raises(ValueError, match=message):
        K3sNode(**fields)
