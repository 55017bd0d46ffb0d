"""What the benchmarks share: the load average printed beside every figure
(the machine is usually shared), a SQL helper and the timing of calls."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from typing import Any


def load_average() -> str:
    return "load average {:.1f} {:.1f} {:.1f} on {} cores".format(*os.getloadavg(), os.cpu_count())


def execute(sql: str, params: Any = None) -> list:
    """Run one statement on Django's connection; its rows, if it returns any."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def median_seconds(func: Callable, repeat: int, *args: Any, warm_up: bool = True) -> float:
    """The median of `repeat` calls of func(*args), after one untimed call
    (caches, connection, plans) unless `warm_up` is False."""
    if warm_up:
        func(*args)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func(*args)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def median_ms(func: Callable, repeat: int = 5, *args: Any) -> float:
    return median_seconds(func, repeat, *args) * 1000


def timed(label: str, func: Callable, *args: Any, unit: str = "s", **kwargs: Any) -> tuple[Any, float]:
    """Call func once and print how long it took (in s or ms); returns (result, seconds)."""
    start = time.perf_counter()
    result = func(*args, **kwargs)
    elapsed = time.perf_counter() - start
    print(f"  {label:<66} {elapsed * (1000 if unit == 'ms' else 1):10.1f} {unit}", flush=True)
    return result, elapsed
