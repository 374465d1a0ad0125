"""`python -m stacks plan`: print the offline plan of one stack."""

from __future__ import annotations

import argparse
import json

from stacks.plan import run_plan
from stacks.plan_tree import render_tree


def run_plan_command(arguments: argparse.Namespace) -> int:
    plan = run_plan(arguments.stack)
    if arguments.format == "json":
        print(json.dumps(plan.as_json(), indent=2, sort_keys=True))
    else:
        print(render_tree(plan))
    return 0
