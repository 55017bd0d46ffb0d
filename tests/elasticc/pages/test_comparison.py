"""The comparison page (/elasticc/metrics/) and the A-vs-B view, on the
hand-made metrics data set: numbers worked out by hand, truth only for admins."""

from __future__ import annotations

import pytest


@pytest.mark.django_db
def test_comparison_table_for_admins(client, admin_user, fixture_ids, django_assert_max_num_queries):
    client.force_login(admin_user)
    with django_assert_max_num_queries(12):
        response = client.get("/elasticc/metrics/?mode=latest&level=exact")
    assert response.status_code == 200
    rows = {r["classifierid"]: r for r in response.context["rows"]}
    a = rows[fixture_ids["A"]]
    # A, latest, exact: 111->111, 112->113, 122->122: accuracy 2/3, macro F1 (1 + 0 + 0 + 1) / 4.
    assert (a["accuracy"], a["macro_f1"]) == (pytest.approx(2 / 3), pytest.approx(0.5))
    html = response.content.decode()
    assert f'<tr data-classifierid="{fixture_ids["A"]}">' in html
    assert 'data-key="accuracy" data-value="0.6666' in html
    assert "0.667" in html
    assert 'class="per-class"' in html
    assert 'id="truth-hidden"' not in html
    best = client.get("/elasticc/metrics/?mode=best&level=exact").context["rows"]
    assert {r["classifierid"]: r["accuracy"] for r in best}[fixture_ids["A"]] == 1.0


@pytest.mark.django_db
def test_comparison_table_without_truth(client, plain_user, fixture_ids):
    client.force_login(plain_user)
    response = client.get("/elasticc/metrics/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="truth-hidden"' in html
    for marker in ('data-key="accuracy"', 'data-key="macro_f1"', 'data-key="purity"', 'class="per-class"'):
        assert marker not in html
    row = {r["classifierid"]: r for r in response.context["rows"]}[fixture_ids["A"]]
    assert "accuracy" not in row
    assert row["completeness"] == pytest.approx(6 / 7)
    assert 'data-key="nobjects" data-value="4"' in html
    assert client.get("/elasticc/metrics/?level=nonsense").status_code == 400


@pytest.mark.django_db
def test_pair_view_is_truth_only_and_differences_f1(client, plain_user, admin_user, fixture_ids):
    url = f"/elasticc/metrics/compare/?a={fixture_ids['A']}&b={fixture_ids['B']}&mode=latest&level=exact"
    client.force_login(plain_user)
    assert client.get(url).status_code == 403
    client.force_login(admin_user)
    response = client.get(url)
    assert response.status_code == 200
    diff = {r["class"]: r for r in response.context["charts"]["f1_diff"]}
    # A: F1 111 = 1, 112 = 0, 113 = 0, 122 = 1; B (only object 1001, 111 -> 111): F1 111 = 1.
    by_id = {key.split()[0]: r for key, r in diff.items()}
    assert {k: (r["a"], r["b"]) for k, r in by_id.items()} == {
        "111": (1.0, 1.0),
        "112": (0.0, 0.0),
        "113": (0.0, 0.0),
        "122": (1.0, 0.0),
    }
    assert by_id["122"]["diff"] == -1.0
    assert [m["objects"] for m in response.context["charts"]["matrices"]] == [3, 1]
    assert client.get("/elasticc/metrics/compare/?a=999999&b=1").status_code == 404


@pytest.mark.django_db
def test_comparison_and_pair_at_n_days_after_first_detection(client, admin_user, fixture_ids):
    client.force_login(admin_user)
    response = client.get("/elasticc/metrics/?mode=days1&level=exact")
    assert response.status_code == 200
    a = {r["classifierid"]: r for r in response.context["rows"]}[fixture_ids["A"]]
    # A at 1 day: 111->112, 112->112, 122->122: accuracy 2/3, macro F1 (0 + 2/3 + 1) / 3.
    assert (a["objects"], a["accuracy"], a["macro_f1"]) == (3, pytest.approx(2 / 3), pytest.approx(5 / 9))
    html = response.content.decode()
    assert '<option value="days1" selected>at 1 day after first detection</option>' in html
    for n in (3, 10, 30):
        assert f'<option value="days{n}">at {n} days after first detection</option>' in html
    assert 'href="/elasticc/metricsdata/comparison/?mode=days1&level=exact&format=csv"' in html
    latest = {r["classifierid"]: r for r in client.get("/elasticc/metrics/?mode=days3").context["rows"]}
    assert latest[fixture_ids["A"]]["accuracy"] == pytest.approx(2 / 3)
    for bad in ("N%3D3", "days2", "days"):
        bad_response = client.get(f"/elasticc/metrics/?mode={bad}")
        assert bad_response.status_code == 400
        assert 'id="form-errors"' in bad_response.content.decode()

    pair = client.get(f"/elasticc/metrics/compare/?a={fixture_ids['A']}&b={fixture_ids['B']}&mode=days1&level=exact")
    assert pair.status_code == 200
    by_id = {key.split()[0]: r for key, r in ((r["class"], r) for r in pair.context["charts"]["f1_diff"])}
    # A at 1 day: F1 111 = 0, 112 = 2/3, 122 = 1; B: 111 = 1.
    assert {k: (r["a"], r["b"]) for k, r in by_id.items()} == {
        "111": (0.0, 1.0),
        "112": (pytest.approx(2 / 3), 0.0),
        "122": (1.0, 0.0),
    }
    assert '<option value="days1" selected>' in pair.content.decode()
    bad_pair = client.get(f"/elasticc/metrics/compare/?a={fixture_ids['A']}&b={fixture_ids['B']}&mode=days7")
    assert bad_pair.status_code == 400


@pytest.mark.django_db
def test_pair_level_the_taxonomy_lacks_is_a_form_error(client, admin_user, fixture_ids):
    client.force_login(admin_user)
    response = client.get(f"/elasticc/metrics/compare/?a={fixture_ids['A']}&b={fixture_ids['B']}&level=general")
    assert response.status_code == 400
    html = response.content.decode()
    assert "classifier A&#x27;s elasticc taxonomy has no general level" in html
    assert f'<option value="{fixture_ids["B"]}" selected>' in html
    assert "pair-data" not in html
