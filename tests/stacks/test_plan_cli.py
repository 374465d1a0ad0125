"""The offline plan command: `python -m stacks plan <stack>`."""

from __future__ import annotations

import json
import subprocess
import sys

import pulumi
import pytest

from stacks.config_loader import StackConfigError
from stacks.plan import ROOT, PreviewMocks, RecordingMonitor, run_plan
from stacks.platform import read_hcloud_token
from tests.conftest import dev_config


def run_cli(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "stacks", *arguments], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_plan_dev_lists_resource_tree():
    result = run_cli("plan", "dev")

    assert result.returncode == 0, result.stderr
    for expected in [
        "hcloud:index/network:Network  swarm-dev-network",
        "hcloud:index/networkSubnet:NetworkSubnet  swarm-dev-subnet",
        "hcloud:index/firewall:Firewall  swarm-dev-firewall",
        "hcloud:index/server:Server  swarm-dev-server-0",
        "hcloud:index/server:Server  swarm-dev-general-1",
        "hcloud:index/loadBalancer:LoadBalancer  swarm-dev-lb",
        "pulumi:providers:kubernetes  swarm-dev-k8s",
        "kubernetes:core/v1:Namespace  swarm-dev-swarms-agents-namespace",
        "kubernetes:apps/v1:StatefulSet  swarm-dev-swarms-agents-statefulset",
        "kubernetes:core/v1:Service  swarm-dev-swarms-agents-service",
    ]:
        assert expected in result.stdout
    assert "userData: [secret]" in result.stdout
    assert "kubeconfig: [secret]" in result.stdout
    assert "ssh_host: [unknown]" in result.stdout


def test_plan_json_format():
    result = run_cli("plan", "dev", "--format", "json")
    document = json.loads(result.stdout)

    assert result.returncode == 0
    assert document["stack"] == "dev"
    assert all(set(resource) == {"urn", "type", "name", "parent", "inputs", "options"} for resource in document["resources"])
    by_name = {resource["name"]: resource for resource in document["resources"]}
    assert by_name["swarm-dev-server-0"]["inputs"]["userData"] == "[secret]"
    assert by_name["swarm-dev-server-0"]["parent"] == by_name["swarm-dev"]["urn"]
    assert by_name["swarm-dev"]["parent"] is None


def test_plan_never_prints_secret_values():
    result = run_cli("plan", "dev", "--format", "json")

    assert "offline-plan-placeholder" not in result.stdout
    assert "BEGIN OPENSSH PRIVATE KEY" not in result.stdout


def test_plan_accepts_stack_file_path(write_stack):
    path = write_stack(dev_config(), stack="feature")

    result = run_cli("plan", str(path), "--format", "json")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["stack"] == "feature"


def test_misspelt_key_exits_2_with_one_line(write_stack):
    config = dev_config()
    config["swarm:hetzner"]["locaton"] = config["swarm:hetzner"].pop("location")

    result = run_cli("plan", str(write_stack(config)))

    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines == [
        "error: unknown config key swarm:hetzner.locaton: did you mean swarm:hetzner.location, which is missing? "
        "rename the key in the stack file, or run: pulumi config rm --path 'swarm:hetzner.locaton' "
        "and set swarm:hetzner.location"
    ]


def test_invalid_value_exits_2(write_stack):
    config = dev_config()
    config["swarm:swarms"][0]["replicas"] = "many"

    result = run_cli("plan", str(write_stack(config)))

    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "invalid config swarm:swarms[0].replicas = many" in result.stderr


def test_unknown_stack_exits_2():
    result = run_cli("plan", "nosuchstack")

    assert result.returncode == 2
    assert "Pulumi.nosuchstack.yaml" in result.stderr
    assert "Traceback" not in result.stderr


def test_program_rejects_config_before_any_resource(write_stack):
    config = dev_config()
    config["swarm:hetzner"]["controlPlane"]["count"] = 2
    monitor = RecordingMonitor(PreviewMocks())

    with pytest.raises(StackConfigError, match="swarm:hetzner.controlPlane.count = 2"):
        run_plan(str(write_stack(config)), monitor=monitor, check_config_first=False)

    assert monitor.planned == []


