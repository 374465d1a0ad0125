"""Render stack costs as a terminal table, JSON or Markdown, one stack or several side by side."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.table import Table

from stacks.catalog import Catalog
from stacks.cost import CATEGORIES, StackCost

_SYMBOLS = {"EUR": "€", "USD": "$"}


def money(amount: Decimal, currency: str) -> str:
    return f"{_SYMBOLS[currency]}{amount:,.2f}"


def unit_price(amount: Decimal, currency: str) -> str:
    """Format a unit price with the cents, or with four decimals for prices below one cent per unit."""
    if amount == amount.quantize(Decimal("0.01")):
        return money(amount, currency)
    return f"{_SYMBOLS[currency]}{amount:,.4f}"


def money_range(low_high: tuple[Decimal, Decimal], currency: str) -> str:
    low, high = low_high
    if low == high:
        return money(low, currency)
    return f"{money(low, currency)} - {money(high, currency)}"


def _line_amount(line) -> str:
    return money_range((line.monthly_low, line.monthly_high), line.currency)


def _quantity(line) -> str:
    low, high = line.quantity_low, line.quantity_high
    text = f"{low:f}" if low == high else f"{low:f}-{high:f}"
    return f"{text} GB" if line.unit == "gb-month" else text


def _summary_rows(costs: list[StackCost]) -> list[tuple[str, list[str]]]:
    # Subtotals in the currency each provider bills in, so that they add up
    # to the total in that currency exactly; totals follow in both currencies.
    rows = [("platform", [cost.platform for cost in costs])]
    for category in CATEGORIES:
        rows.append((category, [money_range(cost.total(cost.currency, category), cost.currency) for cost in costs]))
    rows.append(("total per month (EUR)", [money_range(cost.total("EUR"), "EUR") for cost in costs]))
    rows.append(("total per month (USD)", [money_range(cost.total("USD"), "USD") for cost in costs]))
    rows.append(("containers", [str(cost.containers) for cost in costs]))
    per_container = []
    for cost in costs:
        amount = cost.per_container("EUR")
        # An existing cluster is billed to its owner, so a price per container would mislead.
        priced = amount is not None and cost.platform != "kubeconfig"
        per_container.append(money_range(amount, "EUR") if priced else "-")
    rows.append(("per container (EUR)", per_container))
    return rows


def _footer(catalog: Catalog, costs: list[StackCost]) -> list[str]:
    rate = costs[0].usd_per_eur if costs else catalog.exchange_rate.usd_per_eur
    lines = [
        f"Prices from the catalog of {catalog.updated_on}, without VAT. "
        f"Exchange rate: {rate} USD per EUR"
        + (
            f" ({catalog.exchange_rate.source}, {catalog.exchange_rate.date})"
            if rate == catalog.exchange_rate.usd_per_eur
            else " (given on the command line)"
        )
        + "."
    ]
    for cost in costs:
        lines += [f"{cost.stack}: {note}" for note in cost.notes]
    return lines


def render_text(costs: list[StackCost], catalog: Catalog, width: int = 120) -> str:
    """Render a table per stack with its lines, then the stacks side by side."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, force_terminal=False, color_system=None)

    for cost in costs:
        table = Table(title=f"{cost.stack} ({cost.platform})", title_justify="left")
        for column in ("category", "resource", "item", "quantity", "unit price", "per month"):
            table.add_column(column, justify="right" if column in ("quantity", "unit price", "per month") else "left")
        for line in cost.lines:
            table.add_row(
                line.category,
                line.resource,
                line.description,
                _quantity(line),
                unit_price(line.unit_price, line.currency),
                _line_amount(line),
            )
        if cost.lines:
            console.print(table)

    summary = Table(title="monthly cost", title_justify="left")
    summary.add_column("")
    for cost in costs:
        summary.add_column(cost.stack, justify="right")
    for label, cells in _summary_rows(costs):
        summary.add_row(label, *cells)
    console.print(summary)
    for line in _footer(catalog, costs):
        console.print(line)
    return buffer.getvalue()


def render_markdown(costs: list[StackCost], catalog: Catalog) -> str:
    """Render the side-by-side summary and each stack's lines as Markdown tables."""
    lines = ["| | " + " | ".join(cost.stack for cost in costs) + " |", "|---|" + "---:|" * len(costs)]
    for label, cells in _summary_rows(costs):
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    for cost in costs:
        lines += [
            "",
            f"<details><summary>{cost.stack}: {len(cost.lines)} billed items</summary>",
            "",
            "| category | resource | item | quantity | unit price | per month |",
            "|---|---|---|---:|---:|---:|",
        ]
        for line in cost.lines:
            lines.append(
                f"| {line.category} | {line.resource} | {line.description} | {_quantity(line)} | "
                f"{unit_price(line.unit_price, line.currency)} | {_line_amount(line)} |"
            )
        lines += ["", "</details>"]
    lines += [""] + _footer(catalog, costs)
    return "\n".join(lines) + "\n"


def as_json(costs: list[StackCost], catalog: Catalog) -> str:
    """Render the costs as JSON, amounts as strings with two decimals."""

    def pair(low_high: tuple[Decimal, Decimal]) -> dict[str, str]:
        return {"low": f"{low_high[0]:.2f}", "high": f"{low_high[1]:.2f}"}

    def quantity(low_high: tuple[Decimal, Decimal]) -> dict[str, str]:
        return {"low": f"{low_high[0]:f}", "high": f"{low_high[1]:f}"}

    stacks: list[dict[str, Any]] = []
    for cost in costs:
        stacks.append(
            {
                "stack": cost.stack,
                "platform": cost.platform,
                "containers": cost.containers,
                "lines": [
                    {
                        "category": line.category,
                        "resource": line.resource,
                        "description": line.description,
                        "sku": line.sku,
                        "quantity": quantity((line.quantity_low, line.quantity_high)),
                        "unit": line.unit,
                        "unit_price": str(line.unit_price),
                        "currency": line.currency,
                        "monthly": pair((line.monthly_low, line.monthly_high)),
                    }
                    for line in cost.lines
                ],
                "currency": cost.currency,
                "subtotals": {category: pair(cost.total(cost.currency, category)) for category in CATEGORIES},
                "total": {"EUR": pair(cost.total("EUR")), "USD": pair(cost.total("USD"))},
                "per_container_eur": pair(cost.per_container("EUR")) if cost.containers else None,
                "notes": cost.notes,
            }
        )
    document = {
        "catalog": {
            "updated_on": str(catalog.updated_on),
            "usd_per_eur": str(costs[0].usd_per_eur if costs else catalog.exchange_rate.usd_per_eur),
            "exchange_rate_date": str(catalog.exchange_rate.date),
        },
        "stacks": stacks,
    }
    return json.dumps(document, indent=2)
