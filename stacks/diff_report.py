"""Render stack diffs as text or as one Markdown pull request comment."""

from __future__ import annotations

from decimal import Decimal

from stacks.catalog import Catalog
from stacks.cost_report import money_range
from stacks.diff import StackDiff, cost_change

# The first line of the comment; the workflow finds its own comment by it and
# edits that one instead of adding another on every push.
COMMENT_MARKER = "<!-- swarm-plan-diff -->"
CURRENCY = "EUR"


def _signed(amount: Decimal) -> str:
    sign = "+" if amount >= 0 else "-"
    return f"{sign}€{abs(amount):,.2f}"


def _percent(before: Decimal, after: Decimal) -> str:
    if before == 0:
        return "new" if after else "0%"
    return f"{(after - before) / before * 100:+.1f}%"


def change_text(diff: StackDiff) -> str:
    """Describe a stack's cost change, as a range when autoscaling pools make the cost one."""
    values = cost_change(diff, CURRENCY)
    if values is None:
        return "unknown"
    before_low, before_high, after_low, after_high = values
    low = f"{_signed(after_low - before_low)} ({_percent(before_low, after_low)})"
    if (before_low, after_low) == (before_high, after_high):
        return low
    return f"{low} to {_signed(after_high - before_high)} ({_percent(before_high, after_high)})"


def _cost(diff: StackDiff, side: str) -> str:
    cost = diff.cost_before if side == "before" else diff.cost_after
    present = diff.status != ("added" if side == "before" else "removed")
    if not present:
        return "-"
    if cost is None:
        return "unknown"
    return money_range(cost.total(CURRENCY), CURRENCY)


def _platform(diff: StackDiff) -> str:
    if diff.platform_before and diff.platform_after and diff.platform_before != diff.platform_after:
        return f"{diff.platform_before} -> {diff.platform_after}"
    return diff.platform_after or diff.platform_before or "-"


def _resources(diff: StackDiff) -> str:
    if diff.status == "failed":
        return "plan failed"
    labels = {"added": "stack added, ", "removed": "stack removed, ", "unchanged": "no changes"}
    if diff.status == "unchanged":
        return labels["unchanged"]
    return f"{labels.get(diff.status, '')}{len(diff.creates)} to create, {len(diff.updates)} to update, {len(diff.deletes)} to delete"


def headline(diffs: list[StackDiff]) -> str:
    """Summarise the total monthly cost change over all stacks in one sentence."""
    known = [diff for diff in diffs if cost_change(diff, CURRENCY) is not None]
    if not diffs:
        return "No stacks found."
    before_low = sum((cost_change(diff, CURRENCY)[0] for diff in known), Decimal(0))
    after_low = sum((cost_change(diff, CURRENCY)[2] for diff in known), Decimal(0))
    before_high = sum((cost_change(diff, CURRENCY)[1] for diff in known), Decimal(0))
    after_high = sum((cost_change(diff, CURRENCY)[3] for diff in known), Decimal(0))
    changed = [diff for diff in diffs if diff.status != "unchanged"]
    if not changed:
        return f"No infrastructure changes in {len(diffs)} stacks; the estimated monthly cost stays {money_range((before_low, before_high), CURRENCY)}."

    delta = after_low - before_low
    if delta > 0:
        verb = "raises"
    elif delta < 0:
        verb = "lowers"
    else:
        verb = "keeps"
    if verb == "keeps":
        sentence = f"This change keeps the estimated monthly cost at {money_range((after_low, after_high), CURRENCY)}"
    else:
        sentence = (
            f"This change {verb} the estimated monthly cost by €{abs(delta):,.2f} ({_percent(before_low, after_low)}), "
            f"from {money_range((before_low, before_high), CURRENCY)} to {money_range((after_low, after_high), CURRENCY)}"
        )
    sentence += f", over {len(changed)} of {len(diffs)} stacks."
    unknown = len(diffs) - len(known)
    if unknown:
        sentence += f" {unknown} stacks could not be priced and are left out."
    return sentence


def _details(diff: StackDiff, markdown: bool) -> list[str]:
    lines: list[str] = []
    code = (lambda text: f"`{text}`") if markdown else (lambda text: text)
    bullet = "- " if markdown else "  "
    for message in diff.errors:
        lines.append(f"{bullet}error: {message}")
    for kind, name in diff.creates:
        lines.append(f"{bullet}+ create {code(kind)} {name}")
    for kind, name in diff.deletes:
        lines.append(f"{bullet}- delete {code(kind)} {name}")
    for update in diff.updates:
        lines.append(f"{bullet}~ update {code(update.type)} {update.name}")
        for change in update.changes:
            lines.append(f"  {bullet}{code(change.path)}: {change.before} -> {change.after}")
    return lines


def render_markdown(diffs: list[StackDiff], catalog: Catalog, base: str, head: str) -> str:
    """Render one pull request comment for all stacks."""
    lines = [
        COMMENT_MARKER,
        "### Infrastructure plan diff",
        "",
        headline(diffs),
        "",
        "| stack | platform | resources | cost before | cost after | change |",
        "|---|---|---|---:|---:|---:|",
    ]
    for diff in diffs:
        lines.append(
            f"| {diff.stack} | {_platform(diff)} | {_resources(diff)} | {_cost(diff, 'before')} | "
            f"{_cost(diff, 'after')} | {change_text(diff) if diff.status != 'unchanged' else '-'} |"
        )
    for diff in diffs:
        if diff.status == "unchanged":
            continue
        lines += ["", f"<details><summary>{diff.stack}: {_resources(diff)}</summary>", ""]
        lines += _details(diff, markdown=True)
        lines += ["", "</details>"]
    lines += [
        "",
        f"Offline plans of {base} and {head}, priced with the catalog of {catalog.updated_on} "
        "(EUR, without VAT). Secrets show only whether they changed.",
    ]
    return "\n".join(lines) + "\n"


def render_text(diffs: list[StackDiff], catalog: Catalog, base: str, head: str) -> str:
    lines = [headline(diffs), ""]
    for diff in diffs:
        lines.append(
            f"{diff.stack} ({_platform(diff)}): {_resources(diff)}; cost {_cost(diff, 'before')} -> "
            f"{_cost(diff, 'after')}" + (f", {change_text(diff)}" if diff.status != "unchanged" else "")
        )
        lines += _details(diff, markdown=False)
    lines += ["", f"Plans of {base} and {head}; prices from the catalog of {catalog.updated_on}, EUR without VAT."]
    return "\n".join(lines) + "\n"


def render(diffs: list[StackDiff], catalog: Catalog, base: str, head: str, markdown: bool) -> str:
    return render_markdown(diffs, catalog, base, head) if markdown else render_text(diffs, catalog, base, head)
