"""`python -m stacks diff`: the plan and cost diff of every stack between two versions of the repository."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional

from stacks.catalog import load_catalog
from stacks.config_loader import StackConfigError
from stacks.diff import StackDiff, diff_plans
from stacks.diff_report import render
from stacks.plan import ROOT, SECRET_TAG_KEY_VARIABLE

WORKING_TREE = "working tree"


def _git(*arguments: str) -> str:
    result = subprocess.run(["git", *arguments], cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        raise StackConfigError(f"git {' '.join(arguments)} failed: {_last_line(result.stderr, result.returncode)}")
    return result.stdout.strip()


def _last_line(output: str, exit_code: int) -> str:
    lines = output.strip().splitlines()
    return lines[-1] if lines else f"exit code {exit_code}"


def default_base() -> str:
    """Return the merge base of HEAD with main, or with origin/main where only the remote branch exists."""
    for branch in ("main", "origin/main"):
        probe = subprocess.run(["git", "rev-parse", "--verify", "--quiet", branch], cwd=ROOT, capture_output=True, text=True)
        if probe.returncode == 0:
            return _git("merge-base", "HEAD", branch)
    raise StackConfigError("no main or origin/main branch to compare with; pass --base REF")


@contextmanager
def checkout(ref: Optional[str]) -> Iterator[Path]:
    """Yield a folder with the files of `ref`, or the project itself for the working tree."""
    if ref is None:
        yield ROOT
        return
    folder = Path(tempfile.mkdtemp(prefix="swarm-diff-"))
    try:
        _git("worktree", "add", "--detach", "--force", str(folder / "tree"), ref)
        yield folder / "tree"
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(folder / "tree")], cwd=ROOT, capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def stack_names(folder: Path) -> set[str]:
    return {path.name.removeprefix("Pulumi.").removesuffix(".yaml") for path in folder.glob("Pulumi.*.yaml")}


def plan_in(folder: Path, stack: str, tag_key: str) -> tuple[Optional[dict[str, Any]], Optional[str]]:
    """Run the offline plan of one stack with the code of `folder`; return the plan or the error."""
    environment = dict(os.environ, **{SECRET_TAG_KEY_VARIABLE: tag_key})
    result = subprocess.run(
        [sys.executable, "-m", "stacks", "plan", str(folder / f"Pulumi.{stack}.yaml"), "--format", "json"],
        cwd=folder, env=environment, capture_output=True, text=True, timeout=600,
    )
    if result.returncode != 0:
        return None, f"plan failed: {_last_line(result.stderr, result.returncode)}"
    return json.loads(result.stdout), None


def _read_plan(path: str) -> dict[str, Any]:
    try:
        document = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise StackConfigError(f"cannot read plan file {path}: {error}") from None
    if not isinstance(document, dict) or "resources" not in document or "stack" not in document:
        raise StackConfigError(f"{path} is not the output of `python -m stacks plan --format json`")
    return document


def run_diff_command(arguments: argparse.Namespace) -> int:
    catalog = load_catalog()
    if arguments.before_plan or arguments.after_plan:
        if not (arguments.before_plan and arguments.after_plan):
            raise StackConfigError("give both --before-plan and --after-plan, each a file from `python -m stacks plan --format json`")
        before, after = _read_plan(arguments.before_plan), _read_plan(arguments.after_plan)
        diffs = [diff_plans(after["stack"], before, after, catalog, arguments.usd_per_eur)]
        print(render(diffs, catalog, arguments.before_plan, arguments.after_plan, arguments.format == "markdown"), end="")
        return 0

    base = arguments.base or default_base()
    # One key for both sides of this run only: secret tags match across the
    # two plans and mean nothing afterwards.
    tag_key = secrets.token_hex(16)
    diffs: list[StackDiff] = []
    with checkout(base) as before_folder, checkout(arguments.head) as after_folder:
        names = sorted(stack_names(before_folder) | stack_names(after_folder))
        if arguments.stack:
            names = [name for name in names if name in arguments.stack]
        for name in names:
            errors = []
            before = after = None
            if (before_folder / f"Pulumi.{name}.yaml").exists():
                before, error = plan_in(before_folder, name, tag_key)
                errors += [f"before: {error}"] if error else []
            if (after_folder / f"Pulumi.{name}.yaml").exists():
                after, error = plan_in(after_folder, name, tag_key)
                errors += [f"after: {error}"] if error else []
            diff = diff_plans(name, before, after, catalog, arguments.usd_per_eur)
            if errors:
                diff.errors += errors
                diff.status = "failed"
            diffs.append(diff)

    head_label = arguments.head or WORKING_TREE
    print(render(diffs, catalog, base[:12], head_label, arguments.format == "markdown"), end="")
    return 0
