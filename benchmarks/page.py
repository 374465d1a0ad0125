"""The Markdown page of the benchmark results, with the targets each table is measured against."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from benchmarks.cost_table import CostRow, PricedLayout
from benchmarks.critical_path import PathRow
from benchmarks.plan_time import PlanTimeRow

# Plan targets at TARGET_SIZE containers: time within this factor of the bare
# floor, and peak memory below this many MB.
PLAN_TIME_TARGET_RATIO = 1.5
PLAN_MEMORY_TARGET_MB = 500
TARGET_SIZE = 1000

# Cost target: auto-sized within this percentage of the lower bound, from COST_TARGET_FROM containers on.
COST_TARGET_PERCENT = Decimal(15)
COST_TARGET_FROM = 12


@dataclass(frozen=True)
class Machine:
    """The machine, date and command of a benchmark run."""

    cpus: int
    cpu_model: str
    python: str
    pulumi: str
    system: str
    date: str
    command: str


def render_page(machine: Machine, plan_rows: list[PlanTimeRow], path_rows: list[PathRow], cost_rows: list[CostRow], plot_file: str) -> str:
    sections = [
        _header(machine, plot_file),
        _plan_section(plan_rows),
        _path_section(path_rows),
        _cost_section(cost_rows),
    ]
    return "\n\n".join(sections) + "\n"


def _header(machine: Machine, plot_file: str) -> str:
    return f"""# Benchmarks

Measured on {machine.date} with `{machine.command}`, on {machine.cpus} CPUs ({machine.cpu_model}),
{machine.system}, Python {machine.python} and the Pulumi SDK {machine.pulumi}. Every
number comes from that one run on that machine, and every ratio compares
measurements of the same run. Run the command again to measure another
machine or another version of the program.

