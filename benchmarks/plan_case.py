"""One measurement of the offline plan, or of the bare floor, in a process of its own.

`python -m benchmarks.plan_case MODE STACK_FILE --warm-up WARM_UP_FILE` prints
one line of JSON: the seconds of the measured run, the peak resident set
size of the process, and the resources registered.

Before the clock starts, every mode runs the real program once on the small
warm-up stack. That imports the provider SDKs and fills Python's caches in
the same way for every mode, so the measured run holds only the plan's own
work, and the processes of both modes start the measured run from the same
memory.

Modes:
- plan: `stacks.plan.run_plan` on the stack file.
- bare: a program that registers `--resources` plain resources of one type
  with two inputs, under the same mocks and monitor: the floor for any
  Pulumi program of that many resources.
- replay: runs the plan untimed, then times a bare program that registers
  the same number of plain resources with each planned resource's inputs,
  to tell the cost of the inputs from the cost of the program's own code.
- profile: runs the plan under cProfile and reports the seconds spent in
  the functions of each group of code (`CODE_GROUPS`), excluding the
  functions they call. Profiling slows the run, so only the shares compare.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import pstats
import resource
import sys
import time
from typing import Any, Callable

import pulumi
from pulumi.runtime import mocks
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from stacks.plan import ROOT, PreviewMocks, RecordingMonitor, run_plan

BARE_TYPE = "benchmark:index:Resource"
MODES = ("plan", "bare", "replay", "profile")

PROJECT_CODE = "this project"
# Groups of installed code in a profile, matched in this order against a function's file path.
CODE_GROUPS = (
    ("Pulumi SDK", "site-packages/pulumi/"),
    ("provider SDKs", "site-packages/pulumi_"),
    ("protobuf and gRPC", "site-packages/google/"),
    ("PyYAML", "site-packages/yaml/"),
    ("pydantic", "site-packages/pydantic"),
    ("asyncio", "/asyncio/"),
)
OTHER_CODE = "Python standard library and built-ins"


def peak_rss_mib() -> float:
    """Return the peak resident set size of this process so far, in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def run_program(program: Callable[[], None], stack: str) -> int:
    """Run a Pulumi program under the offline plan's mocks and monitor, and return how many resources it registered."""
    engine = PreviewMocks()
    monitor = RecordingMonitor(engine)
    # The same setup as stacks.plan.run_plan, without the program's config.
    pulumi.runtime.settings.ROOT.set(None)
    mocks.set_mocks(engine, project="swarm", stack=stack, preview=True, monitor=monitor)
    _sync_await(run_pulumi_func(program))
    return len(monitor.planned)


def bare_program(inputs: list[dict[str, Any]]) -> Callable[[], None]:
    """Build a program that registers one plain resource per entry of `inputs`."""

    def program() -> None:
        for index, properties in enumerate(inputs):
            pulumi.CustomResource(BARE_TYPE, f"resource-{index}", properties)

    return program


def code_group(path: str) -> str:
    """Name the group of code that a profiled function's file belongs to."""
    if path.startswith(str(ROOT) + "/") and "site-packages" not in path:
        return PROJECT_CODE
    for group, marker in CODE_GROUPS:
        if marker in path:
            return group
    return OTHER_CODE


def profile_plan(stack_file: str) -> dict[str, Any]:
    """Plan under cProfile, and return the total seconds and the seconds of each code group's own functions."""
    profiler = cProfile.Profile()
    profiler.enable()
    registered = len(run_plan(stack_file).resources)
    profiler.disable()
    groups: dict[str, float] = {}
    for (path, _, _), (_, _, own_seconds, _, _) in pstats.Stats(profiler).stats.items():
        group = code_group(path)
        groups[group] = groups.get(group, 0.0) + own_seconds
    return {"resources": registered, "seconds": sum(groups.values()), "groups": groups}


def measure(mode: str, stack_file: str, resources: int) -> dict[str, Any]:
    """Run the measured part of one mode and return its figures.

    A full garbage collection comes first, so that no mode pays for
    collecting the objects that the untimed runs before it left behind.
    """
    if mode == "profile":
        gc.collect()
        return {"mode": mode, "peak_rss_mib": peak_rss_mib(), **profile_plan(stack_file)}
    if mode == "plan":
        gc.collect()
        start = time.perf_counter()
        registered = len(run_plan(stack_file).resources)
        seconds = time.perf_counter() - start
        return {"mode": mode, "seconds": seconds, "peak_rss_mib": peak_rss_mib(), "resources": registered}

    if mode == "bare":
        inputs = [{"name": f"resource-{index}", "index": index} for index in range(resources)]
    else:
        inputs = [dict(planned.raw_inputs) for planned in run_plan(stack_file).resources]
    gc.collect()
    start = time.perf_counter()
    registered = run_program(bare_program(inputs), mode)
    seconds = time.perf_counter() - start
    return {"mode": mode, "seconds": seconds, "peak_rss_mib": peak_rss_mib(), "resources": registered}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.plan_case", description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=MODES, help="what to measure")
    parser.add_argument("stack_file", help="Pulumi.<stack>.yaml to plan (plan and replay modes)")
    parser.add_argument("--warm-up", required=True, metavar="FILE", help="small stack file planned once, untimed, before the measured run")
    parser.add_argument("--resources", type=int, default=0, help="resources the bare program registers (bare mode)")
    arguments = parser.parse_args(argv)
    if arguments.mode == "bare" and arguments.resources < 1:
        parser.error("bare mode needs --resources N with N of at least 1")

    warm_up_start = time.perf_counter()
    run_plan(arguments.warm_up)
    warm_up = {"warm_up_seconds": time.perf_counter() - warm_up_start, "warm_up_peak_rss_mib": peak_rss_mib()}

    result = measure(arguments.mode, arguments.stack_file, arguments.resources)
    print(json.dumps({**result, **warm_up}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
