"""The synthetic generator: deterministic, plausible, and within the schema's rules."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection

from elasticc.ingest.synthetic import DEFAULT_FIRST_OBJECT_ID, generate_elasticc_data, synthetic_gentypes
from elasticc.read.counts import row_counts
from tests.manage_py import run_manage

pytestmark = pytest.mark.django_db

TABLES = {
    "elasticc_diaobject": "diaobjectid",
    "elasticc_diasource": "diasourceid",
    "elasticc_diaalert": "alertid",
    "elasticc_diaforcedsource": "diaforcedsourceid",
    "elasticc_diatruth": "diasourceid",
    "elasticc_diaobjecttruth": "diaobjectid",
}


def _one(sql: str, params=None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def _digests() -> dict[str, str]:
    """An md5 of every table's full content, in key order."""
    return {
        table: _one(f"SELECT md5(string_agg(t::text, '|' ORDER BY {key})) FROM {table} t")[0]
        for table, key in TABLES.items()
    }


def _wipe() -> None:
    with connection.cursor() as cursor:
        for table in reversed(list(TABLES)):
            cursor.execute(f"DELETE FROM {table}")


@pytest.fixture
def generated():
    report = generate_elasticc_data(n_objects=300, seed=11)
    assert report.files_failed == []
    return report


def test_counts_match_tables_and_look_like_elasticc(generated):
    counts = generated.counts
    assert row_counts(list(TABLES)) == counts
    assert counts["elasticc_diaobject"] == counts["elasticc_diaobjecttruth"] == 300
    assert counts["elasticc_diasource"] == counts["elasticc_diaalert"]
    assert counts["elasticc_diaforcedsource"] == counts["elasticc_diatruth"]
    median_forced, median_sources, min_sources = _one(
        """
        SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY nf), percentile_cont(0.5) WITHIN GROUP (ORDER BY ns),
               min(ns)
        FROM (SELECT o.diaobjectid,
                     (SELECT count(*) FROM elasticc_diaforcedsource f WHERE f.diaobjectid = o.diaobjectid) nf,
                     (SELECT count(*) FROM elasticc_diasource s WHERE s.diaobjectid = o.diaobjectid) ns
              FROM elasticc_diaobject o) c
        """
    )
    assert 100 <= median_forced <= 600  # hundreds of forced points per object
    assert 3 <= median_sources <= 150  # most objects are faint: a handful of detections
    # ELAsTiCC: about 10^7 sources for 10^8 forced sources.
    assert 0.06 <= counts["elasticc_diasource"] / counts["elasticc_diaforcedsource"] <= 0.15
    assert min_sources >= 1  # every object triggered
    assert _one("SELECT count(*) FROM elasticc_diaobject WHERE isddf")[0] > 0


