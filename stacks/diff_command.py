"""`python -m stacks diff`: the plan and cost diff of every stack between two versions of the repository."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
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
    """Return the merge base of HEAD with origin/main, or with main where there is no remote branch.

    The remote branch comes first, because a local main is often behind it.
    """
    for branch in ("origin/main", "main"):
        probe = subprocess.run(["git", "rev-parse", "--verify", "--quiet", branch], cwd=ROOT, capture_output=True, text=True)
        if probe.returncode == 0:
            return _git("merge-base", "HEAD", branch)
    raise StackConfigError("no main or origin/main branch to compare with; pass --base REF")


@contextmanager
def checkout(ref: Optional[str]) -> Iterator[Path]:
    """Yield the project folder in a checkout of `ref`, or the project itself for the working tree."""
    if ref is None:
        yield ROOT
        return
    # The project may sit in a subfolder of the repository.
    prefix = _git("rev-parse", "--show-prefix")
    folder = Path(tempfile.mkdtemp(prefix="swarm-diff-"))
    try:
        _git("worktree", "add", "--detach", "--force", str(folder / "tree"), ref)
        yield folder / "tree" / prefix
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(folder / "tree")], cwd=ROOT, capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def stack_names(folder: Path) -> set[str]:
    return {path.name.removeprefix("Pulumi.").removesuffix(".yaml") for path in folder.glob("Pulumi.*.yaml")}


_PLAN_TIMEOUT_SECONDS = 600


def plan_in(folder: Path, stack: str, tag_key: str) -> tuple[Optional[dict[str, Any]], Optional[str]]:
    """Run the offline plan of one stack with the code of `folder`; return the plan or the error."""
    environment = dict(os.environ, **{SECRET_TAG_KEY_VARIABLE: tag_key})
    with tempfile.TemporaryDirectory(prefix="swarm-plan-") as scratch:
        output = Path(scratch) / "plan.json"
        command = [sys.executable, "-m", "stacks", "plan", str(folder / f"Pulumi.{stack}.yaml"), "--format", "json", "--output", str(output)]
        try:
            result = subprocess.run(command, cwd=folder, env=environment, capture_output=True, text=True, timeout=_PLAN_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            return None, f"plan failed: timed out after {_PLAN_TIMEOUT_SECONDS} seconds"
        if result.returncode != 0 or not output.exists():
            return None, f"plan failed: {_last_line(result.stderr, result.returncode)}"
        try:
            return json.loads(output.read_text()), None
        except json.JSONDecodeError as error:
            return None, f"plan failed: the plan file is not JSON ({error.msg})"


def _read_plan(path: str) -> dict[str, Any]:
    try:
        document = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise StackConfigError(f"cannot read plan file {path}: {error}") from None
    resources = document.get("resources") if isinstance(document, dict) else None
    well_formed = isinstance(resources, list) and isinstance(document.get("stack"), str) and all(
        isinstance(item, dict) and {"urn", "type", "name"} <= set(item) and isinstance(item.get("inputs", {}), dict)
        for item in resources
    )
    if not well_formed:
        raise StackConfigError(f"{path} is not the output of `python -m stacks plan --format json`")
    for item in resources:
        item.setdefault("inputs", {})
    return document


# The exit code when a stack could not be planned on one side: the comment is
# printed, and CI still goes red.
EXIT_PLAN_FAILED = 3


def _stop_on_sigterm() -> None:
    # A terminated run unwinds like an interrupted one, so that the git
    # worktrees it added are removed.
    def stop(signal_number: int, frame: object) -> None:
        raise SystemExit(128 + signal_number)

    signal.signal(signal.SIGTERM, stop)


def run_diff_command(arguments: argparse.Namespace) -> int:
    catalog = load_catalog()
    if arguments.before_plan or arguments.after_plan:
        if not (arguments.before_plan and arguments.after_plan):
            raise StackConfigError("give both --before-plan and --after-plan, each a file from `python -m stacks plan --format json`")
        if arguments.base or arguments.head or arguments.stack:
            raise StackConfigError("--base, --head and --stack choose git versions; they do not apply to --before-plan and --after-plan")
        before, after = _read_plan(arguments.before_plan), _read_plan(arguments.after_plan)
        if before["stack"] != after["stack"]:
            raise StackConfigError(
                f"the plan files are of different stacks, {before['stack']} and {after['stack']}; compare two plans of one stack"
            )
        diffs = [diff_plans(after["stack"], before, after, catalog, arguments.usd_per_eur)]
        print(render(diffs, catalog, arguments.before_plan, arguments.after_plan, arguments.format == "markdown"), end="")
        return 0

    _stop_on_sigterm()
    base = arguments.base or default_base()
    base_label = f"{arguments.base} ({_git('rev-parse', '--short', base)})" if arguments.base else _git("rev-parse", "--short", base)
    # One key for both sides of this run only: secret tags match across the
    # two plans and mean nothing afterwards.
    tag_key = secrets.token_hex(16)
    diffs: list[StackDiff] = []
    with checkout(base) as before_folder, checkout(arguments.head) as after_folder:
        names = sorted(stack_names(before_folder) | stack_names(after_folder))
        if arguments.stack:
            unknown = sorted(set(arguments.stack) - set(names))
            if unknown:
                raise StackConfigError(
                    f"no stack file for --stack {', '.join(unknown)} in either version; stacks: {', '.join(names) or 'none'}"
                )
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
            if errors:
                # Without both plans a comparison would list every resource as created or deleted.
                diffs.append(StackDiff(stack=name, status="failed", errors=errors))
            else:
                diffs.append(diff_plans(name, before, after, catalog, arguments.usd_per_eur))

    head_label = arguments.head or WORKING_TREE
    print(render(diffs, catalog, base_label, head_label, arguments.format == "markdown"), end="")
    return EXIT_PLAN_FAILED if any(diff.status == "failed" for diff in diffs) else 0
