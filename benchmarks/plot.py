"""The PNG plot of the benchmark page: plan time against the bare floor, and cost per container."""

from __future__ import annotations

from pathlib import Path

import matplotlib

# No display: render straight to a file, also on CI machines.
matplotlib.use("Agg")

from matplotlib import pyplot  # noqa: E402 - the backend is chosen before pyplot loads

from benchmarks.cost_table import CostRow  # noqa: E402
from benchmarks.plan_time import PlanTimeRow  # noqa: E402

COLORS = {"hetzner-k3s": "tab:red", "doks": "tab:blue"}


def write_plot(path: Path, plan_rows: list[PlanTimeRow], cost_rows: list[CostRow]) -> None:
    """Draw plan time (log-log) and monthly cost per container (in EUR) side by side, and save them as PNG."""
    figure, (time_axes, cost_axes) = pyplot.subplots(1, 2, figsize=(11, 4.5))

    for platform in COLORS:
        rows = [row for row in plan_rows if row.platform.name == platform]
        if not rows:
            continue
        containers = [row.containers for row in rows]
        time_axes.plot(containers, [row.median_seconds(row.plan) for row in rows], "o-", color=COLORS[platform], label=f"{platform} plan")
        time_axes.plot(containers, [row.median_seconds(row.bare) for row in rows], "s--", color=COLORS[platform], alpha=0.6, label=f"{platform} bare floor")
    time_axes.set_xscale("log")
    time_axes.set_yscale("log")
    time_axes.set_xlabel("containers")
    time_axes.set_ylabel("seconds (median)")
    time_axes.set_title("Offline-plan time")
    time_axes.grid(True, which="both", alpha=0.3)
    time_axes.legend(fontsize="small")

    for platform in COLORS:
        rows = [row for row in cost_rows if row.platform.name == platform]
        if not rows:
            continue
        containers = [row.containers for row in rows]
        cost_axes.plot(
            containers, [row.in_eur(row.auto.monthly) / row.containers for row in rows], "o-", color=COLORS[platform], label=f"{platform} auto-sized"
        )
        cost_axes.plot(
            containers, [row.in_eur(row.lower_bound) / row.containers for row in rows], "s--", color=COLORS[platform], alpha=0.6, label=f"{platform} lower bound"
        )
    cost_axes.set_xscale("log")
    cost_axes.set_xlabel("containers")
    cost_axes.set_ylabel("EUR per container and month")
    cost_axes.set_title("Monthly cost per container (DOKS converted to EUR)")
    cost_axes.grid(True, which="both", alpha=0.3)
    cost_axes.legend(fontsize="small")

    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)