![Plan time against the bare floor, and monthly cost per container]({plot_file})"""


def _plan_section(rows: list[PlanTimeRow]) -> str:
    if not rows:
        return "## Offline-plan time and peak memory\n\nNot measured in this run."
    repeats = len(rows[0].plan)
    lines = [
        "## Offline-plan time and peak memory",
        "",
        "The offline plan (`stacks.plan.run_plan`) of an auto-sized stack of each size: the cheapest worker",
        "layout of `stacks.sizing`, for containers of 1 vCPU, 2 GiB and 20 GiB. Next to it, the *bare floor*",
        "is a program that registers as many plain resources, of one type with two inputs, under the same",
        "mocks and monitor.",
        f"Each figure comes from {repeats} fresh process{'es' if repeats > 1 else ''} per mode. Time is the median,",
        "and peak memory the largest peak resident set size. Before the clock starts, every process plans a",
        "stack of one container once, which imports the provider SDKs, so the times leave imports out and",
        "both modes start from the same memory. *Plan's inputs replayed* is the bare program with each",
        "planned resource's own inputs as plain dictionaries, measured in the same way.",
        "",
        "| platform | containers (swarms) | worker nodes | resources | plan | bare floor | time ratio "
        "| plan's inputs replayed | plan peak memory | bare peak memory | memory ratio |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [_plan_row(row) for row in rows]

    lines += ["", f"Target at {TARGET_SIZE:,} containers: plan time within {PLAN_TIME_TARGET_RATIO}x of the bare floor, peak memory under {PLAN_MEMORY_TARGET_MB} MB.", ""]
    largest = [row for row in rows if row.containers == TARGET_SIZE]
    if not largest:
        lines.append(f"Not checked in this run: it measured no stack of {TARGET_SIZE:,} containers.")
    for row in largest:
        lines.append(f"- {row.platform.name}: {_time_verdict(row)} {_memory_verdict(row)}")

    explained = [row for row in rows if row.profile is not None]
    if explained:
        lines += ["", "Where the time goes, at the largest size measured:", ""]
        lines += [f"- {_time_explanation(row)}" for row in explained]

    baselines = ", ".join(f"{row.plan[0].warm_up_peak_rss_mib:.0f} MiB on {row.platform.name}" for row in _first_per_platform(rows))
    lines += [
        "",
        f"Peak memory includes the interpreter with every SDK loaded and the warm-up plan: {baselines} before the"
        " measured run. So at small sizes both modes show about the same peak.",
    ]
    return "\n".join(lines)


def _plan_row(row: PlanTimeRow) -> str:
    replay = f"{row.median_seconds(row.replay):.2f} s" if row.replay else "not measured"
    return (
        f"| {row.platform.name} | {row.containers:,} ({row.stack.workload.swarms}) | {row.stack.layout.nodes} x {row.stack.layout.sku} "
        f"| {row.resources} | {row.median_seconds(row.plan):.2f} s | {row.median_seconds(row.bare):.2f} s "
        f"| {row.time_ratio:.1f}x | {replay} | {row.peak_mib(row.plan):.0f} MiB | {row.peak_mib(row.bare):.0f} MiB "
        f"| {row.memory_ratio:.2f}x |"
    )


def _first_per_platform(rows: list[PlanTimeRow]) -> list[PlanTimeRow]:
    seen: dict[str, PlanTimeRow] = {}
    for row in rows:
        seen.setdefault(row.platform.name, row)
    return list(seen.values())


def _time_verdict(row: PlanTimeRow) -> str:
    ratio = row.time_ratio
    if ratio <= PLAN_TIME_TARGET_RATIO:
        return f"time met, {ratio:.1f}x the floor."
    return (
        f"time missed: {ratio:.1f}x the floor, {ratio / PLAN_TIME_TARGET_RATIO:.1f} times the {PLAN_TIME_TARGET_RATIO}x "
        f"allowed ({row.median_seconds(row.plan):.2f} s where {PLAN_TIME_TARGET_RATIO * row.median_seconds(row.bare):.2f} s would meet it)."
    )


def _memory_verdict(row: PlanTimeRow) -> str:
    # The table shows MiB, the target is in MB.
    peak_mb = row.peak_mib(row.plan) * 2**20 / 10**6
    if peak_mb < PLAN_MEMORY_TARGET_MB:
        return f"Memory met, {peak_mb:.0f} MB."
    return f"Memory missed: {peak_mb:.0f} MB, {peak_mb - PLAN_MEMORY_TARGET_MB:.0f} MB over."


def _time_explanation(row: PlanTimeRow) -> str:
    plan = row.median_seconds(row.plan)
    bare = row.median_seconds(row.bare)
    text = f"{row.platform.name}, {row.containers:,} containers: the plan takes {plan:.2f} s and the floor {bare:.2f} s."
    if row.replay:
        replay = row.median_seconds(row.replay)
        documents = "nested pod specs and cloud-init documents" if row.platform.provider == "hetzner" else "nested pod specs"
        text += (
            f" Registering the plan's own inputs takes {replay:.2f} s, so the size of the inputs ({documents})"
            f" accounts for {replay - bare:.2f} s. The other {plan - replay:.2f} s are what the real program does"
            " beyond registering them: the SDKs' typed argument classes and outputs, parsing and checking the"
            " config, the stack outputs and the cost estimate."
        )
        if replay / bare > PLAN_TIME_TARGET_RATIO:
            text += (
                f" The replayed inputs alone take {replay / bare:.1f}x the floor, so no change to the program's own"
                f" code meets the {PLAN_TIME_TARGET_RATIO}x target while the resources carry these inputs."
            )
    if row.profile:
        total = sum(row.profile.values())
        shares = sorted(row.profile.items(), key=lambda item: -item[1])
        listed = ", ".join(f"{group} {seconds / total:.0%}" for group, seconds in shares if seconds / total >= 0.005)
        text += f" Under cProfile, the functions' own time splits into: {listed}."
    return text


def _path_section(rows: list[PathRow]) -> str:
    lines = [
        "## Provisioning critical path",
        "",
        "The longest chain of resources that wait for each other, from an empty account until the first",
        "container is reachable over SSH. That takes one swarm's StatefulSet, the SSH entry's Deployment and",
        "Service, and the cloud load balancer with the resources that attach it. The chain is read from the",
        "offline plan. A resource waits for the resources whose outputs it takes, for its `depends_on`, for",
        "its explicit provider (the Kubernetes provider waits for the kubeconfig) and for a custom-resource",
        "parent. Component parents delay nothing. Each resource counts as one step, so the length counts",
        "steps, not minutes: a server that boots K3s and a ConfigMap weigh the same. The graph also leaves",
        "out waits that no dependency names: `pulumi up` waits for a StatefulSet's containers to become",
        "ready, which needs worker nodes (on DOKS, the node pool). Names leave out the stack's prefix,",
        "`swarm-<stack>-`. Stacks are auto-sized as above.",
        "",
        "| platform | containers (swarms) | length | chain |",
        "|---|---|---|---|",
    ]
    for row in rows:
        chain = " → ".join(row.short_names)
        lines.append(f"| {row.platform.name} | {row.containers} ({row.workload.swarms}) | {len(row.path.chain)} | {chain} |")
    lines += ["", "Target: the length stays the same from the smallest size to the largest.", ""]
    by_platform: dict[str, list[PathRow]] = {}
    for row in rows:
        by_platform.setdefault(row.platform.name, []).append(row)
    for platform, platform_rows in by_platform.items():
        lengths = {row.containers: len(row.path.chain) for row in platform_rows}
        if len(lengths) < 2:
            lines.append(f"- {platform}: not checked, only {next(iter(lengths))} containers measured.")
        elif len(set(lengths.values())) == 1:
            lines.append(f"- {platform}: met, {next(iter(lengths.values()))} steps at " + " and ".join(str(size) for size in lengths) + " containers.")
        else:
            lines.append(f"- {platform}: missed, " + ", ".join(f"{length} steps at {size}" for size, length in lengths.items()) + ".")
    return "\n".join(lines)


def _money(amount: Decimal, currency: str) -> str:
    return f"{amount:,.2f} {currency}"


def _priced(layout: PricedLayout, currency: str) -> str:
    if layout.unpriced:
        return f"≥ {_money(layout.monthly, currency)} (without the {layout.unpriced} load balancer, which the catalog has no price for)"
    return _money(layout.monthly, currency)


def _over(row: CostRow, layout: PricedLayout) -> str:
    sign = "≥ " if layout.unpriced else ""
    return f"{sign}{row.over_bound(layout.monthly):.1f}%"


def _cost_section(rows: list[CostRow]) -> str:
    lines = [
        "## Monthly cost of reference workloads",
        "",
        "One swarm of containers with 1 vCPU, 2 GiB and a 20 GiB workspace each, priced as a whole stack by",
        "`stacks.cost_estimate.estimate` (control plane, load balancer, IPv4 addresses, volumes and nodes),",
        "in the provider's currency, without VAT. *Auto-sized* is the layout of `stacks.sizing.cheapest_layout`.",
        "*Hand-picked* is the example stack's worker type (cx33 from Pulumi.dev.yaml, s-4vcpu-8gb from",
        "Pulumi.prod.yaml) at the fewest nodes that pass the capacity check. The *lower bound* is",
        "`stacks.sizing.compute_lower_bound` for the worker nodes plus every cost line that belongs to no",
        "worker node. A Hetzner worker's own IPv4 address counts as part of that worker. The *per-container",
        "bound* is a tighter lower bound: the containers times the lowest price per container of any node",
        "type, counting the whole containers that one node takes after its system reserve and volume limit.",
        "",
        "| platform | containers | lower bound | per-container bound | auto-sized layout | auto-sized | over lower bound "
        "| hand-picked layout | hand-picked | over lower bound |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row.platform.name} | {row.containers} | {_money(row.lower_bound, row.currency)} "
            f"| {_money(row.per_container_bound, row.currency)} "
            f"| {row.auto.stack.layout.nodes} x {row.auto.stack.layout.sku} | {_priced(row.auto, row.currency)} | {_over(row, row.auto)} "
            f"| {row.hand.stack.layout.nodes} x {row.hand.stack.layout.sku} | {_priced(row.hand, row.currency)} | {_over(row, row.hand)} |"
        )
    lines += ["", f"Target: auto-sized within {COST_TARGET_PERCENT}% of the lower bound from {COST_TARGET_FROM} containers on.", ""]
    checked = [row for row in rows if row.containers >= COST_TARGET_FROM]
    if not checked:
        lines.append(f"Not checked in this run: it priced no workload of {COST_TARGET_FROM} containers or more.")
    for row in checked:
        lines.append(f"- {_cost_verdict(row)}")
    return "\n".join(lines)


def _cost_verdict(row: CostRow) -> str:
    over = row.over_bound(row.auto.monthly)
    where = f"{row.platform.name}, {row.containers} containers"
    if over <= COST_TARGET_PERCENT:
        return f"{where}: met, {over:.1f}% over the lower bound."
    return (
        f"{where}: missed by {over - COST_TARGET_PERCENT:.1f} points ({over:.1f}% over the lower bound). "
        + _bound_explanation(row)
        + " "
        + _rounding_explanation(row)
    )


def _bound_explanation(row: CostRow) -> str:
    """Explain why no layout reaches the lower bound: which prices it combines, and what one node really takes."""
    per_vcpu, per_gib = row.cheapest_per_unit
    slot = row.slot
    if per_vcpu.sku == per_gib.sku:
        prices = f"The lower bound prices CPU and memory at {per_vcpu.sku}'s price per vCPU and per GiB, as if all of its size were free for containers."
    else:
        prices = (
            f"The lower bound prices CPU at {per_vcpu.sku}'s {per_vcpu.monthly / per_vcpu.vcpus:.2f} {row.currency} per vCPU"
            f" and memory at {per_gib.sku}'s {per_gib.monthly / per_gib.memory_gb:.2f} {row.currency} per GiB, two different"
            " types, but each container needs its CPU and memory on one node."
        )
    takes = (
        f"The cheapest node per container is {slot.price.sku} at {slot.per_container:.2f} {row.currency} per container: it takes"
        f" {slot.per_node} after its system reserve and its limit of {slot.volume_limit} volumes, where its size alone"
        f" would fit {slot.per_node_by_size}."
    )
    return (
        f"{prices} {takes} At that price the stack costs at least {_money(row.per_container_bound, row.currency)}"
        f" (the per-container bound), {row.over_bound(row.per_container_bound):.1f}% over the lower bound."
    )


def _rounding_explanation(row: CostRow) -> str:
    rounding = (row.auto.monthly / row.per_container_bound - 1) * 100
    if rounding < Decimal("0.05"):
        return "The auto-sized stack costs no more than the per-container bound, so no layout of the candidate node types costs less."
    if row.platform.provider == "hetzner":
        causes = "rounding up to whole nodes and the SSH entry's jump host"
    else:
        causes = "rounding up to whole nodes"
    return f"The auto-sized stack costs {rounding:.1f}% more than that, from {causes}."
