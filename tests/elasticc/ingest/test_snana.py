"""SNANA loading against the oracle in ../shared/elasticc/sample/expected."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from astropy.io import fits
from django.db import connection

from elasticc.ingest.bulk_copy import LOAD_ORDER
from elasticc.ingest.snana import load_snana_dirs
from elasticc.read.counts import row_counts
from tests.manage_py import run_manage

pytestmark = pytest.mark.django_db

BASE_DIR = Path(__file__).resolve().parents[3]
TABLES = list(LOAD_ORDER)
SAMPLE_COUNTS = {
    "elasticc_diaobject": 346,
    "elasticc_diasource": 1862,
    "elasticc_diaalert": 1862,
    "elasticc_diaforcedsource": 52172,
    "elasticc_diatruth": 52172,
    "elasticc_diaobjecttruth": 346,
}
# Columns of the oracle CSVs named like the original tables.
RENAMES = {
    "diaobject_id": "diaobjectid",
    "diasource_id": "diasourceid",
    "diaforcedsource_id": "diaforcedsourceid",
    "alert_id": "alertid",
}


def _model_dirs(sample_snana_dir: Path) -> list[Path]:
    return sorted(p for p in sample_snana_dir.iterdir() if p.is_dir())


def _db_frame(table: str, columns: list[str], key: str) -> pd.DataFrame:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY {key}")
        rows = cursor.fetchall()
    return pd.DataFrame(rows, columns=columns)


def _assert_matches(table: str, expected_csv: Path, key: str) -> None:
    expected = pd.read_csv(expected_csv, keep_default_na=False, na_values=[""]).rename(columns=RENAMES)
    # The oracle's alerts were streamed once; a loaded alert is unsent (NULL).
    expected = expected.drop(columns=["alertsenttimestamp"], errors="ignore")
    expected = expected.sort_values(key).reset_index(drop=True)
    got = _db_frame(table, list(expected.columns), key)
    assert len(got) == len(expected), f"{table}: {len(got)} rows, expected {len(expected)}"
    for column in expected.columns:
        want, have = expected[column], got[column]
        if column == "isddf":
            assert list(have) == [v == "t" for v in want], column
        elif column in {"simversion", "filtername"}:
            assert list(have.astype(str)) == list(want.astype(str)), column
        elif want.dtype.kind in "iu" and column.endswith("id"):
            np.testing.assert_array_equal(have.astype(np.int64), want.astype(np.int64), err_msg=column)
        else:
            # Agreement at float32 precision: the float32 roundings are equal.
            np.testing.assert_array_equal(
                have.astype(np.float64).astype(np.float32),
                want.astype(np.float64).astype(np.float32),
                err_msg=f"{table}.{column}",
            )


@pytest.fixture
def loaded_sample(sample_snana_dir):
    report = load_snana_dirs(dirs=_model_dirs(sample_snana_dir))
    assert report.files_failed == []
    return report


def test_sample_loads_exactly_the_expected_rows(loaded_sample, shared_dir):
    assert {t: loaded_sample.counts[t] for t in TABLES} == SAMPLE_COUNTS
    assert row_counts(TABLES) == SAMPLE_COUNTS
    expected = shared_dir / "elasticc" / "sample" / "expected"
    _assert_matches("elasticc_diaobject", expected / "ppdbdiaobject.csv", "diaobjectid")
    _assert_matches("elasticc_diasource", expected / "ppdbdiasource.csv", "diasourceid")
    _assert_matches("elasticc_diaforcedsource", expected / "ppdbdiaforcedsource.csv", "diaforcedsourceid")
    _assert_matches("elasticc_diaalert", expected / "ppdbalert.csv", "alertid")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM elasticc_diaalert WHERE alertsenttimestamp IS NOT NULL")
        assert cursor.fetchone()[0] == 0
    _assert_matches("elasticc_diaobjecttruth", expected / "diaobjecttruth.csv", "diaobjectid")


@pytest.mark.slow
def test_per_epoch_truth_follows_phot_rows(loaded_sample):
    with connection.cursor() as cursor:
        # Every forced source has a truth row with the same id and time, and
        # detect is true exactly for the sources.
        cursor.execute(
            """
            SELECT count(*) FILTER (WHERE t.mjd <> f.midpointtai),
                   count(*) FILTER (WHERE t.detect <> (s.diasourceid IS NOT NULL)),
                   count(*) FILTER (WHERE t.gentype IS DISTINCT FROM ot.gentype)
            FROM elasticc_diaforcedsource f
            JOIN elasticc_diatruth t USING (diaobjectid)
            LEFT JOIN elasticc_diasource s ON s.diasourceid = f.diaforcedsourceid
            JOIN elasticc_diaobjecttruth ot ON ot.diaobjectid = f.diaobjectid
            WHERE t.diasourceid = f.diaforcedsourceid
            """
        )
        assert cursor.fetchone() == (0, 0, 0)
        cursor.execute("SELECT count(*), count(genmag) FROM elasticc_diatruth")
        assert cursor.fetchone() == (52172, 52172)


def test_reload_adds_nothing(loaded_sample, sample_snana_dir):
    again = load_snana_dirs(dirs=_model_dirs(sample_snana_dir))
    assert again.files_failed == []
    assert again.rows == 0
    assert row_counts(TABLES) == SAMPLE_COUNTS


def test_dry_run_writes_nothing(sample_snana_dir):
    report = load_snana_dirs(dirs=_model_dirs(sample_snana_dir), dry_run=True)
    assert report.counts["elasticc_diaforcedsource"] == 52172
    assert row_counts(TABLES) == dict.fromkeys(TABLES, 0)


def _copy_model_dir(sample_snana_dir: Path, tmp_path: Path, name: str) -> Path:
    source = sample_snana_dir / name
    target = tmp_path / name
    shutil.copytree(source, target)
    for path in target.iterdir():
        path.chmod(0o644)
    return target


def test_truncated_fits_refuses_its_model_directory_others_load(sample_snana_dir, tmp_path):
    model = _copy_model_dir(sample_snana_dir, tmp_path, "ELASTICC2_TRAIN_01_1percent_KN_K17")
    phot = sorted(model.glob("*_PHOT.FITS.gz"))[0]
    head = Path(str(phot).replace("_PHOT.", "_HEAD."))
    # The uncompressed file cut in the middle of its table.
    raw = gzip.decompress(phot.read_bytes())
    phot.unlink()
    truncated = phot.with_suffix("")
    truncated.write_bytes(raw[: len(raw) - 5000])
    snids = [int(s) for s in fits.getdata(head, 1)["SNID"]]
    good = _copy_model_dir(sample_snana_dir, tmp_path, "ELASTICC2_TRAIN_01_1percent_Mdwarf-flare")
    report = load_snana_dirs(dirs=[model, good])
    assert [Path(f).name for f, _ in report.files_failed] == [truncated.name]
    assert "truncated" in report.files_failed[0][1]
    assert f"nothing of {model.name} was loaded" in report.files_failed[0][1]
    with connection.cursor() as cursor:
        for table in ("elasticc_diaobject", "elasticc_diaobjecttruth", "elasticc_diaforcedsource"):
            cursor.execute(f"SELECT count(*) FROM {table} WHERE diaobjectid = ANY(%s)", [snids])
            assert cursor.fetchone()[0] == 0, table
    # A model loads whole or not at all: none of the bad directory, all of the good one.
    assert report.counts["elasticc_diaobject"] == sum(len(fits.getdata(h, 1)) for h in good.glob("*_HEAD.FITS.gz"))


def test_truncated_gzip_rejected(sample_snana_dir, tmp_path):
    model = _copy_model_dir(sample_snana_dir, tmp_path, "ELASTICC2_TRAIN_01_1percent_Mdwarf-flare")
    head = sorted(model.glob("*_HEAD.FITS.gz"))[0]
    head.write_bytes(head.read_bytes()[:1500])
    report = load_snana_dirs(dirs=[model])
    assert len(report.files_failed) == 1
    assert report.files_failed[0][0] == str(head)
    assert report.counts["elasticc_diaobject"] == 0


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_command_reports_bad_file_and_exits_nonzero(sample_snana_dir, tmp_path, subprocess_env):
    model = _copy_model_dir(sample_snana_dir, tmp_path, "ELASTICC2_TRAIN_01_1percent_Mdwarf-flare")
    good = _copy_model_dir(sample_snana_dir, tmp_path, "ELASTICC2_TRAIN_01_1percent_KN_K17")
    bad = sorted(model.glob("*_PHOT.FITS.gz"))[0]
    bad.write_bytes(b"not a fits file at all")
    result = run_manage(subprocess_env, "load_snana_fits", str(model), str(good))
    assert result.returncode != 0
    assert bad.name in result.stderr
    assert "objects" in result.stdout
    assert "rows/s" in result.stdout
    assert row_counts(["elasticc_diaobject"])["elasticc_diaobject"] > 0


def test_demo_data_loads_the_sample(sample_snana_dir):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("load_demo_data", sample_dir=sample_snana_dir, stdout=out)
    assert "ELAsTiCC2 SNANA sample" in out.getvalue()
    assert row_counts(TABLES) == SAMPLE_COUNTS


def test_demo_data_default_is_the_shipped_sample():
    """Without --sample-dir: the ELAsTiCC2 sample shipped in demo/snana (no
    ../shared needed), 346 objects."""
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("load_demo_data", stdout=out)
    assert f"ELAsTiCC2 SNANA sample from {BASE_DIR / 'demo' / 'snana'}" in out.getvalue()
    assert row_counts(TABLES) == SAMPLE_COUNTS
    assert SAMPLE_COUNTS["elasticc_diaobject"] == 346


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_parallel_workers_load_the_same_rows(sample_snana_dir):
    report = load_snana_dirs(dirs=_model_dirs(sample_snana_dir), workers=2)
    assert report.files_failed == []
    assert {t: report.counts[t] for t in TABLES} == SAMPLE_COUNTS
    assert row_counts(TABLES) == SAMPLE_COUNTS
    again = load_snana_dirs(dirs=_model_dirs(sample_snana_dir), workers=2)
    assert again.rows == 0
    assert row_counts(TABLES) == SAMPLE_COUNTS


def test_zeropoint_detect_bit_and_simversion_options(sample_snana_dir):
    model = sample_snana_dir / "ELASTICC2_TRAIN_01_1percent_Mdwarf-flare"
    report = load_snana_dirs(dirs=[model], zeropoint=27.5, detect_bit=0, simversion="test-sim")
    assert report.files_failed == []
    assert report.counts["elasticc_diasource"] == 0  # no PHOTFLAG bit selected: no detections
    assert report.counts["elasticc_diaalert"] == 0
    head_path = next(p for p in sorted(model.glob("*_HEAD.FITS.gz")) if fits.getheader(p, 1)["NAXIS2"] > 0)
    head = fits.getdata(head_path, 1)
    phot = fits.getdata(str(head_path).replace("_HEAD.", "_PHOT."), 1)
    snid = int(head["SNID"][0])
    rows = slice(head["PTROBS_MIN"][0] - 1, head["PTROBS_MAX"][0])
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT psflux, psfluxerr FROM elasticc_diaforcedsource WHERE diaobjectid = %s ORDER BY diaforcedsourceid",
            [snid],
        )
        flux, err = np.array(cursor.fetchall()).T
        cursor.execute("SELECT DISTINCT simversion FROM elasticc_diaobject")
        assert cursor.fetchall() == [("test-sim",)]
    # Zero point 27.5 keeps FLUXCAL as it is.
    np.testing.assert_array_equal(flux.astype(np.float32), phot["FLUXCAL"][rows].astype(np.float32))
    np.testing.assert_array_equal(err.astype(np.float32), phot["FLUXCALERR"][rows].astype(np.float32))


def test_a_corrupt_dump_refuses_its_whole_directory(sample_snana_dir, tmp_path):
    # Loading the pairs without their object truth would be for good: a
    # re-run with a good DUMP adds nothing to objects that exist.
    model = _copy_model_dir(sample_snana_dir, tmp_path, "ELASTICC2_TRAIN_01_1percent_KN_K17")
    dump = model / f"{model.name}.DUMP"
    lines = dump.read_text().splitlines()
    cut = next(i for i, line in enumerate(lines) if line.startswith("SN:"))
    dump.write_text("\n".join([*lines[: cut + 1], "SN: 1 2", *lines[cut + 1 :]]))
    snids = [int(s) for head in model.glob("*_HEAD.FITS.gz") for s in fits.getdata(head, 1)["SNID"]]
    report = load_snana_dirs(dirs=[model])
    ((path, why),) = report.files_failed
    assert path == str(dump)
    assert f"nothing of {model.name} was loaded" in why
    assert report.files_loaded == []
    with connection.cursor() as cursor:
        for table in ("elasticc_diaobject", "elasticc_diaobjecttruth", "elasticc_diaforcedsource"):
            cursor.execute(f"SELECT count(*) FROM {table} WHERE diaobjectid = ANY(%s)", [snids])
            assert cursor.fetchone()[0] == 0, table
