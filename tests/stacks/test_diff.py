"""Plan and cost diffs: real edits of stack files, secrets, added and removed stacks, the comment text."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from stacks.catalog import load_catalog
from stacks.diff import diff_plans, input_changes
from stacks.diff_report import COMMENT_MARKER, render_markdown
from stacks.plan import ROOT, SECRET_TAG_KEY_VARIABLE, run_plan
from tests.conftest import BOB_KEY, dev_config

CATALOG = load_catalog()


def plan_json(write_stack, config: dict, monkeypatch, stack: str = "dev") -> dict:
    monkeypatch.setenv(SECRET_TAG_KEY_VARIABLE, "test-key")
    return run_plan(str(write_stack(config, stack=stack))).as_json()


def updates_by_name(diff) -> dict[str, dict[str, tuple[str, str]]]:
    return {update.name: {change.path: (change.before, change.after) for change in update.changes} for update in diff.updates}


def test_replicas_three_to_five(write_stack, monkeypatch):
    before = plan_json(write_stack, dev_config(), monkeypatch)
    config = dev_config()
    config["swarm:swarms"][0]["replicas"] = 5
    after = plan_json(write_stack, config, monkeypatch)

    diff = diff_plans("dev", before, after, CATALOG)

    assert diff.status == "changed"
    assert updates_by_name(diff)["swarm-dev-swarms-agents-statefulset"]["spec.replicas"] == ("3", "5")
    assert diff.creates == []
    assert diff.deletes == []
    # Two more workspaces of 20 GB at 0.0572 EUR: 37.18 - 34.89.
    assert str(diff.cost_after.total("EUR")[0] - diff.cost_before.total("EUR")[0]) == "2.29"


def test_changed_server_type(write_stack, monkeypatch):
    before = plan_json(write_stack, dev_config(), monkeypatch)
    config = dev_config()
    config["swarm:hetzner"]["workers"][0]["serverType"] = "cx43"
    after = plan_json(write_stack, config, monkeypatch)

    diff = diff_plans("dev", before, after, CATALOG)
    updates = updates_by_name(diff)

    assert updates["swarm-dev-general-0"]["serverType"] == ("cx33", "cx43")
    assert updates["swarm-dev-general-1"]["serverType"] == ("cx33", "cx43")
    # Two agents from 8.49 to 15.99 EUR.
    assert str(diff.cost_after.total("EUR")[0] - diff.cost_before.total("EUR")[0]) == "15.00"


def test_new_swarm_creates_its_resources(write_stack, monkeypatch):
    before = plan_json(write_stack, dev_config(), monkeypatch)
    config = dev_config()
    config["swarm:swarms"].append({"name": "review", "replicas": 2, "sshPublicKeys": [BOB_KEY]})
    after = plan_json(write_stack, config, monkeypatch)

    diff = diff_plans("dev", before, after, CATALOG)
    created = {change.name for change in diff.creates}

    assert {"swarm-dev-swarms-review-namespace", "swarm-dev-swarms-review-statefulset", "swarm-dev-swarms-review-service"} <= created
    assert diff.deletes == []
    assert "swarm-dev-ssh-config" in updates_by_name(diff)


def test_changed_secret_shows_only_as_changed(write_stack, monkeypatch):
    config = dev_config()
    config["hcloud:token"] = {"secure": "v1:OLDCIPHERTEXT"}
    before = plan_json(write_stack, config, monkeypatch)
    config["hcloud:token"] = {"secure": "v1:NEWCIPHERTEXT"}
    after = plan_json(write_stack, config, monkeypatch)

    diff = diff_plans("dev", before, after, CATALOG)
    text = render_markdown([diff], CATALOG, "base", "head")

    assert updates_by_name(diff)["swarm-dev-csi-token"] == {"stringData": ("[secret]", "[secret] (changed)")}
    assert "CIPHERTEXT" not in text
    assert "offline-plan-placeholder" not in text
    assert "`stringData`: `[secret]` -> `[secret] (changed)`" in text


def test_unchanged_secret_not_reported(write_stack, monkeypatch):
    config = dev_config()
    config["hcloud:token"] = {"secure": "v1:SAME"}
    before = plan_json(write_stack, config, monkeypatch)
    after = plan_json(write_stack, config, monkeypatch)

    diff = diff_plans("dev", before, after, CATALOG)

    assert diff.status == "unchanged"


def test_untagged_secrets_count_as_unchanged():
    assert input_changes({"stringData": "[secret]"}, {"stringData": "[secret:abc123]"}) == []


def test_removed_and_added_stack(write_stack, monkeypatch):
    plan = plan_json(write_stack, dev_config(), monkeypatch)

    removed = diff_plans("old", plan, None, CATALOG)
    added = diff_plans("new", None, plan, CATALOG)

    assert removed.status == "removed"
    assert len(removed.deletes) == len(plan["resources"])
    assert added.status == "added"
    assert len(added.creates) == len(plan["resources"])
    assert str(added.cost_after.total("EUR")[0]) == "34.89"


def test_markdown_comment_text(write_stack, monkeypatch):
    before = plan_json(write_stack, dev_config(), monkeypatch)
    config = dev_config()
    config["swarm:swarms"][0]["replicas"] = 5
    after = plan_json(write_stack, config, monkeypatch)
    removed = diff_plans("staging", before, None, CATALOG)
    changed = diff_plans("dev", before, after, CATALOG)

    text = render_markdown([changed, removed], CATALOG, "abc123", "working tree")

    expected_start = f"""{COMMENT_MARKER}
