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
        return "from zero" if after else "0%"
    return f"{(after - before) / before * 100:+.1f}%"


def change_text(diff: StackDiff) -> str:
    """Describe a stack's cost change, as a range when autoscaling pools make the cost one."""
    values = cost_change(diff, CURRENCY)
    if values is None or diff.status == "failed":
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


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _resources(diff: StackDiff) -> str:
    if diff.status == "failed":
        return "plan failed"
    labels = {"added": "stack added, ", "removed": "stack removed, ", "unchanged": "no changes"}
    if diff.status == "unchanged":
        return labels["unchanged"]
    text = (
        f"{labels.get(diff.status, '')}{len(diff.creates)} to create, {len(diff.in_place_updates)} to update, "
        f"{len(diff.replacements)} to replace, {len(diff.deletes)} to delete"
    )
    return text


def headline(diffs: list[StackDiff]) -> str:
    """Summarise the total monthly cost change over all stacks in one sentence."""
    if not diffs:
        return "No stacks found."
    failed = [diff for diff in diffs if diff.status == "failed"]
    changes = {diff.stack: cost_change(diff, CURRENCY) for diff in diffs if diff.status != "failed"}
    unpriced = [diff for diff in diffs if diff.stack in changes and changes[diff.stack] is None]
    known = [values for values in changes.values() if values is not None]
    before = (sum((values[0] for values in known), Decimal(0)), sum((values[1] for values in known), Decimal(0)))
    after = (sum((values[2] for values in known), Decimal(0)), sum((values[3] for values in known), Decimal(0)))
    changed = [diff for diff in diffs if diff.status != "unchanged"]

    if not changed:
        sentence = f"No infrastructure changes in {_plural(len(diffs), 'stack')}; the estimated monthly cost stays {money_range(before, CURRENCY)}."
    elif before == after:
        sentence = (
            f"This change keeps the estimated monthly cost of the priced stacks at {money_range(after, CURRENCY)}, "
            f"with changes in {len(changed)} of {_plural(len(diffs), 'stack')}."
        )
    else:
        low, high = after[0] - before[0], after[1] - before[1]
        moves = f"{_signed(low)} ({_percent(before[0], after[0])})"
        if low != high:
            moves += f" at the low end and {_signed(high)} ({_percent(before[1], after[1])}) at the high end"
        sentence = (
            f"This change moves the estimated monthly cost of the priced stacks by {moves}, from "
            f"{money_range(before, CURRENCY)} to {money_range(after, CURRENCY)}, with changes in "
            f"{len(changed)} of {_plural(len(diffs), 'stack')}."
        )
    if failed:
        sentence += f" {_plural(len(failed), 'stack')} failed to plan: {', '.join(diff.stack for diff in failed)}."
    if unpriced:
        sentence += f" {_plural(len(unpriced), 'stack')} could not be priced: {', '.join(diff.stack for diff in unpriced)}."
    return sentence


def _markdown_code(text: str) -> str:
    """Quote a value as Markdown code, so that HTML, mentions and table pipes in it stay plain text."""
    return "`" + text.replace("`", "'").replace("|", "\\|") + "`"


def _details(diff: StackDiff, markdown: bool) -> list[str]:
    lines: list[str] = []
    code = _markdown_code if markdown else (lambda text: text)
    bullet = "- " if markdown else "  "
    for message in diff.errors:
        lines.append(f"{bullet}error: {message}")
    for change in diff.creates:
        lines.append(f"{bullet}+ create {code(change.type)} {change.name}")
    for change in diff.deletes:
        note = f" ({change.note})" if change.note else ""
        lines.append(f"{bullet}- delete {code(change.type)} {change.name}{note}")
    for update in diff.updates:
        if update.ignored:
            verb = "~ unchanged"
        elif update.replaces:
            verb = "+- replace"
        else:
            verb = "~ update"
        lines.append(f"{bullet}{verb} {code(update.type)} {update.name}")
        for change in update.changes:
            effect = {"replaces": " (forces a replacement)", "ignored": " (ignored after creation)"}.get(change.effect, "")
            lines.append(f"  {bullet}{code(change.path)}: {code(change.before)} -> {code(change.after)}{effect}")
    return lines


_STACK_FILES_NOTE = (
    "A stack file that is added or removed creates or destroys nothing by itself: "
    "deploy.yml runs `pulumi up` only for the stacks in its matrix, and a stack is destroyed with `pulumi destroy`."
)


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
    if any(diff.status in ("added", "removed") for diff in diffs):
        lines += ["", _STACK_FILES_NOTE]
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
    if any(diff.status in ("added", "removed") for diff in diffs):
        lines += ["", _STACK_FILES_NOTE]
    lines += ["", f"Plans of {base} and {head}; prices from the catalog of {catalog.updated_on}, EUR without VAT."]
    return "\n".join(lines) + "\n"


def render(diffs: list[StackDiff], catalog: Catalog, base: str, head: str, markdown: bool) -> str:
    return render_markdown(diffs, catalog, base, head) if markdown else render_text(diffs, catalog, base, head)