def test_every_exact_class_with_a_gentype_is_covered(generated):
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT DISTINCT g.classid FROM elasticc_gentypeofclassid g
            WHERE g.gentype IS NOT NULL AND NOT EXISTS (
                SELECT 1 FROM elasticc_diaobjecttruth t WHERE t.gentype = g.gentype)
            """
        )
        assert cursor.fetchall() == []
    assert _one("SELECT count(DISTINCT gentype) FROM elasticc_diaobjecttruth")[0] == len(synthetic_gentypes())


@pytest.mark.slow
def test_schema_rules_hold(generated):
    checks = {
        "ids follow the SNANA rule": """
            SELECT count(*) FROM elasticc_diaforcedsource
            WHERE diaforcedsourceid / 100000 <> diaobjectid""",
        "a source is the forced source of its epoch": """
            SELECT count(*) FROM elasticc_diasource s LEFT JOIN elasticc_diaforcedsource f
              ON f.diaobjectid = s.diaobjectid AND f.diaforcedsourceid = s.diasourceid
            WHERE f.diaforcedsourceid IS NULL OR f.midpointtai <> s.midpointtai
               OR f.psflux <> s.psflux OR f.filtername <> s.filtername""",
        "one alert per source": """
            SELECT count(*) FROM elasticc_diasource s LEFT JOIN elasticc_diaalert a ON a.alertid = s.diasourceid
            WHERE a.alertid IS NULL OR a.diasourceid <> s.diasourceid OR a.diaobjectid <> s.diaobjectid""",
        "truth per epoch, detect = is a source": """
            SELECT count(*) FROM elasticc_diaforcedsource f
            LEFT JOIN elasticc_diatruth t ON t.diaobjectid = f.diaobjectid AND t.diasourceid = f.diaforcedsourceid
            LEFT JOIN elasticc_diasource s ON s.diasourceid = f.diaforcedsourceid
            WHERE t.diasourceid IS NULL OR t.mjd <> f.midpointtai OR t.detect <> (s.diasourceid IS NOT NULL)""",
        "truth gentype is the object's": """
            SELECT count(*) FROM elasticc_diatruth t JOIN elasticc_diaobjecttruth o USING (diaobjectid)
            WHERE t.gentype <> o.gentype""",
        "plausible photometry": """
            SELECT count(*) FROM elasticc_diaforcedsource
            WHERE NOT psfluxerr > 0 OR psfluxerr = 'NaN' OR psflux = 'NaN' OR psflux = 'Infinity'
               OR filtername NOT IN ('u','g','r','i','z','Y') OR midpointtai NOT BETWEEN 60600 AND 61700""",
        "detections are significant or the trigger": """
            SELECT count(*) FROM (
              SELECT diaobjectid, count(*) FILTER (WHERE abs(snr) < 5) weak, count(*) n
              FROM elasticc_diasource GROUP BY diaobjectid) c
            WHERE weak > 0 AND n > 1""",
        "positions on the sphere": """
            SELECT count(*) FROM elasticc_diaobject WHERE ra NOT BETWEEN 0 AND 360 OR decl NOT BETWEEN -90 AND 90""",
        "object truth detections": """
            SELECT count(*) FROM elasticc_diaobjecttruth o
            WHERE mjd_detect_first > mjd_detect_last OR mjd_detect_first <> (
                SELECT min(midpointtai) FROM elasticc_diasource s WHERE s.diaobjectid = o.diaobjectid)""",
    }
    failures = {name: _one(sql)[0] for name, sql in checks.items()}
    assert failures == dict.fromkeys(checks, 0)


def test_transients_peak_near_their_peak_mjd(generated):
    # Rise and decline: the brightest detection of an SN Ia is close to its peak time.
    near, total = _one(
        """
        SELECT count(*) FILTER (WHERE abs(b.midpointtai - o.peakmjd) < 40), count(*)
        FROM elasticc_diaobjecttruth o
        JOIN LATERAL (SELECT midpointtai FROM elasticc_diasource s WHERE s.diaobjectid = o.diaobjectid
                      ORDER BY psflux DESC LIMIT 1) b ON true
        WHERE o.gentype IN (10, 11, 12, 20, 21, 25, 26, 27)
        """
    )
    assert total > 0
    assert near >= 0.8 * total


def test_deterministic_per_seed_and_rerun_adds_nothing(generated):
    first = _digests()
    again = generate_elasticc_data(n_objects=300, seed=11)
    assert again.rows == 0
    assert again.files_failed == []
    _wipe()
    generate_elasticc_data(n_objects=300, seed=11)
    assert _digests() == first
    _wipe()
    generate_elasticc_data(n_objects=300, seed=12)
    other = _digests()
    assert other["elasticc_diaforcedsource"] != first["elasticc_diaforcedsource"]


def test_alerts_unsent_unless_a_sent_time_is_given(generated):
    sent_at = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    more = generate_elasticc_data(
        n_objects=20, seed=11, first_object_id=DEFAULT_FIRST_OBJECT_ID + 300, alerts_sent_at=sent_at
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT diaobjectid >= %s, alertsenttimestamp, count(*) FROM elasticc_diaalert GROUP BY 1, 2 ORDER BY 1",
            [DEFAULT_FIRST_OBJECT_ID + 300],
        )
        assert cursor.fetchall() == [
            (False, None, generated.counts["elasticc_diaalert"]),
            (True, sent_at, more.counts["elasticc_diaalert"]),
        ]


def test_overlapping_id_range_is_refused(generated):
    report = generate_elasticc_data(n_objects=10, seed=1, first_object_id=DEFAULT_FIRST_OBJECT_ID + 295)
    assert len(report.files_failed) == 1
    assert "already exist" in report.files_failed[0][1]
    assert row_counts(["elasticc_diaobject"]) == {"elasticc_diaobject": 300}


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_command(subprocess_env):
    result = run_manage(subprocess_env, "generate_elasticc_data", "--objects", "40", "--seed", "3", "--no-progress")
    assert result.returncode == 0, result.stderr
    assert "40 objects" in result.stdout
    assert "rows/s" in result.stdout
    assert row_counts(["elasticc_diaobject"]) == {"elasticc_diaobject": 40}


def test_demo_data_synthetic_when_no_sample_then_nothing(tmp_path):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("load_demo_data", sample_dir=tmp_path / "absent", synthetic_objects=35, stdout=out)
    assert "generating 35 synthetic objects" in out.getvalue()
    assert row_counts(["elasticc_diaobject"]) == {"elasticc_diaobject": 35}
    out = StringIO()
    call_command("load_demo_data", sample_dir=tmp_path / "absent", stdout=out)
    assert "already holds 35 objects" in out.getvalue()
    assert row_counts(["elasticc_diaobject"]) == {"elasticc_diaobject": 35}


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_parallel_chunks_give_the_same_rows(monkeypatch):
    monkeypatch.setattr("elasticc.ingest.synthetic.CHUNK_OBJECTS", 70)
    serial = generate_elasticc_data(n_objects=300, seed=5)
    assert len(serial.files_loaded) == 5
    first = _digests()
    _wipe()
    parallel = generate_elasticc_data(n_objects=300, seed=5, workers=2)
    assert parallel.counts == serial.counts
    assert _digests() == first
    assert row_counts(list(TABLES)) == serial.counts
