"""JSON shapes of the follow-up answers (README, "Follow-up coordination"), from selector rows.

A light curve comes out of PostgreSQL as JSON (`selectors._light_curves`)
and is embedded here as it is, so a large answer is assembled from a few
strings per object and streamed chunk by chunk, never built from Python
floats (525,000 points took ~1 s that way; bench/followup.py).
"""

from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from elasticc.followup.selectors import FLUX_ZEROPOINT, HOST_COLUMNS, PHOTOMETRY_COLUMNS

OBJECT_KEYS = ("objectid", "ra", "dec", "zp", "redshift", "sncode")


def _object(row: dict, *, include_hostinfo: bool) -> dict[str, Any]:
    data = {
        "objectid": row["objectid"],
        "ra": row["ra"],
        "dec": row["dec"],
        "zp": FLUX_ZEROPOINT,
        "redshift": row["redshift"],
        "sncode": row["sncode"],
    }
    if include_hostinfo:
        data.update((key, row[key]) for key in HOST_COLUMNS)
    return data


def _photometry(row: dict) -> bytes:
    """`"mjd":[...],"band":[...],...` of one object, from its JSON bytes."""
    return b",".join(b'"%s":%s' % (key.encode(), row[key]) for key in PHOTOMETRY_COLUMNS)


def _object_json(row: dict, *, return_format: int, include_hostinfo: bool) -> bytes:
    head = orjson.dumps(_object(row, include_hostinfo=include_hostinfo))[:-1]
    if return_format == 0:
        return head + b',"photometry":{' + _photometry(row) + b"}}"
    return head + b"," + _photometry(row) + b"}"


def _columns_json(rows: list[dict], *, include_hostinfo: bool) -> bytes:
    """Format 2: one dict of columns, each a list with one entry per object."""
    objects = [_object(row, include_hostinfo=include_hostinfo) for row in rows]
    keys = [*OBJECT_KEYS, *(HOST_COLUMNS if include_hostinfo else ())]
    scalars = orjson.dumps({key: [obj[key] for obj in objects] for key in keys})[:-1]
    photometry = b",".join(
        b'"%s":[%s]' % (key.encode(), b",".join(row[key] for row in rows)) for key in PHOTOMETRY_COLUMNS
    )
    return scalars + b"," + photometry + b"}"


def light_curves_json(chunks: Iterable[list[dict]], *, return_format: int, include_hostinfo: bool) -> Iterator[bytes]:
    """The answer `{"status": "ok", "diaobject": ...}` as byte chunks, one per
    chunk of rows. Format 0: objects with a `photometry` dict; 1: photometry
    keys at the top level of each object; 2: one dict of columns (a list per
    key, one entry per object), ready for `pandas.DataFrame(...)`; format 2
    needs every row for its first column, so it comes as one chunk."""
    yield b'{"status":"ok","diaobject":'
    if return_format == 2:
        yield _columns_json([row for chunk in chunks for row in chunk], include_hostinfo=include_hostinfo)
    else:
        separator = b"["
        for chunk in chunks:
            yield separator + b",".join(
                _object_json(row, return_format=return_format, include_hostinfo=include_hostinfo) for row in chunk
            )
            separator = b","
        yield b"[]" if separator == b"[" else b"]"
    yield b"}"
