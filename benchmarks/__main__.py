"""`python -m benchmarks`: measure the offline plan, the provisioning critical path and the sizing, and write the page.

Writes `benchmarks.md` and `benchmarks.png` into the output folder (docs/ by
default). The full run takes a few minutes on two cores; `--quick` measures
only the smallest size of each table once.
"""

from __future__ import annotations

import argparse
import datetime
import logging
import os
import platform
import shlex
import sys
import tempfile
from importlib import metadata
from pathlib import Path

from stacks.catalog import load_catalog
from stacks.plan import ROOT

from benchmarks.cost_table import REFERENCE_SIZES, cost_rows
from benchmarks.critical_path import PATH_WORKLOADS, critical_path_rows
from benchmarks.page import Machine, render_page
from benchmarks.plan_time import PLAN_WORKLOADS, measure_plan_times
from benchmarks.plot import write_plot
from benchmarks.stack_files import PLATFORMS

PAGE_FILE = "benchmarks.md"
PLOT_FILE = "benchmarks.png"

logger = logging.getLogger("benchmarks")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="measure only the smallest size of each table, once, without the replayed inputs and the profile"
    )
    parser.add_argument("--repeats", type=int, default=3, metavar="N", help="fresh processes per plan-time case and mode (default: 3)")
    parser.add_argument(
        "--output-dir", type=Path, default=ROOT / "docs", metavar="DIR", help=f"folder for {PAGE_FILE} and {PLOT_FILE} (default: docs/)"
    )
    return parser


def describe_machine(command: str) -> Machine:
    return Machine(
        cpus=os.cpu_count() or 0,
        cpu_model=cpu_model(),
        python=platform.python_version(),
        pulumi=metadata.version("pulumi"),
        system=f"{platform.system()} {platform.release()}",
        date=datetime.datetime.now(datetime.timezone.utc).date().isoformat(),
        command=command,
    )


def cpu_model() -> str:
    """Return the CPU model name from /proc/cpuinfo, or the platform's processor name elsewhere."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "CPU model unknown"


def main(argv: list[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    if arguments.repeats < 1:
        build_parser().error(f"invalid --repeats {arguments.repeats}: give 1 or more")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    argv = sys.argv[1:] if argv is None else argv
    command = shlex.join(["python", "-m", "benchmarks", *argv])

    plan_sizes = tuple(PLAN_WORKLOADS)
    path_sizes = tuple(PATH_WORKLOADS)
    cost_sizes = REFERENCE_SIZES
    repeats = arguments.repeats
    if arguments.quick:
        plan_sizes, path_sizes, cost_sizes, repeats = plan_sizes[:1], path_sizes[:1], cost_sizes[:1], 1

    catalog = load_catalog()
    output = arguments.output_dir
    output.mkdir(parents=True, exist_ok=True)
    logger.info("benchmarks: writing %s and %s into %s", PAGE_FILE, PLOT_FILE, output)
    with tempfile.TemporaryDirectory(prefix="swarm-benchmarks-") as scratch:
        directory = Path(scratch)
        plan_rows = measure_plan_times(
            PLATFORMS, plan_sizes, repeats, catalog, directory, replay=not arguments.quick, progress=logger.info
        )
        logger.info("critical path: planning %s containers", " and ".join(str(size) for size in path_sizes))
        path_rows = critical_path_rows(PLATFORMS, path_sizes, catalog, directory)
    logger.info("cost: pricing %s containers", ", ".join(str(size) for size in cost_sizes))
    priced = cost_rows(PLATFORMS, cost_sizes, catalog)

    page = render_page(describe_machine(command), plan_rows, path_rows, priced, PLOT_FILE)
    (output / PAGE_FILE).write_text(page)
    write_plot(output / PLOT_FILE, plan_rows, priced)
    logger.info("benchmarks: wrote %s and %s", output / PAGE_FILE, output / PLOT_FILE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
