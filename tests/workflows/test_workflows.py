"""The GitHub Actions workflows: valid against the workflow schema, and doing what the README describes."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from stacks.diff_report import COMMENT_MARKER
from stacks.plan import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"


def load(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def schema_errors(path: Path) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True,
        text=True,
    )
    return "" if result.returncode == 0 else result.stdout + result.stderr


@pytest.mark.parametrize("name", ["preview.yml", "deploy.yml"])
def test_workflow_matches_schema(name):
    assert schema_errors(WORKFLOWS / name) == ""


def test_schema_check_catches_bad_workflow(tmp_path):
    broken = load("preview.yml")
    broken["jobs"]["plan-diff"]["runs-on"] = {"not": "a runner"}
    path = tmp_path / "broken.yml"
    path.write_text(yaml.safe_dump(broken))

    assert schema_errors(path) != ""


def test_plan_diff_job_uses_no_secrets():
    job = yaml.safe_dump(load("preview.yml")["jobs"]["plan-diff"])

    assert "secrets." not in job
    assert "python -m stacks diff" in job
    assert "--format markdown" in job


def test_plan_diff_comment_found_by_marker():
    steps = load("preview.yml")["jobs"]["plan-diff"]["steps"]
    (script_step,) = [step for step in steps if step.get("uses", "").startswith("actions/github-script")]

    assert COMMENT_MARKER in script_step["with"]["script"]
    assert "updateComment" in script_step["with"]["script"]


def test_preview_per_stack_skips_forks():
    job = load("preview.yml")["jobs"]["pulumi-preview"]
    (pulumi_step,) = [step for step in job["steps"] if step.get("uses", "").startswith("pulumi/actions")]

    assert job["if"] == "github.event.pull_request.head.repo.full_name == github.repository"
    assert job["strategy"]["matrix"]["stack"] == ["dev", "prod"]
    assert pulumi_step["with"]["command"] == "preview"
    assert pulumi_step["with"]["refresh"] is True
    assert pulumi_step["with"]["comment-on-pr"] is True
    assert pulumi_step["env"]["HCLOUD_TOKEN"] == "${{ secrets.HCLOUD_TOKEN }}"


def test_deploy_runs_up_behind_environment():
    workflow = load("deploy.yml")
    job = workflow["jobs"]["up"]
    (pulumi_step,) = [step for step in job["steps"] if step.get("uses", "").startswith("pulumi/actions")]

    # PyYAML reads the key `on` as True.
    assert workflow[True]["push"]["branches"] == ["main"]
    assert job["environment"] == "${{ matrix.stack }}"
    assert pulumi_step["with"]["command"] == "up"
    assert job["concurrency"]["cancel-in-progress"] is False


@pytest.mark.parametrize("name", ["preview.yml", "deploy.yml"])
def test_run_scripts_pass_shellcheck(name, tmp_path):
    if shutil.which("shellcheck") is None:
        pytest.fail("shellcheck is not installed; .ci/run installs it with apt-get")
    for job_name, job in load(name)["jobs"].items():
        for index, step in enumerate(job["steps"]):
            if "run" not in step:
                continue
            # GitHub replaces ${{ ... }} before the shell runs, so a plain word replaces it here.
            script = "#!/bin/bash\n" + re.sub(r"\$\{\{[^}]*\}\}", "expression", step["run"])
            path = tmp_path / f"{job_name}-{index}.sh"
            path.write_text(script)
            result = subprocess.run(["shellcheck", str(path)], capture_output=True, text=True)
            assert result.returncode == 0, result.stdout


def test_ci_script_passes_shellcheck():
    if shutil.which("shellcheck") is None:
        pytest.fail("shellcheck is not installed; .ci/run installs it with apt-get")

    result = subprocess.run(["shellcheck", str(ROOT / ".ci" / "run")], capture_output=True, text=True)

    assert result.returncode == 0, result.stdout


def test_credentials_come_from_environments():
    preview = load("preview.yml")["jobs"]["pulumi-preview"]
    deploy = load("deploy.yml")["jobs"]["up"]

    assert preview["environment"] == "preview"
    assert deploy["environment"] == "${{ matrix.stack }}"
    assert deploy["strategy"]["max-parallel"] == 1
    assert "workflow_dispatch" not in load("deploy.yml")[True]


def test_failed_plan_fails_job_after_comment():
    steps = load("preview.yml")["jobs"]["plan-diff"]["steps"]
    names = [step.get("name", step.get("uses", "")) for step in steps]

    assert names.index("Create or update the pull request comment") < names.index("Fail when a stack failed to plan")
    assert steps[-1]["if"] == "steps.diff.outputs.status == '3'"


def test_comment_search_ignores_human_comments():
    steps = load("preview.yml")["jobs"]["plan-diff"]["steps"]
    (script_step,) = [step for step in steps if step.get("uses", "").startswith("actions/github-script")]

    assert 'comment.user.type === "Bot"' in script_step["with"]["script"]
