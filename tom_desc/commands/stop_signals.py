"""SIGTERM/SIGINT as a stop request for long-running commands.

Kafka consumers, the alert sender and the long-query runner finish their
current batch when asked to stop (a Kubernetes rollout sends SIGTERM, a
terminal Ctrl-C sends SIGINT), so neither signal may kill them mid-batch.
The previous handlers come back when the block ends, so a command run from
a test or another command leaves the process as it found it.
"""

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextmanager
def stop_requested_by_signals() -> Iterator[threading.Event]:
    """An event that SIGTERM or SIGINT sets while the block runs."""
    stop = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in STOP_SIGNALS}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
