"""Every rendered cloud-init document and shell script passes the real validators."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from components.hetzner_k3s import _READ_KUBECONFIG
from components.k3s_cloud_init import BOOTSTRAP_PATH, BOOTSTRAP_SCRIPT
from stacks.plan import run_plan
from tests.conftest import dev_config
from tests.engine import ApplyMocks

SERVER = "hcloud:index/server:Server"


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed; .ci/run installs it with apt-get")
    return path


def cloud_init_schema_errors(document: str, tmp_path: Path) -> str:
    path = tmp_path / "user-data.yaml"
    path.write_text(document)
    result = subprocess.run(
        [require_tool("cloud-init"), "schema", "--config-file", str(path)],
        capture_output=True,
        text=True,
    )
    return "" if result.returncode == 0 else result.stdout + result.stderr


def shellcheck_errors(script: str, tmp_path: Path, name: str = "script.sh") -> str:
    path = tmp_path / name
    path.write_text(script)
    result = subprocess.run(
        [require_tool("shellcheck"), "--shell=sh", str(path)], capture_output=True, text=True
    )
    return "" if result.returncode == 0 else result.stdout + result.stderr


def ha_plan(write_stack):
    config = dev_config()
    config["swarm:hetzner"]["controlPlane"]["count"] = 3
    config["swarm:hetzner"]["workers"].append({"name": "large", "serverType": "cx43", "count": 1})
    return run_plan(str(write_stack(config, stack="ha")), engine=ApplyMocks())


def test_every_dev_user_data_passes_schema(dev_applied, tmp_path):
    servers = dev_applied.of_type(SERVER)

    assert len(servers) == 3
    for server in servers:
        document = server.raw_inputs["userData"]
        assert document.startswith("#cloud-config\n")
        assert cloud_init_schema_errors(document, tmp_path) == "", server.name


def test_every_ha_user_data_passes_schema(write_stack, tmp_path):
    servers = ha_plan(write_stack).of_type(SERVER)

    assert len(servers) == 6
    for server in servers:
        assert cloud_init_schema_errors(server.raw_inputs["userData"], tmp_path) == "", server.name


def test_schema_check_catches_bad_document(tmp_path):
    assert cloud_init_schema_errors("#cloud-config\nruncmd: 42\n", tmp_path) != ""


def test_scripts_inside_user_data_pass_shellcheck(dev_applied, tmp_path):
    for server in dev_applied.of_type(SERVER):
        document = yaml.safe_load(server.raw_inputs["userData"])
        scripts = [item["content"] for item in document["write_files"] if item["content"].startswith("#!")]

        assert [item["path"] for item in document["write_files"]].count(BOOTSTRAP_PATH) == 1
        assert scripts
        for script in scripts:
            assert shellcheck_errors(script, tmp_path) == "", server.name


def test_kubeconfig_read_script_passes_shellcheck(tmp_path):
    assert shellcheck_errors("#!/bin/sh\n" + _READ_KUBECONFIG, tmp_path) == ""


def test_shellcheck_catches_bad_script(tmp_path):
    assert shellcheck_errors("#!/bin/sh\necho $undefined_var\nrm -rf $dir/\n", tmp_path) != ""


def test_bootstrap_installs_pinned_version(dev_applied):
    document = yaml.safe_load(dev_applied.named("swarm-dev-server-0").raw_inputs["userData"])

    assert document["runcmd"] == [[BOOTSTRAP_PATH, "server", "v1.34.1+k3s1", "10.0.1.10"]]
    assert 'INSTALL_K3S_VERSION="$version"' in BOOTSTRAP_SCRIPT


def test_agents_carry_no_host_key(dev_applied):
    document = yaml.safe_load(dev_applied.named("swarm-dev-general-0").raw_inputs["userData"])

    assert "ssh_keys" not in document
    assert document["runcmd"][0][1] == "agent"
