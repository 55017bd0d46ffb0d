"""Benchmark: SNANA loading and synthetic generation rates (run by hand).

    .venv/bin/python bench/load.py [--copies 10] [--synthetic-objects 10000] [--db bench_load]

1. SNANA: the ELAsTiCC2 sample (../shared, 346 objects, 52k forced sources)
   rewritten as `--copies` sets of model directories with shifted SNIDs, one
   HEAD/PHOT pair per model directory and copy (as in the real simulations,
   where a file holds thousands of objects), then loaded with
   `load_snana_dirs`. Timed: the first load, and a re-load (all conflicts,
   nothing inserted).
2. Alerts: the loaded alerts written as a tarball of gzipped schemaless
   v0_9_1 alerts (as ELAsTiCC distributed them), loaded into emptied tables.
3. Synthetic: `generate_elasticc_data` for `--synthetic-objects` objects.

Also prints this machine's COPY ceiling at the time (the same forced-source
rows into an unindexed TEMP table) and the load average, since the machine
is shared. Prints a table of rows/s and forced sources/s. Target on the 2-core machine:
>= 100,000 forced sources/s for SNANA loading. The database (default
`bench_load`, created and migrated if absent) has its ELAsTiCC data tables
truncated first; never point it at production.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from bench_db import setup_django

BASE_DIR = Path(__file__).resolve().parent.parent
SAMPLE = BASE_DIR.parent / "shared" / "elasticc" / "sample" / "snana"
SNID_SHIFT = 10**7  # the sample's SNIDs are < 1e7
DATA_TABLES = (
    "elasticc_diaalert",
    "elasticc_diasource",
    "elasticc_diaforcedsource",
    "elasticc_diatruth",
    "elasticc_diaobjecttruth",
    "elasticc_diaobject",
)


def truncate() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(DATA_TABLES)} CASCADE")


def write_replicas(target: Path, copies: int) -> None:
    """`copies` sets of the sample's model directories, each model merged into
    one HEAD/PHOT pair, SNIDs shifted by copy * SNID_SHIFT."""
    import numpy as np
    from astropy.io import fits

    from elasticc.ingest.snana import _read_fits_table, find_pairs

    for model in sorted(p for p in SAMPLE.iterdir() if p.is_dir()):
        pairs, _ = find_pairs(model)
        heads = [np.array(_read_fits_table(p.head)) for p in pairs]
        phots = [np.array(_read_fits_table(p.phot)) for p in pairs]
        offset = np.cumsum([0] + [len(p) for p in phots[:-1]])
        for head, shift in zip(heads, offset, strict=True):
            head["PTROBS_MIN"] += shift
            head["PTROBS_MAX"] += shift
        head_all, phot_all = np.concatenate(heads), np.concatenate(phots)
        dump_lines = (model / f"{model.name}.DUMP").read_text().splitlines()
        for copy in range(copies):
            out = target / f"{model.name}_copy{copy:03d}"
            out.mkdir(parents=True)
            head = head_all.copy()
            snid = np.char.strip(head["SNID"].astype(str)).astype(np.int64) + copy * SNID_SHIFT
            head["SNID"] = snid.astype(str).astype(head["SNID"].dtype)
            fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU(head)]).writeto(out / "BENCH_HEAD.FITS.gz")
            fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU(phot_all)]).writeto(out / "BENCH_PHOT.FITS.gz")
            lines = []
            for line in dump_lines:
                fields = line.split()
                if fields[:1] == ["SN:"]:
                    fields[1] = str(int(fields[1]) + copy * SNID_SHIFT)
                    line = " ".join(fields)
                lines.append(line)
            (out / f"{out.name}.DUMP").write_text("\n".join(lines) + "\n")


def copy_ceiling(dirs: list[Path]) -> tuple:
    """This machine's COPY ceiling right now: the same forced-source rows
    COPYed into an unindexed, unpartitioned TEMP table (rolled back), so the
    loader's figures can be read against the load other users put on it."""
    from django.db import connection, transaction

    from elasticc.ingest.bulk_copy import _copy, arrow_table
    from elasticc.ingest.snana import _dump_file, find_pairs, read_dump, read_snana_pair

    tables = []
    for directory in dirs:
        dump = read_dump(_dump_file(directory))
        for pair in find_pairs(directory)[0]:
            columns = read_snana_pair(pair, dump=dump, simversion="bench", zeropoint=31.4, detect_bit=4096)
            tables.append(arrow_table("elasticc_diaforcedsource", columns["elasticc_diaforcedsource"]))
    rows = sum(t.num_rows for t in tables)
    start = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE bench_ceiling (LIKE elasticc_diaforcedsource)")
        for table in tables:
            _copy(cursor, "bench_ceiling", table)
        seconds = time.perf_counter() - start
        transaction.set_rollback(True)
    return (
        "COPY ceiling (TEMP table)",
        f"{rows:,} forced rows",
        f"{rows:,}",
        f"{seconds:.1f}",
        f"{rows / seconds:,.0f}",
        f"{rows / seconds:,.0f}",
    )


