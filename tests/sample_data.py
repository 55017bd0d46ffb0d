"""Put the ELAsTiCC sample into the test database for the alert tests.

The rows are the loader's oracle, `../shared/elasticc/sample/expected/*.csv`,
COPYed into the parent tables (so the row-count triggers fire). Using the
oracle rather than the SNANA loader keeps the alert tests about alerts: a
loader bug shows up in the loader's own tests, not as a golden-vector diff here.
"""

from __future__ import annotations

import csv
from pathlib import Path

from django.db import connection

# table, CSV file; CSV columns are the table's with `_id` written `id`.
SAMPLE_TABLES: tuple[tuple[str, str], ...] = (
    ("elasticc_diaobject", "ppdbdiaobject.csv"),
    ("elasticc_diasource", "ppdbdiasource.csv"),
    ("elasticc_diaforcedsource", "ppdbdiaforcedsource.csv"),
    ("elasticc_diaalert", "ppdbalert.csv"),
)


def expected_dir(shared_dir: Path) -> Path:
    return shared_dir / "elasticc" / "sample" / "expected"


def load_sample(shared_dir: Path) -> dict[str, int]:
    """COPY the sample rows; returns rows loaded per table."""
    loaded: dict[str, int] = {}
    with connection.cursor() as cursor:
        for table, filename in SAMPLE_TABLES:
            path = expected_dir(shared_dir) / filename
            with path.open(newline="") as fh:
                header = next(csv.reader(fh))
            columns = ", ".join(name.replace("_id", "id") for name in header)
            sql = f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv, HEADER true)"
            with cursor.cursor.copy(sql) as copy, path.open("rb") as fh:
                while chunk := fh.read(1 << 16):
                    copy.write(chunk)
            loaded[table] = cursor.cursor.rowcount
    return loaded
