"""Helpers of the browser tests (the fixtures are in conftest.py): Debian's
Chromium, and reading what a page shows."""

from __future__ import annotations

from pathlib import Path

from django.db import connection

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def db_count(sql: str, params: list | None = None) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchone()[0]


def shown_count(page, selector: str) -> int:
    return int(page.locator(selector).first.get_attribute("data-count"))


def assert_plotly_svg(page, chart_id: str) -> None:
    """The Plotly div rendered its SVG (waits for the client-side plot)."""
    page.wait_for_selector(f"#{chart_id}.js-plotly-plot svg.main-svg", timeout=15_000)
