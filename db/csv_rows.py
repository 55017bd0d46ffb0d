"""Counting the rows of CSV text as it streams by, without parsing it.

PostgreSQL's CSV quotes a field holding a newline or a quote and doubles the
quotes inside it, so a newline ends a row exactly when an even number of
quotes came before it in the text. Most chunks hold no quote at all and are
counted with `bytes.count` (C speed); the others by walking their quotes and
newlines.
"""

from __future__ import annotations

import re

_QUOTE_OR_NEWLINE = re.compile(rb'["\n]')


class CsvRowEnds:
    """Row ends (unquoted newlines) seen so far, across chunks."""

    def __init__(self) -> None:
        self.count = 0
        self.in_quotes = False

    def feed(self, chunk: bytes, *, limit: int | None = None) -> tuple[int, bool]:
        """Count the row ends of `chunk`; returns (offset just past the last
        row end to keep, -1 if none is in `chunk`; whether the `limit`-th row
        end overall was reached). Once it is reached, counting stops and the
        row end to keep is the one before it: the rows up to `limit` - 1."""
        last = -1
        if not self.in_quotes and b'"' not in chunk:
            n = chunk.count(b"\n")
            if limit is None or self.count + n < limit:
                self.count += n
                return (chunk.rfind(b"\n") + 1 if n else -1), False
            pos = -1
            while True:
                pos = chunk.index(b"\n", pos + 1)
                self.count += 1
                if self.count >= limit:
                    return last, True
                last = pos + 1
        for match in _QUOTE_OR_NEWLINE.finditer(chunk):
            if match.group() == b'"':
                self.in_quotes = not self.in_quotes
            elif not self.in_quotes:
                self.count += 1
                if limit is not None and self.count >= limit:
                    return last, True
                last = match.end()
        return last, False
