"""The ELAsTiCC pages (elasticc.pages), on the hand-made metrics data set of
tests.builders (fixture `fixture_ids`)."""

from __future__ import annotations

import re

import pytest
from django.db import connection

from tests.responses import cdn_urls

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
    assert a["numclassifications"] == _db_count(
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
    assert f'data-key="nclassifications" data-count="{a["numclassifications"]}"' in html
    assert 'id="as-of"' in html


@pytest.mark.django_db
def test_classifier_pages(client, admin_user, fixture_ids, django_assert_max_num_queries):
    client.force_login(admin_user)
    listing = client.get("/elasticc/metrics/")
    assert listing.status_code == 200
    assert f'href="/elasticc/metrics/{fixture_ids["A"]}/"' in listing.content.decode()
    with django_assert_max_num_queries(14):
        response = client.get(f"/elasticc/metrics/{fixture_ids['A']}/?mode=best&level=category&norm=pred&period=week")
    assert response.status_code == 200
    charts = response.context["charts"]
    assert charts["confusion"]["counts"] == [[2, 0], [0, 1]]
    # Weeks of simulated nights (Monday to Sunday): night 60000 is a Saturday, 60002 a Monday.
    assert [(r["night"], r["sent"]) for r in charts["completeness"]] == [(59995, 4), (60002, 3)]
    by_day = client.get(f"/elasticc/metrics/{fixture_ids['A']}/?period=week&axis=sent").context["charts"]
    assert [r["sent"] for r in by_day["completeness"]] == [7]
    html = response.content.decode()
    assert 'id="metrics-data"' in html
    assert "vendor/plotly/plotly.min.js" in html
    assert '<option value="best" selected>' in html
    # Every chart links to its data.
    a = fixture_ids["A"]
    for name in ("confusion", "delays", "completeness", "trueprob"):
        assert f'href="/elasticc/metricsdata/{a}/{name}/?' in html
    assert cdn_urls(html) == []


@pytest.mark.django_db
def test_classifier_page_rejects_bad_parameters(client, admin_user, fixture_ids):
    client.force_login(admin_user)
    a = fixture_ids["A"]
    assert client.get(f"/elasticc/metrics/{a}/?level=species").status_code == 400
    bad_window = client.get(f"/elasticc/metrics/{a}/?start=2026-02-01&end=2026-01-01")
    assert bad_window.status_code == 400
    assert "start is after its end" in bad_window.content.decode()
    bad_mjd = client.get(f"/elasticc/metrics/{a}/?mjd_min=60010&mjd_max=60000")
    assert bad_mjd.status_code == 400
    assert "MJD window&#x27;s start is after its end" in bad_mjd.content.decode()
    for query in ("mode=days2", "mode=N%3D3", "axis=wallclock"):
        response = client.get(f"/elasticc/metrics/{a}/?{query}")
        assert response.status_code == 400, query
        assert 'id="form-errors"' in response.content.decode()


@pytest.mark.django_db
def test_classifier_page_at_n_days_after_first_detection(client, admin_user, fixture_ids):
    client.force_login(admin_user)
    a = fixture_ids["A"]
    response = client.get(f"/elasticc/metrics/{a}/?mode=days1&level=exact&norm=none")
    assert response.status_code == 200
    confusion = response.context["charts"]["confusion"]
    # At 1 day: 1001 (true 111) was predicted 112, 1002 112, 1003 122.
    assert [row.split()[0] for row in confusion["true"]] == ["111", "112", "122"]
    assert [col.split()[0] for col in confusion["pred"]] == ["111", "112", "122"]
    assert confusion["counts"] == [[0, 1, 0], [0, 1, 0], [0, 0, 1]]
    html = response.content.decode()
    assert '<option value="days1" selected>at 1 day after first detection</option>' in html
    assert '<option value="days30">at 30 days after first detection</option>' in html
    assert "among the alerts within 1 day of the object's first detection" in html
    # The cell drill-down and the downloads carry the mode.
    assert f'data-drilldown="/elasticc/objects/?classifier={a}&amp;mode=days1&amp;level=exact"' in html
    assert f'href="/elasticc/metricsdata/{a}/confusion/?mode=days1&level=exact&format=csv"' in html


@pytest.mark.django_db
def test_completeness_chart_by_night_with_a_control_next_to_it(client, plain_user, fixture_ids):
    client.force_login(plain_user)
    a = fixture_ids["A"]
    response = client.get(f"/elasticc/metrics/{a}/")
    completeness = response.context["charts"]["completeness"]
    assert [(r["night"], r["sent"], r["classified"]) for r in completeness] == [(60000, 4, 4), (60002, 3, 2)]
    html = response.content.decode()
    assert 'data-axis="night"' in html
    # The axis, period and MJD window are in their own form beside the chart, the other choices kept hidden.
    form = html[html.index('id="completeness-form"') : html.index('id="chart-completeness"')]
    assert '<option value="night" selected>simulated night (MJD)</option>' in form
    assert '<option value="sent">send day (UTC)</option>' in form
    assert 'name="mjd_min"' in form
    assert 'name="mjd_max"' in form
    assert '<input type="hidden" name="start"' in form
    delays = html[html.index('id="delays-form"') : html.index('id="completeness-form"')]
    assert '<input type="hidden" name="axis" value="night">' in delays
    assert f'href="/elasticc/metricsdata/{a}/completeness/?axis=night&amp;period=day&format=csv"' in html
    # The x axis is numeric MJD, never dates.
    assert 'type: "linear", tickformat: "d"' in html

    windowed = client.get(f"/elasticc/metrics/{a}/?mjd_min=60001&mjd_max=60005")
    assert [r["night"] for r in windowed.context["charts"]["completeness"]] == [60002]
    html = windowed.content.decode()
    assert "nights from MJD 60001 to MJD 60005 (whole nights)" in html
    assert "completeness/?axis=night&amp;period=day&amp;mjd_min=60001.0&amp;mjd_max=60005.0&format=json" in html
    assert 'value="60001.0"' in html

    by_day = client.get(f"/elasticc/metrics/{a}/?axis=sent&start=2026-01-02")
    assert [(r["start"].isoformat(), r["sent"]) for r in by_day.context["charts"]["completeness"]] == [
        ("2026-01-02", 3)
    ]
    html = by_day.content.decode()
    assert 'data-axis="sent"' in html
    assert "completeness/?axis=sent&amp;period=day&amp;start=2026-01-02&format=csv" in html
    assert client.get("/elasticc/metrics/999999/").status_code == 404


def _form(html: str, form_id: str) -> str:
    start = html.index(f'id="{form_id}"')
    return html[start : html.index("</form>", start)]


def _visible(form: str) -> set[str]:
    """Names of the form's inputs and selects that are not hidden."""
    fields = re.findall(r'<(?:input|select)\b[^>]*\bname="([^"]+)"[^>]*>', form)
    hidden = re.findall(r'<input type="hidden" name="([^"]+)"', form)
    return set(fields) - set(hidden)


@pytest.mark.django_db
def test_date_window_sits_next_to_the_charts_it_affects(client, plain_user, admin_user, fixture_ids):
    """The date window (start, end) filters the delays and completeness by send
    day, not the confusion matrix: it is beside those two charts, labelled,
    and the top form holds only the confusion matrix's choices. Each form
    carries the others' choices hidden, so the URLs are the same as before."""
    a = fixture_ids["A"]
    client.force_login(admin_user)
    url = f"/elasticc/metrics/{a}/?mode=best&norm=none&start=2026-01-02&end=2026-01-03&mjd_min=60000"
    html = client.get(url).content.decode()
    top, delays, completeness = (_form(html, f) for f in ("metrics-form", "delays-form", "completeness-form"))
    assert _visible(top) == {"mode", "level", "norm"}
    assert _visible(delays) == {"start", "end"}
    assert _visible(completeness) == {"axis", "period", "mjd_min", "mjd_max"}
    assert "the confusion matrix and" in delays
    assert "for these delays" in delays
    assert 'value="2026-01-02"' in delays
    for form in (top, completeness):
        assert '<input type="hidden" name="start" value="2026-01-02">' in form
        assert '<input type="hidden" name="end" value="2026-01-03">' in form
    for form in (delays, completeness):
        assert '<input type="hidden" name="mode" value="best">' in form
        assert '<input type="hidden" name="norm" value="none">' in form
    # On the send-day axis the same window is also beside completeness (its own ids), the MJD window hidden.
    html = client.get(f"{url}&axis=sent").content.decode()
    completeness = _form(html, "completeness-form")
    assert _visible(completeness) == {"axis", "period", "start", "end"}
    assert 'id="completeness-id_start"' in completeness
    assert "alerts sent from (UTC day)" in completeness
    assert html.count('id="id_start"') == 1
    # Without truth there is no confusion matrix and no top form; the window is still beside the delays.
    client.force_login(plain_user)
    html = client.get(f"/elasticc/metrics/{a}/?start=2026-01-02").content.decode()
    assert 'id="metrics-form"' not in html
    assert _visible(_form(html, "delays-form")) == {"start", "end"}
    # A bad window: the error, and every control at the top to correct it.
    bad = client.get(f"/elasticc/metrics/{a}/?start=2026-02-01&end=2026-01-01").content.decode()
    assert {"start", "end", "axis", "mjd_min"} <= _visible(_form(bad, "metrics-form"))


@pytest.mark.django_db
def test_object_page_truth_only_for_admins(client, plain_user, admin_user, fixture_ids, django_assert_max_num_queries):
    client.force_login(plain_user)
    # a fixed number whatever the object's size: the follow-up section adds five (its
    # requests, plans and reports, the ELAsTiCC2 class names, its TOM target)
    with django_assert_max_num_queries(17):
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
