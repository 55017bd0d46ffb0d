"""The load loop the SNANA loader and the synthetic generator share.

Units (model directories, chunks of objects) are independent transactions; with
`workers` > 1 they run on that many threads, each with its own database
connection, so PostgreSQL uses more than one core (only outside an enclosing
transaction, i.e. from commands). Results are folded into the report in
input order, with a progress bar.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from django.db import connection
from tqdm import tqdm

from elasticc.ingest.bulk_copy import LoadReport

Unit = TypeVar("Unit")


@dataclass(frozen=True)
class UnitOutcome:
    """What loading one unit did: `counts` of rows (None when it was skipped
    as already present), the names to list as loaded, or `failed` = (name,
    reason), in which case nothing of the unit was stored."""

    counts: dict[str, int] | None = None
    loaded: tuple[str, ...] = ()
    failed: tuple[str, str] | None = None


def load_units(
    *,
    units: Sequence[Unit],
    load: Callable[[Unit], UnitOutcome],
    report: LoadReport,
    workers: int,
    desc: str,
    unit: str,
    progress: bool,
) -> LoadReport:
    """Run `load` on every unit and fold the outcomes into `report`."""

    def run(item: Unit) -> UnitOutcome:
        try:
            return load(item)
        finally:
            if threading.current_thread() is not threading.main_thread():
                connection.close()

    bar = tqdm(total=len(units), desc=desc, unit=unit, disable=not progress)
    pool = ThreadPoolExecutor(max_workers=workers) if workers > 1 else None
    outcomes = pool.map(run, units) if pool else map(run, units)
    try:
        for outcome in outcomes:
            bar.update()
            if outcome.failed is not None:
                report.files_failed.append(outcome.failed)
                continue
            if outcome.counts is not None:
                report.add(outcome.counts)
            report.files_loaded.extend(outcome.loaded)
            bar.set_postfix(forced=report.counts.get("elasticc_diaforcedsource", 0), refresh=False)
    finally:
        bar.close()
        if pool is not None:
            pool.shutdown()
    return report.finish()
