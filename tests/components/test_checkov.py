"""checkov's Kubernetes checks on every object the example stacks render, with each skipped check's reason."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from stacks.plan import ROOT, run_plan
from tests.components.test_kubernetes_objects import kubernetes_objects, manifest
from tests.engine import ApplyMocks

# Checks that do not fit SwarmContainers, each with the reason.
SKIPPED_CHECKS = {
    "CKV_K8S_14": "the image is each swarm's choice (swarms[].image); the default follows the linuxserver image's latest tag",
    "CKV_K8S_43": "same: pinning a digest is up to the stack that chooses the image",
    "CKV_K8S_22": "the linuxserver image's start scripts write /etc and /run, so a SwarmContainer's root filesystem stays writable; the jump host's is read-only",
    "CKV_K8S_23": "a SwarmContainer starts as root, because sshd must switch to the logged-in user; the jump host runs as non-root",
    "CKV_K8S_25": "sshd needs SETUID, SETGID, SYS_CHROOT and AUDIT_WRITE, and the image's start scripts a few more (CONTAINER_CAPABILITIES)",
    "CKV_K8S_40": "the jump host runs as uid 911, the only user of the linuxserver image, and SwarmContainers start as root",
}


def checkov_command() -> str:
    for candidate in (os.environ.get("CHECKOV"), str(ROOT / ".venv-checkov" / "bin" / "checkov"), shutil.which("checkov")):
        if candidate and Path(candidate).exists():
            return candidate
    pytest.fail("checkov is not installed; .ci/run installs it into .venv-checkov")


def render_objects(folder: Path) -> int:
    count = 0
    for stack in ("dev", "prod", "local"):
        for resource in kubernetes_objects(run_plan(stack, engine=ApplyMocks())):
            (folder / f"{resource.name}.yaml").write_text(yaml.safe_dump(manifest(resource)))
            count += 1
    return count


def checkov_failures(folder: Path, skipped: dict[str, str]) -> list[tuple[str, str]]:
    command = [checkov_command(), "-d", str(folder), "--framework", "kubernetes", "--quiet", "--compact", "-o", "json"]
    if skipped:
        command += ["--skip-check", ",".join(skipped)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    reports = json.loads(result.stdout) if result.stdout.strip() else []
    reports = reports if isinstance(reports, list) else [reports]
    failures = []
    for report in reports:
        if isinstance(report, dict) and "results" in report:
            failures += [(check["check_id"], check["resource"]) for check in report["results"]["failed_checks"]]
    return failures


def test_rendered_objects_pass_checkov(tmp_path):
    assert render_objects(tmp_path) > 30

    assert checkov_failures(tmp_path, SKIPPED_CHECKS) == []


def test_every_skip_is_still_needed(tmp_path):
    render_objects(tmp_path)

    fired = {check for check, _ in checkov_failures(tmp_path, {})}

    assert set(SKIPPED_CHECKS) <= fired


def test_checkov_catches_privileged_pod(tmp_path):
    render_objects(tmp_path)
    path = tmp_path / "swarm-dev-swarms-agents-statefulset.yaml"
    document = yaml.safe_load(path.read_text())
    document["spec"]["template"]["spec"]["containers"][0]["securityContext"]["privileged"] = True
    path.write_text(yaml.safe_dump(document))

    failures = checkov_failures(tmp_path, SKIPPED_CHECKS)

    assert ("CKV_K8S_16", "StatefulSet.swarm-agents.agents") in failures
