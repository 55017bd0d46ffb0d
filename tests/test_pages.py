"""ELAsTiCC pages and the metrics aggregates behind them.

A small, hand-made data set (four objects, two classifiers) whose metrics are
worked out by hand below, so every aggregate is checked against a known
answer, and incremental refreshes against a full rebuild.
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from elasticc import metrics
from elasticc.metrics import refresh_metrics

DAY1 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
BROKER_DELAY = timedelta(seconds=10)
OUR_DELAY = timedelta(seconds=2)
# object -> truth gentype (None: no truth row); true classes 111, 112, 122.
OBJECTS = {1001: 10, 1002: 20, 1003: 82, 1004: None}
# (object, source index k) -> sent? Sources at MJD 60000.3 + (0, 2, 5)[k], alert k sent on DAY1 + k days.
SENT = {(1001, 0), (1001, 1), (1002, 0), (1002, 1), (1003, 0), (1003, 1), (1004, 0)}
SOURCE_DAYS = (0, 2, 5)
# Classifier A's messages: (object, k) -> {classid: probability}.
A_MESSAGES = {
    (1001, 0): {112: 0.6, 111: 0.4},
    (1001, 1): {111: 0.7, 112: 0.3},
    (1002, 0): {112: 0.9, 113: 0.1},
    (1002, 1): {113: 0.55, 112: 0.45},
    (1003, 0): {122: 0.8, 121: 0.2},
    (1004, 0): {111: 0.5, 113: 0.5},
}
B_MESSAGES = {(1001, 0): {111: 1.0}}


def alert_id(obj: int, k: int) -> int:
    return obj * 10 + k


def insert_objects(cursor) -> None:
    """Objects, sources, alerts, forced sources and truth of the fixture."""
    for obj, gentype in OBJECTS.items():
        cursor.execute(
            "INSERT INTO elasticc_diaobject (diaobjectid, ra, decl, isddf, hostgal_zphot, hostgal_mag_r) "
            "VALUES (%s, %s, %s, false, 0.25, 21.5)",
            [obj, 10.0 + (obj - 1000) * 0.01, -30.0],
        )
        for k, band in enumerate("gri"):
            sid = alert_id(obj, k)
            cursor.execute(
                "INSERT INTO elasticc_diasource (diasourceid, diaobjectid, midpointtai, filtername, ra, decl, "
                "psflux, psfluxerr, snr) VALUES (%s, %s, %s, %s, 10, -30, %s, 50, 20)",
                [sid, obj, 60000.3 + SOURCE_DAYS[k], band, 1000.0 + 100 * k],
            )
            sent = DAY1 + timedelta(days=k) if (obj, k) in SENT else None
            cursor.execute(
                "INSERT INTO elasticc_diaalert (alertid, diasourceid, diaobjectid, alertsenttimestamp) "
                "VALUES (%s, %s, %s, %s)",
                [sid, sid, obj, sent],
            )
        cursor.execute(
            "INSERT INTO elasticc_diaforcedsource (diaforcedsourceid, diaobjectid, midpointtai, filtername, "
            "psflux, psfluxerr) SELECT %s * 100 + i, %s, 59990 + i, 'griz'::text, 10 * i, 40 "
            "FROM generate_series(1, 5) i",
            [obj, obj],
        )
        if gentype is not None:
            cursor.execute(
                "INSERT INTO elasticc_diaobjecttruth (diaobjectid, gentype, zcmb, peakmjd) VALUES (%s, %s, 0.1, 60003)",
                [obj, gentype],
            )


def register_classifier(cursor, name: str) -> int:
    cursor.execute(
        "INSERT INTO elasticc_brokerclassifier (brokername, brokerversion, classifiername, classifierparams) "
        "VALUES ('TestBroker', '1.0', %s, 'p1') RETURNING classifierid",
        [name],
    )
    return cursor.fetchone()[0]


def insert_message(cursor, *, key: str, obj: int, k: int, classifications: dict[int, dict[int, float]]) -> int:
    """One broker message about alert (obj, k) carrying {classifierid: {classid: p}}."""
    sent = DAY1 + timedelta(days=k)
    hdr = sent + BROKER_DELAY
    cursor.execute(
        "INSERT INTO elasticc_brokermessage (messagekey, topicname, alertid, diasourceid, msghdrtimestamp, "
        "elasticcpublishtimestamp, brokeringesttimestamp, descingesttimestamp) "
        "VALUES (%s, 'test', %s, %s, %s, %s, %s, %s) RETURNING brokermessageid",
        [key, alert_id(obj, k), alert_id(obj, k), hdr, sent, sent, hdr + OUR_DELAY],
    )
    message_id = cursor.fetchone()[0]
    for classifierid, probs in classifications.items():
        for classid, probability in probs.items():
            cursor.execute(
                "INSERT INTO elasticc_brokerclassification (brokermessageid, classifierid, classid, probability) "
                "VALUES (%s, %s, %s, %s)",
                [message_id, classifierid, classid, probability],
            )
    return message_id


def load_fixture_data() -> dict[str, int]:
    with transaction.atomic(), connection.cursor() as cursor:
        insert_objects(cursor)
        a = register_classifier(cursor, "A")
        b = register_classifier(cursor, "B")
        for (obj, k), probs in A_MESSAGES.items():
            classifications = {a: probs}
            if (obj, k) in B_MESSAGES:  # one v0_9-style message naming two classifiers
                classifications[b] = B_MESSAGES[(obj, k)]
            insert_message(cursor, key=f"m-{obj}-{k}", obj=obj, k=k, classifications=classifications)
    return {"A": a, "B": b}


def wipe_data() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE elasticc_brokerclassification, elasticc_brokermessage, elasticc_brokerclassifier, "
            "elasticc_diaforcedsource, elasticc_diaobjecttruth, elasticc_diaalert, elasticc_diasource, "
            "elasticc_diaobject CASCADE"
        )
    refresh_metrics(full=True)


def snapshot() -> dict[str, list]:
    """Every aggregate table's content, to compare refreshes."""
    tables = {
        "classifier": "SELECT * FROM elasticc_metricsclassifier",
        "object": "SELECT * FROM elasticc_metricsobject",
        "confusion": "SELECT * FROM elasticc_metricsconfusion",
        "delay": "SELECT * FROM elasticc_metricsdelay",
        "classified": "SELECT * FROM elasticc_metricsclassified",
        "alertsday": "SELECT * FROM elasticc_metricsalertsday",
        "trueprob": "SELECT classifierid, trueclassid, days, n, round(sump::numeric, 5), round(sump2::numeric, 5) "
        "FROM elasticc_metricstrueprob",
    }
    result = {}
    with connection.cursor() as cursor:
        for name, sql in tables.items():
            cursor.execute(sql)
            result[name] = sorted(cursor.fetchall())
    return result


