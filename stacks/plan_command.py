"""`python -m stacks plan`: print the offline plan of one stack."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from stacks.plan import run_plan
from stacks.plan_tree import render_tree


def run_plan_command(arguments: argparse.Namespace) -> int:
    plan = run_plan(arguments.stack)
    text = json.dumps(plan.as_json(), indent=2, sort_keys=True) if arguments.format == "json" else render_tree(plan)
    if arguments.output:
        # A file keeps the plan apart from anything else the program prints.
        Path(arguments.output).write_text(text + "\n")
    else:
        print(text)
    return 0
