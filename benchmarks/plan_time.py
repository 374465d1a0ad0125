"""Offline-plan time and peak memory against the bare floor, each measured in fresh processes.

Each repeat of a case starts one process per mode (`benchmarks.plan_case`),
so peak memory is per case and Pulumi's global runtime state does not leak
from one case into the next. Time is the median of the repeats, and peak
memory the largest peak of the repeats.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from stacks.catalog import Catalog
from stacks.plan import ROOT

from benchmarks.stack_files import Platform, SizedStack, Workload, auto_sized, write_stack_file

# Containers and swarms of each size: 10 in 1 swarm, 100 in 10, 1,000 in 50.
PLAN_WORKLOADS = {10: Workload(1, 10), 100: Workload(10, 10), 1000: Workload(50, 20)}

# The stack planned untimed in every process before the measured run.
WARM_UP_WORKLOAD = Workload(1, 1)


@dataclass(frozen=True)
class Measurement:
    """The figures that one `benchmarks.plan_case` process printed."""

    seconds: float
    peak_rss_mib: float
    resources: int
    warm_up_peak_rss_mib: float


@dataclass
class PlanTimeRow:
    """All measurements of one platform and size."""

    platform: Platform
    containers: int
    stack: SizedStack
    plan: list[Measurement] = field(default_factory=list)
    bare: list[Measurement] = field(default_factory=list)
    # The bare program with the plan's own inputs, to explain the ratio.
    replay: list[Measurement] = field(default_factory=list)
    # Seconds of own time per group of code under cProfile, for the largest size only.
    profile: Optional[dict[str, float]] = None

    @property
    def resources(self) -> int:
        return self.plan[0].resources

    @staticmethod
    def median_seconds(measurements: list[Measurement]) -> float:
        return statistics.median(measurement.seconds for measurement in measurements)

    @staticmethod
    def peak_mib(measurements: list[Measurement]) -> float:
        return max(measurement.peak_rss_mib for measurement in measurements)

    @property
    def time_ratio(self) -> float:
        return self.median_seconds(self.plan) / self.median_seconds(self.bare)

    @property
    def memory_ratio(self) -> float:
        return self.peak_mib(self.plan) / self.peak_mib(self.bare)


def run_process(mode: str, stack_file: Path, warm_up_file: Path, resources: int = 0) -> dict[str, Any]:
    """Run one mode of `benchmarks.plan_case` in a new Python process and return the JSON it printed."""
    command = [sys.executable, "-m", "benchmarks.plan_case", mode, str(stack_file), "--warm-up", str(warm_up_file)]
    if mode == "bare":
        command += ["--resources", str(resources)]
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(
            f"benchmark case failed with exit code {completed.returncode}: {' '.join(command)}\n{completed.stderr[-3000:]}"
        )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def run_case(mode: str, stack_file: Path, warm_up_file: Path, resources: int = 0) -> Measurement:
    figures = run_process(mode, stack_file, warm_up_file, resources)
    return Measurement(figures["seconds"], figures["peak_rss_mib"], figures["resources"], figures["warm_up_peak_rss_mib"])


def measure_plan_times(
    platforms: tuple[Platform, ...],
    sizes: tuple[int, ...],
    repeats: int,
    catalog: Catalog,
    directory: Path,
    replay: bool = True,
    progress=print,
) -> list[PlanTimeRow]:
    """Measure every platform and size `repeats` times.

    With `replay`, each repeat also runs the bare program with the plan's
    inputs, and the largest size gets one profiled run.
    """
    rows = []
    for platform in platforms:
        warm_up = write_stack_file(directory, f"warm-{platform.example_stack}", auto_sized(platform, WARM_UP_WORKLOAD, catalog).values)
        for containers in sizes:
            stack = auto_sized(platform, PLAN_WORKLOADS[containers], catalog)
            path = write_stack_file(directory, f"bench-{platform.example_stack}-{containers}", stack.values)
            row = PlanTimeRow(platform, containers, stack)
            for repeat in range(repeats):
                progress(f"plan time: {platform.name}, {containers} containers, repeat {repeat + 1} of {repeats}")
                row.plan.append(run_case("plan", path, warm_up))
                # The floor registers as many resources as the real plan did.
                row.bare.append(run_case("bare", path, warm_up, row.resources))
                if replay:
                    row.replay.append(run_case("replay", path, warm_up))
            if replay and containers == max(sizes):
                progress(f"plan time: {platform.name}, {containers} containers, profiled")
                row.profile = run_process("profile", path, warm_up)["groups"]
            rows.append(row)
    return rows