@pytest.fixture(scope="module")
def fixture_ids(django_db_setup, django_db_blocker):
    """The fixture loaded once for the module's read-only tests, metrics refreshed."""
    with django_db_blocker.unblock():
        wipe_data()
        ids = load_fixture_data()
        refresh_metrics(full=True)
        yield ids
        wipe_data()


# --- metrics: known answers ---------------------------------------------------------------------


@pytest.mark.django_db
def test_confusion_matrices_match_hand_count(fixture_ids):
    a = fixture_ids["A"]
    assert metrics.confusion(classifierid=a, mode="latest", level="exact") == [
        (111, 111, 1),
        (112, 113, 1),
        (122, 122, 1),
    ]
    assert metrics.confusion(classifierid=a, mode="best", level="exact") == [
        (111, 111, 1),
        (112, 112, 1),
        (122, 122, 1),
    ]
    assert metrics.confusion(classifierid=a, mode="latest", level="category") == [(11, 11, 2), (12, 12, 1)]
    assert metrics.confusion(classifierid=a, mode="latest", level="broad") == [(1, 1, 3)]
    assert metrics.confusion(classifierid=fixture_ids["B"], mode="latest", level="exact") == [(111, 111, 1)]


@pytest.mark.django_db
def test_confusion_matrix_normalisation(fixture_ids):
    names = {111: "Ia", 112: "Ib/c", 113: "II", 122: "M-dwarf Flare"}
    by_true = metrics.confusion_matrix(
        classifierid=fixture_ids["A"], mode="latest", level="exact", norm="true", names=names
    )
    assert by_true["true"] == ["111 Ia", "112 Ib/c", "122 M-dwarf Flare"]
    assert by_true["pred"] == ["111 Ia", "112 Ib/c", "113 II", "122 M-dwarf Flare"]
    assert by_true["counts"] == [[1, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]
    assert [sum(row) for row in by_true["z"]] == [1.0, 1.0, 1.0]
    by_pred = metrics.confusion_matrix(
        classifierid=fixture_ids["A"], mode="latest", level="category", norm="pred", names={11: "SN-like", 12: "Fast"}
    )
    assert by_pred["counts"] == [[2, 0], [0, 1]]
    assert by_pred["z"] == [[1.0, 0.0], [0.0, 1.0]]
    assert by_pred["objects"] == 3


@pytest.mark.django_db
def test_delay_histograms_bin_the_three_intervals(fixture_ids):
    hist = metrics.delay_histograms(classifierid=fixture_ids["A"])
    # broker 10 s -> bin 10 (10^1.0 s); ours 2 s -> bin 3 (10^0.3 s); total 12 s -> bin 10.
    assert hist["broker"] == [(pytest.approx(10.0), 6)]
    assert hist["ours"] == [(pytest.approx(10**0.3), 6)]
    assert hist["total"] == [(pytest.approx(10.0), 6)]
    # The time window selects by day the message was stored.
    day2 = (DAY1 + timedelta(days=1)).date()
    assert metrics.delay_histograms(classifierid=fixture_ids["A"], start=day2)["broker"] == [(pytest.approx(10.0), 2)]
    assert metrics.delay_histograms(classifierid=fixture_ids["A"], end=date(2025, 1, 1))["broker"] == []


@pytest.mark.django_db
def test_completeness_per_day_and_week(fixture_ids):
    rows = metrics.completeness(classifierid=fixture_ids["A"], period="day")
    assert [(r["start"], r["sent"], r["classified"]) for r in rows] == [
        (DAY1.date(), 4, 4),
        (DAY1.date() + timedelta(days=1), 3, 2),
    ]
    assert rows[1]["fraction"] == pytest.approx(2 / 3)
    weekly = metrics.completeness(classifierid=fixture_ids["B"], period="week")
    # 2026-01-01 is a Thursday: both days fall in the week of Monday 2025-12-29.
    assert [(r["start"], r["sent"], r["classified"]) for r in weekly] == [(date(2025, 12, 29), 7, 1)]


@pytest.mark.django_db
def test_true_class_probability_by_days_since_first_detection(fixture_ids):
    result = metrics.true_class_probability(classifierid=fixture_ids["A"])
    assert [(r["days"], r["n"]) for r in result["all"]] == [(0, 3), (2, 2)]
    assert result["all"][0]["mean"] == pytest.approx((0.4 + 0.9 + 0.8) / 3, abs=1e-6)
    assert result["all"][1]["mean"] == pytest.approx((0.7 + 0.45) / 2, abs=1e-6)
    assert result["all"][1]["std"] == pytest.approx(0.125, abs=1e-6)
    assert [(r["days"], r["mean"]) for r in result["111"]] == [(0, pytest.approx(0.4)), (2, pytest.approx(0.7))]
    two_day_bins = metrics.true_class_probability(classifierid=fixture_ids["A"], bin_days=5)
    assert [(r["days"], r["n"]) for r in two_day_bins["all"]] == [(0, 5)]


@pytest.mark.django_db
def test_classifier_stats_and_truth_counts(fixture_ids):
    stats = metrics.classifier_stats()
    assert stats[fixture_ids["A"]]["nmessages"] == 6
    assert stats[fixture_ids["A"]]["nalerts"] == 6
    assert stats[fixture_ids["B"]]["nmessages"] == 1
    assert stats[fixture_ids["A"]]["lastingest"] == DAY1 + timedelta(days=1) + BROKER_DELAY + OUR_DELAY
    assert metrics.truth_counts() == [(10, 1), (20, 1), (82, 1)]
    assert metrics.as_of() is not None


@pytest.mark.django_db
def test_class_at_level_uses_taxonomy_digits():
    assert [metrics.class_at_level(c, "category") for c in (111, 11, 1, 0, 221)] == [11, 11, 1, 0, 22]
    assert [metrics.class_at_level(c, "broad") for c in (111, 11, 1, 0, 221)] == [1, 1, 1, 0, 2]
    assert metrics.class_at_level(123, "exact") == 123


# --- pages ---------------------------------------------------------------------------------------

PAGES = ["/elasticc/", "/elasticc/summary/", "/elasticc/metrics/", "/elasticc/object/"]


@pytest.mark.django_db
@pytest.mark.parametrize("url", [*PAGES, "/elasticc/summary/truth/", "/elasticc/metrics/1/", "/elasticc/object/1/"])
def test_anonymous_is_sent_to_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_admin_summary_is_admin_only(client, plain_user, broker_user, admin_user, fixture_ids):
    for user in (plain_user, broker_user):
        client.force_login(user)
        assert client.get("/elasticc/summary/truth/").status_code == 403
    client.force_login(admin_user)
    response = client.get("/elasticc/summary/truth/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="navbar' in html
    rows = {row["classid"]: row for row in response.context["rows"]}
    assert rows[122]["objects"] == 1
    assert rows[122]["gentypes"] == [(82, 1)]
    assert [row["classid"] for row in response.context["rows"]] == [111, 112, 122]
    assert '<tr data-classid="122">' in html
    assert response.context["object_truth"] == 3


@pytest.mark.django_db
def test_front_page_links_everything(client, plain_user, admin_user, fixture_ids):
    client.force_login(plain_user)
    html = client.get("/elasticc/").content.decode()
    for url in ("/elasticc/summary/", "/elasticc/metrics/", "/elasticc/object/", "/api/docs/"):
        assert f'href="{url}"' in html
    assert "/elasticc/summary/truth/" not in html
    client.force_login(admin_user)
    assert 'href="/elasticc/summary/truth/"' in client.get("/elasticc/").content.decode()


def _db_count(sql: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_summary_numbers_match_database(client, plain_user, fixture_ids, django_assert_max_num_queries):
    client.force_login(plain_user)
    with django_assert_max_num_queries(8):
        response = client.get("/elasticc/summary/")
    assert response.status_code == 200
    ctx = response.context
    assert ctx["objects"] == _db_count("SELECT count(*) FROM elasticc_diaobject") == 4
    assert ctx["sources"] == _db_count("SELECT count(*) FROM elasticc_diasource") == 12
    assert ctx["forced"] == _db_count("SELECT count(*) FROM elasticc_diaforcedsource") == 20
    sent = _db_count("SELECT count(*) FROM elasticc_diaalert WHERE alertsenttimestamp IS NOT NULL")
    assert (ctx["alerts_sent"], ctx["alerts_unsent"]) == (sent, 12 - sent)
    assert ctx["broker_messages"] == _db_count("SELECT count(*) FROM elasticc_brokermessage") == 6
    by_id = {c["classifierid"]: c for c in ctx["classifiers"]}
    a = by_id[fixture_ids["A"]]
    assert a["nclassifications"] == _db_count(
        f"SELECT count(*) FROM elasticc_brokerclassification WHERE classifierid = {fixture_ids['A']}"
    )
    assert a["nmessages"] == 6
    assert (a["brokername"], a["brokerversion"], a["classifiername"], a["classifierparams"]) == (
        "TestBroker",
        "1.0",
        "A",
        "p1",
    )
    html = response.content.decode()
    assert f'data-key="nclassifications" data-count="{a["nclassifications"]}"' in html
    assert 'id="as-of"' in html


@pytest.mark.django_db
def test_classifier_pages(client, plain_user, fixture_ids, django_assert_max_num_queries):
    client.force_login(plain_user)
    listing = client.get("/elasticc/metrics/")
    assert listing.status_code == 200
    assert f'href="/elasticc/metrics/{fixture_ids["A"]}/"' in listing.content.decode()
    with django_assert_max_num_queries(14):
        response = client.get(f"/elasticc/metrics/{fixture_ids['A']}/?mode=best&level=category&norm=pred&period=week")
    assert response.status_code == 200
    charts = response.context["charts"]
    assert charts["confusion"]["counts"] == [[2, 0], [0, 1]]
    assert charts["completeness"][0]["sent"] == 7
    html = response.content.decode()
    assert 'id="metrics-data"' in html
    assert "vendor/plotly/plotly.min.js" in html
    assert '<option value="best" selected>' in html
    assert "cdn" not in html.lower()


@pytest.mark.django_db
def test_classifier_page_rejects_bad_parameters(client, plain_user, fixture_ids):
    client.force_login(plain_user)
    a = fixture_ids["A"]
    assert client.get(f"/elasticc/metrics/{a}/?level=species").status_code == 400
    bad_window = client.get(f"/elasticc/metrics/{a}/?start=2026-02-01&end=2026-01-01")
    assert bad_window.status_code == 400
    assert "start is after its end" in bad_window.content.decode()
    assert client.get("/elasticc/metrics/999999/").status_code == 404


@pytest.mark.django_db
def test_object_page_truth_only_for_admins(client, plain_user, admin_user, fixture_ids, django_assert_max_num_queries):
    client.force_login(plain_user)
    with django_assert_max_num_queries(12):
        response = client.get("/elasticc/object/1001/")
    assert response.status_code == 200
    charts = response.context["charts"]
    assert len(charts["lightcurve"]["sources"]) == 3
    assert len(charts["lightcurve"]["forced"]) == 5
    assert response.context["n_classifications"] == 4 + 1  # A: two messages of two classes; B: one
    assert [h["classifierid"] for h in charts["history"]] == sorted(fixture_ids.values())
    assert charts["trueclassid"] is None
    html = response.content.decode()
    assert 'id="truth"' not in html
    assert "not sent" in html  # alert 10012
    client.force_login(admin_user)
    admin_page = client.get("/elasticc/object/1001/")
    assert admin_page.context["charts"]["trueclassid"] == 111
    assert 'id="truth"' in admin_page.content.decode()
    assert client.get("/elasticc/object/424242/").status_code == 404


@pytest.mark.django_db
def test_object_search_by_id_and_cone(client, plain_user, fixture_ids):
    client.force_login(plain_user)
    found = client.get("/elasticc/object/?diaobjectid=1002")
    assert found.status_code == 302
    assert found["Location"] == "/elasticc/object/1002/"
    assert client.get("/elasticc/object/?diaobjectid=77").status_code == 404
    # Objects sit at RA 10.01, 10.02, 10.03, 10.04 and Dec -30: neighbours are 0.01 deg * cos 30 = 31" apart.
    cone = client.get("/elasticc/object/?ra=10.02&dec=-30&radius=20")
    assert cone.status_code == 200
    assert [m["diaobjectid"] for m in cone.context["matches"]] == [1002]
    wide = client.get("/elasticc/object/?ra=10.025&dec=-30&radius=200")
    assert sorted(m["diaobjectid"] for m in wide.context["matches"]) == [1001, 1002, 1003, 1004]
    assert client.get("/elasticc/object/?ra=10").status_code == 400
    assert client.get("/elasticc/object/?ra=400&dec=0").status_code == 400


# --- refresh: incremental, exact, idempotent -------------------------------------------------------


@pytest.fixture
def empty_metrics(transactional_db):
    """A transactional test's start: Django's flush empties the data tables but
    not the aggregates (they are not models), so rebuild those from nothing."""
    refresh_metrics(full=True)


def test_refresh_refuses_to_run_inside_a_transaction(transactional_db):
    with transaction.atomic(), pytest.raises(RuntimeError, match="after your transaction"):
        refresh_metrics()


def test_incremental_refresh_equals_full_rebuild(empty_metrics):
    ids = load_fixture_data()
    first = refresh_metrics(chunk_size=2)  # several chunks, one transaction each
    assert (first.messages, first.classifications) == (6, 13)
    assert refresh_metrics().messages == 0  # nothing new: watermark holds
    with transaction.atomic(), connection.cursor() as cursor:
        # A later alert of 1002 flips its latest prediction back to the truth; 1003's third
        # alert (unsent) gets a message too, and a re-delivery of alert 10010 under another
        # key must not count that alert twice for completeness.
        insert_message(cursor, key="late-1002", obj=1002, k=2, classifications={ids["A"]: {112: 0.95}})
        insert_message(cursor, key="redelivery", obj=1001, k=0, classifications={ids["A"]: {111: 0.99}})
        cursor.execute(
            "UPDATE elasticc_diaalert SET alertsenttimestamp = %s WHERE alertid = 10022", [DAY1 + timedelta(days=2)]
        )
    second = refresh_metrics()
    assert second.messages == 2
    incremental = snapshot()
    assert metrics.confusion(classifierid=ids["A"], mode="latest", level="exact") == [
        (111, 111, 1),
        (112, 112, 1),
        (122, 122, 1),
    ]
    assert metrics.classifier_stats()[ids["A"]]["nalerts"] == 7  # 10010 counted once
    assert refresh_metrics(full=True).messages == 8
    assert snapshot() == incremental


def test_truth_counts_follow_inserts_and_deletes(empty_metrics):
    with connection.cursor() as cursor:
        insert_objects(cursor)
        assert metrics.truth_counts() == [(10, 1), (20, 1), (82, 1)]
        cursor.execute("UPDATE elasticc_diaobjecttruth SET gentype = 10 WHERE diaobjectid = 1002")
        assert metrics.truth_counts() == [(10, 2), (82, 1)]
        cursor.execute("DELETE FROM elasticc_diaobjecttruth WHERE gentype = 10")
        assert metrics.truth_counts() == [(82, 1)]


def test_refresh_command(empty_metrics):
    load_fixture_data()
    out = io.StringIO()
    call_command("refresh_elasticc_metrics", "--full", stdout=out)
    assert "processed 6 messages (13 classifications)" in out.getvalue()
    with pytest.raises(CommandError, match="chunk-size"):
        call_command("refresh_elasticc_metrics", "--chunk-size", "0")


def test_concurrent_refresh_is_skipped(empty_metrics):
    from django.db import connections

    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [metrics.ADVISORY_LOCK_KEY])
            assert refresh_metrics().skipped
            cursor.execute("SELECT pg_advisory_unlock(%s)", [metrics.ADVISORY_LOCK_KEY])
        assert not refresh_metrics().skipped
    finally:
        other.close()


def test_refresh_never_skips_messages_of_a_transaction_in_flight(empty_metrics, monkeypatch):
    """An ingest transaction still open holds its (lower) ids: the refresh must
    not move the watermark past them, and picks them up once committed."""
    import psycopg

    ids = load_fixture_data()
    assert refresh_metrics().messages == 6
    monkeypatch.setattr(metrics, "LOCK_TIMEOUT", "300ms")
    params = connection.settings_dict
    with psycopg.connect(
        host=params["HOST"],
        port=params["PORT"],
        user=params["USER"],
        password=params["PASSWORD"] or None,
        dbname=params["NAME"],
    ) as ingest:
        with ingest.cursor() as cursor:
            insert_message(cursor, key="in-flight", obj=1003, k=1, classifications={ids["A"]: {122: 0.7}})
        with connection.cursor() as cursor:  # a later message commits first, with a higher id
            insert_message(cursor, key="committed", obj=1004, k=0, classifications={ids["B"]: {111: 0.6}})
        waiting = refresh_metrics()
        assert (waiting.skipped, waiting.messages) == (False, 0)
        ingest.commit()
    caught_up = refresh_metrics()
    assert caught_up.messages == 2
    assert metrics.classifier_stats()[ids["A"]]["nmessages"] == 7
