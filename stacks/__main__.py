"""Command line of the cross-stack tools: `python -m stacks plan dev`, `python -m stacks cost dev prod`."""

from __future__ import annotations

import argparse
import os
import sys
from decimal import Decimal, InvalidOperation
from typing import Optional

from stacks.config_loader import StackConfigError


def _rate(text: str) -> Decimal:
    try:
        rate = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"invalid rate {text!r}: give USD per EUR as a number such as 1.16") from None
    if not rate.is_finite() or not Decimal("0.01") <= rate <= Decimal("100"):
        raise argparse.ArgumentTypeError(f"invalid rate {text}: give USD per EUR between 0.01 and 100, such as 1.16")
    return rate


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m stacks", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    plan = commands.add_parser("plan", help="list the resources a stack would create, offline, with no credentials")
    plan.add_argument("stack", help="stack name (Pulumi.<stack>.yaml at the project root) or a stack file path")
    plan.add_argument("--format", choices=["text", "json"], default="text", help="output format")
    plan.add_argument("--output", metavar="FILE", help="write the plan to FILE instead of standard output")

    cost = commands.add_parser("cost", help="monthly cost of stacks, side by side, from the price catalog")
    cost.add_argument("stacks", nargs="*", help="stack names or stack file paths, priced from their offline plans")
    cost.add_argument(
        "--on", metavar="PLATFORMS", help="also price each stack's swarms on these platforms, comma-separated: hetzner-k3s,doks"
    )
    cost.add_argument("--from-preview", metavar="FILE", action="append", default=[], help="price the output of `pulumi preview --json --show-sames`")
    cost.add_argument("--from-state", metavar="FILE", action="append", default=[], help="price the output of `pulumi stack export`")
    cost.add_argument("--format", choices=["text", "json", "markdown"], default="text", help="output format")
    cost.add_argument("--usd-per-eur", type=_rate, metavar="RATE", help="exchange rate in USD per EUR; default: the catalog's dated rate")

    diff = commands.add_parser(
        "diff", help="plan and cost diff of every stack between two versions, offline, for pull request review"
    )
    diff.add_argument("--base", metavar="REF", help="git ref before the change; default: the merge base of HEAD with main")
    diff.add_argument("--head", metavar="REF", help="git ref after the change; default: the working tree")
    diff.add_argument("--stack", action="append", help="only this stack; repeat for more; default: every Pulumi.<stack>.yaml")
    diff.add_argument("--before-plan", metavar="FILE", help="compare two plan files from `plan --format json` instead of git refs")
    diff.add_argument("--after-plan", metavar="FILE", help="the plan file after the change, with --before-plan")
    diff.add_argument("--format", choices=["text", "markdown"], default="text", help="output format; markdown is one pull request comment")
    diff.add_argument("--usd-per-eur", type=_rate, metavar="RATE", help="exchange rate in USD per EUR; default: the catalog's dated rate")

    prices = commands.add_parser("prices", help="the price catalog")
    prices_commands = prices.add_subparsers(dest="prices_command", required=True)
    refresh = prices_commands.add_parser(
        "refresh", help="rewrite the catalog from the Hetzner and DigitalOcean APIs, with HCLOUD_TOKEN and DIGITALOCEAN_TOKEN"
    )
    refresh.add_argument("--hetzner-api", default="https://api.hetzner.cloud/v1", help="Hetzner Cloud API base URL")
    refresh.add_argument("--digitalocean-api", default="https://api.digitalocean.com/v2", help="DigitalOcean API base URL")
    refresh.add_argument("--catalog", help="catalog file to rewrite; default: stacks/price_catalog.yaml")
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    arguments = build_parser().parse_args(argv)
    try:
        # Imported here so that `--help` runs without loading the Pulumi SDK.
        if arguments.command == "plan":
            from stacks.plan_command import run_plan_command

            return run_plan_command(arguments)
        if arguments.command == "cost":
            from stacks.cost_command import run_cost_command

            return run_cost_command(arguments)
        if arguments.command == "diff":
            from stacks.diff_command import run_diff_command

            return run_diff_command(arguments)
        from stacks.prices_refresh import run_refresh_command

        return run_refresh_command(arguments)
    except StackConfigError as error:
        for line in str(error).splitlines():
            print(f"error: {line}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    try:
        exit_code = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader of the output, such as `head`, closed the pipe early; what it read is complete.
        exit_code = 0
    sys.stderr.flush()
    # The Pulumi SDK leaves event loops open in its worker threads, and their
    # finalizers can print "Exception ignored ... Invalid file descriptor" at
    # interpreter shutdown. Everything is written by now, so skip shutdown.
    os._exit(exit_code)