def alert_load(tmp: Path) -> tuple:
    """The loaded SNANA alerts as the public distribution ships them (a
    tarball of gzipped schemaless v0_9_1 alerts), loaded into emptied tables."""
    import gzip
    import io
    import tarfile

    from django.db import connection

    from elasticc.ingest.alert_files import load_alert_files
    from elasticc.stream.alert_builder import build_alert_payloads

    with connection.cursor() as cursor:
        cursor.execute("SELECT alertid FROM elasticc_diaalert ORDER BY alertid")
        alert_ids = [r[0] for r in cursor.fetchall()]
    archive = tmp / "alerts.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for start in range(0, len(alert_ids), 5000):
            for alertid, payload in build_alert_payloads(alert_ids=alert_ids[start : start + 5000]):
                data = gzip.compress(payload)
                info = tarfile.TarInfo(f"alert_{alertid}.avro.gz")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    truncate()
    start = time.perf_counter()
    report = load_alert_files(paths=[archive])
    seconds = time.perf_counter() - start
    assert not report.files_failed, report.files_failed
    alerts = report.counts["elasticc_diaalert"]
    return row(f"alert tarball load ({alerts:,} alerts, {alerts / seconds:,.0f}/s)", "v0_9_1 .tar.gz", report, seconds)


def row(name: str, size: str, report, seconds: float) -> tuple:
    forced = report.counts.get("elasticc_diaforcedsource", 0)
    return (
        name,
        size,
        f"{report.rows:,}",
        f"{seconds:.1f}",
        f"{report.rows / seconds:,.0f}",
        f"{forced / seconds:,.0f}",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=10, help="copies of the SNANA sample (default %(default)s)")
    parser.add_argument("--synthetic-objects", type=int, default=10_000, help="(default %(default)s)")
    parser.add_argument("--db", default="bench_load", help="scratch database (default %(default)s)")
    args = parser.parse_args()
    if not SAMPLE.is_dir():
        sys.exit(f"SNANA sample not found at {SAMPLE}")
    setup_django(args.db)
    from elasticc.ingest.snana import load_snana_dirs
    from elasticc.ingest.synthetic import generate_elasticc_data

    results = []
    truncate()
    with tempfile.TemporaryDirectory(prefix="bench_snana_") as tmp:
        write_replicas(Path(tmp), args.copies)
        dirs = sorted(Path(tmp).iterdir())
        size = f"{len(dirs)} dirs, {args.copies * 346:,} objects"
        start = time.perf_counter()
        first = load_snana_dirs(dirs=dirs, workers=2)
        results.append(row("SNANA load", size, first, time.perf_counter() - start))
        assert not first.files_failed, first.files_failed
        start = time.perf_counter()
        again = load_snana_dirs(dirs=dirs, workers=2)
        seconds = time.perf_counter() - start
        results.append(
            (
                "SNANA re-load (no-op)",
                size,
                f"{again.rows:,} new",
                f"{seconds:.1f}",
                "-",
                f"{first.counts['elasticc_diaforcedsource'] / seconds:,.0f} checked",
            )
        )
        results.append(copy_ceiling(dirs))
        results.append(alert_load(Path(tmp)))
    truncate()
    start = time.perf_counter()
    synthetic = generate_elasticc_data(n_objects=args.synthetic_objects, seed=1, workers=2)
    results.append(
        row("synthetic generation", f"{args.synthetic_objects:,} objects", synthetic, time.perf_counter() - start)
    )
    truncate()

    header = ("step", "data", "rows", "seconds", "rows/s", "forced sources/s")
    widths = [max(len(str(r[i])) for r in (header, *results)) for i in range(len(header))]
    for r in (header, tuple("-" * w for w in widths), *results):
        print(
            "  ".join(
                str(v).ljust(w) if i < 2 else str(v).rjust(w) for i, (v, w) in enumerate(zip(r, widths, strict=True))
            )
        )
    print(f"load average (1, 5, 15 min) at the end: {os.getloadavg()}")
    print(
        f"SNANA forced sources loaded: {first.counts['elasticc_diaforcedsource']:,}; "
        f"synthetic forced sources: {synthetic.counts['elasticc_diaforcedsource']:,}"
    )


if __name__ == "__main__":
    main()