def test_config_error_is_pulumi_run_error():
    # Pulumi prints a RunError's message without the program's traceback.
    assert issubclass(StackConfigError, pulumi.RunError)


def test_missing_hcloud_token_names_fix(monkeypatch):
    monkeypatch.delenv("HCLOUD_TOKEN", raising=False)
    pulumi.runtime.set_all_config({}, [])

    with pytest.raises(StackConfigError, match="pulumi config set --secret hcloud:token"):
        read_hcloud_token()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("config:\n  swarm:hetzner: {location: [fsn1}\n", "invalid YAML in"),
        ("config:\n  swarm:platform: a\n  swarm:platform: b\n", "key 'swarm:platform' appears twice"),
        ("config: [a, b]\n", "must be a mapping with a 'config:' mapping"),
        ("- a\n- b\n", "must be a mapping with a 'config:' mapping"),
        ("config:\n  swarm:x: !!python/object:os.system ls\n", "invalid YAML in"),
    ],
)
def test_broken_stack_file_exits_2(tmp_path, text, expected):
    path = tmp_path / "Pulumi.broken.yaml"
    path.write_text(text)

    result = run_cli("plan", str(path))

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1
    assert expected in result.stderr


def test_plan_output_is_deterministic():
    first = run_cli("plan", "dev", "--format", "json").stdout
    second = run_cli("plan", "dev", "--format", "json").stdout
    third = run_cli("plan", "dev").stdout

    assert first == second
    assert third == run_cli("plan", "dev").stdout


def test_plan_prints_nothing_extra_on_stderr():
    result = run_cli("plan", "dev")

    assert result.returncode == 0
    assert result.stderr == ""


def test_plan_prod_lists_doks_tree():
    result = run_cli("plan", "prod")

    assert result.returncode == 0, result.stderr
    for expected in [
        "swarm:digitalocean:DoksCluster  swarm-prod",
        "digitalocean:index/vpc:Vpc  swarm-prod-vpc",
        "digitalocean:index/kubernetesCluster:KubernetesCluster  swarm-prod-cluster",
        "digitalocean:index/kubernetesNodePool:KubernetesNodePool  swarm-prod-agents",
        "digitalocean:index/loadBalancer:LoadBalancer  swarm-prod-lb",
        "kubernetes:apps/v1:StatefulSet  swarm-prod-swarms-review-statefulset",
    ]:
        assert expected in result.stdout
    assert "version: [unknown]" in result.stdout


def test_plan_local_lists_workloads_only():
    result = run_cli("plan", "local")

    assert result.returncode == 0, result.stderr
    assert "swarm:kubeconfig:ExistingCluster  swarm-local" in result.stdout
    assert "kubernetes:apps/v1:StatefulSet  swarm-local-swarms-agents-statefulset" in result.stdout
    assert "hcloud:" not in result.stdout
    assert "digitalocean:" not in result.stdout


def test_hcloud_token_from_environment_is_secret(monkeypatch):
    monkeypatch.setenv("HCLOUD_TOKEN", "token-from-environment")
    pulumi.runtime.set_all_config({}, [])

    token = read_hcloud_token()

    assert isinstance(token, pulumi.Output)
    assert pulumi.runtime.sync_await._sync_await(token.is_secret()) is True


def test_plan_into_closed_pipe_exits_zero():
    # `plan dev | head -1` closes the pipe after one line; the command must not print a traceback.
    import subprocess
    import sys

    from tests.conftest import ROOT

    result = subprocess.run(
        f"{sys.executable} -m stacks plan dev | head -1", shell=True, capture_output=True, text=True, cwd=ROOT, check=False
    )

    assert result.stdout.startswith("stack dev: ")
    assert "Traceback" not in result.stderr
    assert "BrokenPipeError" not in result.stderr