### Infrastructure plan diff

This change moves the estimated monthly cost of the priced stacks by -€32.60 (-46.7%), from €69.78 to €37.18, with changes in 2 of 2 stacks.

| stack | platform | resources | cost before | cost after | change |
|---|---|---|---:|---:|---:|
| dev | hetzner-k3s | 0 to create, 2 to update, 0 to replace, 0 to delete | €34.89 | €37.18 | +€2.29 (+6.6%) |
| staging | hetzner-k3s | stack removed, 0 to create, 0 to update, 0 to replace, 52 to delete | €34.89 | - | -€34.89 (-100.0%) |

<details><summary>dev: 0 to create, 2 to update, 0 to replace, 0 to delete</summary>

- ~ update `kubernetes:apps/v1:StatefulSet` swarm-dev-swarms-agents-statefulset
  - `metadata.annotations.swarm/workspaces`: `3` -> `5`
  - `spec.replicas`: `3` -> `5`
"""
    assert text.startswith(expected_start)
    assert "<details><summary>staging: stack removed, 0 to create, 0 to update, 0 to replace, 52 to delete</summary>" in text
    assert "creates or destroys nothing by itself" in text
    assert text.rstrip().endswith("Secrets show only whether they changed.")


def run_git(folder: Path, *arguments: str) -> str:
    result = subprocess.run(["git", *arguments], cwd=folder, capture_output=True, text=True, check=True)
    return result.stdout


@pytest.fixture(scope="module")
def branch_clone(tmp_path_factory) -> Path:
    """A clone of the project with one commit on top that edits, adds and removes stacks."""
    folder = tmp_path_factory.mktemp("clone") / "swarm"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(folder)], check=True)
    run_git(folder, "config", "user.email", "test@example.com")
    run_git(folder, "config", "user.name", "test")
    run_git(folder, "checkout", "--quiet", "-b", "feature")
    # The tests pass `--base main` and expect only the edits below. A clone
    # has a local main only when the source is on main, and the source's main
    # may be ahead of the cloned commit, so main is set to that commit.
    run_git(folder, "branch", "--quiet", "--force", "main", "HEAD")

    dev = yaml.safe_load((folder / "Pulumi.dev.yaml").read_text())
    dev["config"]["swarm:swarms"][0]["replicas"] = 5
    (folder / "Pulumi.dev.yaml").write_text(yaml.safe_dump(dev, sort_keys=False))
    (folder / "Pulumi.qa.yaml").write_text(yaml.safe_dump(dev, sort_keys=False))
    (folder / "Pulumi.local.yaml").unlink()
    run_git(folder, "add", "-A")
    run_git(folder, "commit", "--quiet", "-m", "Edit stacks")
    return folder


def run_diff(folder: Path, *arguments: str) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items() if key != SECRET_TAG_KEY_VARIABLE}
    return subprocess.run(
        [sys.executable, "-m", "stacks", "diff", *arguments], cwd=folder, env=environment, capture_output=True, text=True, timeout=600
    )


def test_diff_between_git_refs(branch_clone):
    result = run_diff(branch_clone, "--base", "main", "--head", "HEAD", "--format", "markdown")

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(COMMENT_MARKER)
    assert "| dev | hetzner-k3s | 0 to create, 2 to update, 0 to replace, 0 to delete | €34.89 | €37.18 | +€2.29 (+6.6%) |" in result.stdout
    assert "| qa | hetzner-k3s | stack added, 52 to create, 0 to update, 0 to replace, 0 to delete | - | €37.18 |" in result.stdout
    assert "| local | kubeconfig | stack removed," in result.stdout
    assert "| prod | doks | no changes |" in result.stdout


def test_diff_defaults_to_merge_base_and_working_tree(branch_clone):
    result = run_diff(branch_clone, "--stack", "dev")

    assert result.returncode == 0, result.stderr
    assert "spec.replicas: 3 -> 5" in result.stdout
    assert "and working tree" in result.stdout


def test_diff_of_plan_files(tmp_path, write_stack, monkeypatch):
    before, after = tmp_path / "before.json", tmp_path / "after.json"
    before.write_text(json.dumps(plan_json(write_stack, dev_config(), monkeypatch)))
    config = dev_config()
    config["swarm:hetzner"]["loadBalancerType"] = "lb21"
    after.write_text(json.dumps(plan_json(write_stack, config, monkeypatch)))

    result = run_diff(ROOT, "--before-plan", str(before), "--after-plan", str(after))

    assert result.returncode == 0, result.stderr
    assert "loadBalancerType: lb11 -> lb21" in result.stdout
    # lb21 has no price in the catalog: the stack is left out of the total, with the reason.
    assert "no hetzner price for lb21" in result.stdout


def test_diff_needs_both_plan_files(tmp_path):
    result = run_diff(ROOT, "--before-plan", str(tmp_path / "a.json"))

    assert result.returncode == 2
    assert "give both --before-plan and --after-plan" in result.stderr


def test_location_change_shows_replacement(write_stack, monkeypatch):
    before = plan_json(write_stack, dev_config(), monkeypatch)
    config = dev_config()
    config["swarm:hetzner"]["location"] = "hel1"
    after = plan_json(write_stack, config, monkeypatch)

    diff = diff_plans("dev", before, after, CATALOG)
    text = render_markdown([diff], CATALOG, "base", "head")

    assert "swarm-dev-server-0" in {update.name for update in diff.replacements}
    assert "+- replace `hcloud:index/server:Server` swarm-dev-server-0" in text
    assert "`location`: `fsn1` -> `hel1` (forces a replacement)" in text


def test_ignored_input_not_counted_as_update(monkeypatch):
    before = {"stack": "prod", "resources": [{"urn": "u", "type": "digitalocean:index/kubernetesNodePool:KubernetesNodePool", "name": "pool",
                                              "inputs": {"nodeCount": 3}, "options": {"ignoreChanges": ["nodeCount"]}}]}
    after = {"stack": "prod", "resources": [dict(before["resources"][0], inputs={"nodeCount": 4})]}

    diff = diff_plans("prod", before, after, CATALOG)

    assert diff.status == "unchanged"
    assert diff.in_place_updates == []


def test_retained_delete_is_noted(write_stack, monkeypatch):
    before = plan_json(write_stack, dev_config(), monkeypatch)
    config = dev_config()
    config["swarm:swarms"].append({"name": "review", "replicas": 1, "sshPublicKeys": [BOB_KEY]})
    with_review = plan_json(write_stack, config, monkeypatch)

    diff = diff_plans("dev", with_review, before, CATALOG)
    notes = {change.name: change.note for change in diff.deletes}

    assert notes["swarm-dev-swarms-review-namespace"] == "kept in the cluster: Pulumi only forgets it"
    assert notes["swarm-dev-swarms-review-statefulset"] == ""


def test_markdown_values_cannot_inject_html(write_stack, monkeypatch):
    before = plan_json(write_stack, dev_config(), monkeypatch)
    config = dev_config()
    config["swarm:swarms"][0]["image"] = "registry/evil:tag"
    after = plan_json(write_stack, config, monkeypatch)
    after["resources"][-1]["inputs"]["note"] = "<!-- hidden @team | x"

    text = render_markdown([diff_plans("dev", before, after, CATALOG)], CATALOG, "base", "head")

    assert "`(none)` -> `<!-- hidden @team \\| x`" in text


def test_failed_plan_lists_no_resources(branch_clone):
    prod = yaml.safe_load((branch_clone / "Pulumi.prod.yaml").read_text())
    prod["config"]["swarm:swarms"][0]["replicas"] = -8
    (branch_clone / "Pulumi.prod.yaml").write_text(yaml.safe_dump(prod, sort_keys=False))
    try:
        result = run_diff(branch_clone, "--base", "main", "--stack", "prod", "--format", "markdown")
    finally:
        run_git(branch_clone, "checkout", "--quiet", "Pulumi.prod.yaml")

    assert result.returncode == 3
    assert "| prod | - | plan failed |" in result.stdout
    assert "delete `digitalocean" not in result.stdout
    assert "1 stack failed to plan: prod." in result.stdout


def test_unknown_stack_filter_rejected(branch_clone):
    result = run_diff(branch_clone, "--base", "main", "--stack", "nosuch")

    assert result.returncode == 2
    assert "no stack file for --stack nosuch" in result.stderr


def test_plan_files_of_different_stacks_rejected(tmp_path, write_stack, monkeypatch):
    dev_plan = plan_json(write_stack, dev_config(), monkeypatch)
    other = dict(dev_plan, stack="prod")
    (tmp_path / "a.json").write_text(json.dumps(dev_plan))
    (tmp_path / "b.json").write_text(json.dumps(other))

    result = run_diff(ROOT, "--before-plan", str(tmp_path / "a.json"), "--after-plan", str(tmp_path / "b.json"))

    assert result.returncode == 2
    assert "different stacks" in result.stderr


@pytest.mark.parametrize("document", [{"stack": "dev", "resources": None}, {"stack": "dev", "resources": [{"urn": "u"}]}])
def test_malformed_plan_file_rejected(tmp_path, document):
    (tmp_path / "a.json").write_text(json.dumps(document))

    result = run_diff(ROOT, "--before-plan", str(tmp_path / "a.json"), "--after-plan", str(tmp_path / "a.json"))

    assert result.returncode == 2
    assert "is not the output of `python -m stacks plan --format json`" in result.stderr


def test_print_in_program_does_not_break_plan_files(branch_clone):
    program = branch_clone / "__main__.py"
    original = program.read_text()
    program.write_text(original + "\nprint('debug output')\n")
    try:
        result = run_diff(branch_clone, "--base", "main", "--stack", "dev")
    finally:
        program.write_text(original)

    assert result.returncode == 0, result.stderr
    assert "spec.replicas: 3 -> 5" in result.stdout


def test_nested_secure_value_stays_secret(write_stack, monkeypatch, capsys):
    config = dev_config()
    config["swarm:swarms"][0]["replicas"] = {"secure": "v1:NESTEDCIPHERTEXT=="}

    from stacks.__main__ import main

    exit_code = main(["plan", str(write_stack(config))])
    output = capsys.readouterr()

    assert exit_code == 2
    assert "NESTEDCIPHERTEXT" not in output.err
    assert "swarm:swarms[0].replicas = [secret]" in output.err
    assert "offline-plan-placeholder" not in output.err
