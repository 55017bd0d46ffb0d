"""One log line per distinct error per interval, for long-running commands.

A Kafka client whose broker is down reports every reconnection attempt
(librdkafka retries with its own backoff, from 100 ms), so a consumer left
running against a dead broker would fill its log with the same two lines.
`OncePer` lets a line through once per `seconds` per distinct text (the
durations librdkafka puts in it, "after 0ms", and the client's number,
"rdkafka#consumer-3", do not make it distinct) and says how many it held
back when the line next comes through. `KafkaErrorLog` is the Kafka
clients' error callback built on it.
"""

import logging
import re
import threading
import time

# What varies between two reports of the same failure: durations ("after 0ms") and the client's number.
_VARYING = re.compile(r"\b\d+(\.\d+)?\s*ms\b|(?<=#)(consumer|producer|admin)-\d+")


class OncePer(logging.Filter):
    """A filter (for a logger or a handler) and a plain predicate (`allow`)."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds
        self._last: dict[str, tuple[float, int]] = {}  # text -> (when it last went through, held back since)
        self._lock = threading.Lock()  # librdkafka calls back from its own threads

    def allow(self, text: str) -> tuple[bool, int]:
        """Whether `text` may be logged now, and how many like it were held back since it last was."""
        key = _VARYING.sub("", text)
        now = time.monotonic()
        with self._lock:
            last, held = self._last.get(key, (None, 0))
            if last is not None and now - last < self.seconds:
                self._last[key] = (last, held + 1)
                return False, 0
            self._last[key] = (now, 0)
            return True, held

    def filter(self, record: logging.LogRecord) -> bool:
        allowed, held = self.allow(record.getMessage())
        if allowed and held:
            record.msg = f"{record.getMessage()} ({held} more like it since the last one)"
            record.args = ()
        return allowed


class KafkaErrorLog:
    """librdkafka's `error_cb` for every Kafka client of the project.

    librdkafka retries broker outages itself and reports them here; without a
    callback they would go to stderr unformatted. Each distinct error is
    logged as a warning, `<prefix>: <error>`, at most once per `seconds`: the
    caller decides what is fatal (undelivered alerts, a flush that times out).
    """

    def __init__(self, logger: logging.Logger, prefix: str = "Kafka", seconds: float = 60.0) -> None:
        self.logger = logger
        self.prefix = prefix
        self._errors = OncePer(seconds)

    def __call__(self, error: object) -> None:
        allowed, held = self._errors.allow(str(error))
        if allowed:
            more = f" ({held} more like it since the last one)" if held else ""
            self.logger.warning("%s: %s%s", self.prefix, error, more)
