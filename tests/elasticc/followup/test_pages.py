"""The follow-up page, the object page's follow-up forms and TOM Toolkit targets (sample, alerts through 60578 sent)."""

from __future__ import annotations

import pytest
from django.test import Client
from tom_targets.models import Target

from elasticc.followup import selectors, services
from elasticc.models import PlannedSpectrum, SpectrumInfo, WantedSpectrum
from tests.builders import PASSWORD

MJD_NOW = 60578.0


@pytest.fixture
def browser(sent_sample, plain_user) -> Client:
    """A logged-in session that must send CSRF tokens, as a browser does."""
    client = Client(enforce_csrf_checks=True)
    client.get("/accounts/login/")
    client.post(
        "/accounts/login/",
        {
            "username": plain_user.username,
            "password": PASSWORD,
            "csrfmiddlewaretoken": client.cookies["csrftoken"].value,
        },
    )
    return client


@pytest.fixture
def objectid(sent_sample, db) -> int:
    return next(selectors.hot_transients(detected_since_mjd=MJD_NOW - 10))[0]["objectid"]


def submit(client: Client, objectid: int, action: str, data: dict) -> str:
    page = client.get(f"/elasticc/object/{objectid}/")
    assert f'id="form-{action}"' in page.content.decode()
    token = client.cookies["csrftoken"].value
    res = client.post(
        f"/elasticc/object/{objectid}/followup/{action}/", {**data, "csrfmiddlewaretoken": token}, follow=True
    )
    assert res.status_code == 200
    return res.content.decode()


def test_object_page_forms_ask_plan_withdraw_report(browser, objectid):
    # without the CSRF token: refused (TOM Toolkit sends HTML 403s to the login page), nothing stored
    assert (
        browser.post(f"/elasticc/object/{objectid}/followup/ask/", {"requester": "R", "priority": 3}).status_code == 302
    )
    assert not WantedSpectrum.objects.exists()

    page = submit(browser, objectid, "ask", {"requester": "RESSPECT", "priority": 4})
    assert "Spectrum asked for by RESSPECT with priority 4." in page
    assert WantedSpectrum.objects.get(diaobject_id=objectid).priority == 4
    page = submit(browser, objectid, "ask", {"requester": "RESSPECT", "priority": 9})
    assert "Not saved (ask)" in page
    assert WantedSpectrum.objects.get(diaobject_id=objectid).priority == 4

    page = submit(browser, objectid, "plan", {"facility": "Gemini", "plantime": "2024-09-02T04:00", "comment": "GMOS"})
    assert "Plan of Gemini for 2024-09-02 04:00 UTC declared." in page
    assert "GMOS" in page
    page = submit(browser, objectid, "withdraw", {"facility": "Gemini"})
    assert "Plan of Gemini withdrawn." in page
    assert not PlannedSpectrum.objects.exists()

    submit(browser, objectid, "plan", {"facility": "SOAR", "plantime": "2024-09-03T01:00"})
    page = submit(browser, objectid, "report", {"facility": "SOAR", "mjd": "60577.5", "z": "", "classid": "2222"})
    assert "Spectrum of SOAR at MJD 60577.5 reported." in page
    assert SpectrumInfo.objects.get().z is None
    assert not PlannedSpectrum.objects.exists()
    page = submit(browser, objectid, "report", {"facility": "SOAR", "mjd": "x", "classid": "2222"})
    assert "Not saved (report)" in page
    token = browser.cookies["csrftoken"].value
    assert (
        browser.post(f"/elasticc/object/{objectid}/followup/nonsense/", {"csrfmiddlewaretoken": token}).status_code
        == 404
    )


def test_followup_page_lists_wanted_plans_and_reports_with_the_api_filters(browser, objectid, plain_user):
    services.ask_for_spectra(user=plain_user, requester="RESSPECT", objectids=[objectid], priorities=[5])
    page = browser.get("/elasticc/followup/", {"mjd_now": MJD_NOW}).content.decode()
    assert f">{objectid}</a>" in page
    assert "RESSPECT" in page
    assert "@" in page  # a latest magnitude with its MJD
    assert "No wanted spectrum matches." in browser.get("/elasticc/followup/").content.decode()  # today: nothing recent
    page = browser.get("/elasticc/followup/", {"mjd_now": MJD_NOW, "lim_mag": 5, "lim_mag_band": "r"}).content.decode()
    assert "No wanted spectrum matches." in page
    page = browser.get("/elasticc/followup/", {"mjd_now": MJD_NOW, "lim_mag": 5}).content.decode()
    assert "go together" in page
    services.report_spectrum(user=plain_user, objectid=objectid, facility="Keck", mjd=60570.0, z=0.3, classid=2222)
    page = browser.get("/elasticc/followup/", {"facility": "Keck"}).content.decode()
    assert "Keck" in page
    assert "No plans." in page


def test_make_target_once_and_link_back(browser, objectid, plain_user):
    page = browser.get(f"/elasticc/object/{objectid}/").content.decode()
    assert 'id="make-target"' in page
    token = browser.cookies["csrftoken"].value
    res = browser.post(f"/elasticc/object/{objectid}/target/", {"csrfmiddlewaretoken": token})
    target = Target.objects.get(name=str(objectid))
    assert res["Location"] == f"/targets/{target.pk}/"
    assert (
        browser.post(f"/elasticc/object/{objectid}/target/", {"csrfmiddlewaretoken": token})["Location"]
        == res["Location"]
    )
    assert Target.objects.filter(name=str(objectid)).count() == 1
    assert f'href="/targets/{target.pk}/"' in browser.get(f"/elasticc/object/{objectid}/").content.decode()

    services.report_spectrum(user=plain_user, objectid=objectid, facility="Keck", mjd=60570.0, z=0.3, classid=2222)
    detail = browser.get(f"/targets/{target.pk}/").content.decode()
    assert f"/elasticc/object/{objectid}/" in detail
    assert "Keck" in detail
    assert browser.get("/targets/").status_code == 200


def test_followup_page_detected_since_from_the_unfilled_form_and_bad_filters(browser, objectid, plain_user):
    """The page as first shown leaves "detected in last days" empty (14 by
    default), so typing only a "detected since MJD" works; bad filters give
    a 400 and no list computed for other filters than the form shows."""
    services.ask_for_spectra(user=plain_user, requester="RESSPECT", objectids=[objectid], priorities=[5])
    page = browser.get("/elasticc/followup/").content.decode()
    assert 'name="detected_in_last_days" placeholder="14"' in page
    assert 'name="not_claimed_in_last_days" value="7.0"' in page
    as_sent = {"not_claimed_in_last_days": "7.0", "detected_in_last_days": "", "no_spectra_in_last_days": "7.0"}
    res = browser.get("/elasticc/followup/", {**as_sent, "detected_since_mjd": MJD_NOW - 10, "mjd_now": MJD_NOW})
    assert res.status_code == 200
    assert f">{objectid}</a>" in res.content.decode()
    assert browser.get("/elasticc/followup/", {**as_sent, "mjd_now": MJD_NOW}).context["wanted"]
    res = browser.get("/elasticc/followup/", {"detected_since_mjd": 1, "detected_in_last_days": 2, "mjd_now": MJD_NOW})
    assert res.status_code == 400
    assert res.context["wanted"] is None
    assert "Correct the filters above." in res.content.decode()
