"""JSON shapes of the follow-up answers (followup.md), from selector rows.

The light-curve rows already carry their photometry as arrays (aggregated in
SQL), so shaping is a rearrangement of references, never a loop over points.
"""

from typing import Any

from elasticc.followup.selectors import FLUX_ZEROPOINT, HOST_COLUMNS

PHOTOMETRY_KEYS = ("mjd", "band", "flux", "fluxerr")
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


def light_curves(rows: list[dict], *, return_format: int, include_hostinfo: bool) -> list[dict] | dict[str, list]:
    """Format 0: objects with a `photometry` dict; 1: photometry keys at the
    top level of each object; 2: one dict of columns (a list per key, one
    entry per object), ready for `pandas.DataFrame(...)`."""
    if return_format == 0:
        return [
            {**_object(row, include_hostinfo=include_hostinfo), "photometry": {k: row[k] for k in PHOTOMETRY_KEYS}}
            for row in rows
        ]
    if return_format == 1:
        return [
            {**_object(row, include_hostinfo=include_hostinfo), **{k: row[k] for k in PHOTOMETRY_KEYS}} for row in rows
        ]
    keys = [*OBJECT_KEYS, *(HOST_COLUMNS if include_hostinfo else ()), *PHOTOMETRY_KEYS]
    columns: dict[str, list] = {key: [] for key in keys}
    for row in rows:
        for key, value in _object(row, include_hostinfo=include_hostinfo).items():
            columns[key].append(value)
        for key in PHOTOMETRY_KEYS:
            columns[key].append(row[key])
    return columns
