"""PostgreSQL array literals built as one string, for `%s::bigint[]`-style casts.

Why not a Python list parameter: psycopg adapts a list element by element (a
regex check on each in text mode); the ids of a batch go about ten times
faster as one string, which the server parses in C. The alert builder, the
alert sender and broker-message storage all send their batches this way.
"""

from collections.abc import Iterable


def number_array(values: Iterable[int | float | None]) -> str:
    """Integers or floats (None -> NULL); `repr` of a float round-trips exactly through float8 input."""
    return "{" + ",".join("NULL" if v is None else repr(v) for v in values) + "}"


def text_array(values: Iterable[str]) -> str:
    """Strings, every element quoted (backslash and double quote escaped)."""
    return "{" + ",".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values) + "}"
