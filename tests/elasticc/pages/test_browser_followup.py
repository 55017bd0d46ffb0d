"""Follow-up coordination in headless Chromium: the object page's forms (ask
for a spectrum, declare, withdraw a plan, report a spectrum, make a TOM
Toolkit target) used by a logged-in user without ELAsTiCC groups, each step
checked in the database, on the object page and on the Follow-up page; and
the Follow-up page's filters, on the follow-up set of tests.builders.

The set: 4001 (detected 60000.5 and 60008.5, r = 20), 4002 (60001.5, r = 21),
4003 (60005.5 and 60009.5, r = 22), all alerts sent; 4004's alert is unsent,
so nobody knows it. Forced r points at 59998, 60000, 60004, 60007: the
latest known one is 60007 for 4001 and 4003, 60000 for 4002.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from tom_targets.models import Target, TargetExtra

from elasticc.followup import services
from elasticc.models import PlannedSpectrum, SpectrumInfo, WantedSpectrum
from tests.builders import load_followup_data

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MJD_NOW = 60010.0


def table(page, selector: str) -> list[list[str]]:
    """The text of a table's body cells, row by row (the "None." row of an empty table is [])."""
    rows = [
        [c.strip() for c in row.locator("td").all_inner_texts()] for row in page.locator(f"{selector} tbody tr").all()
    ]
    return [r for r in rows if len(r) > 1]


def success(page) -> str:
    """The one success message (TOM Toolkit's target page repeats its messages block in a hidden tab)."""
    alerts = page.locator("#messages").first.locator(".alert")
    assert alerts.count() == 1
    return alerts.first.inner_text()


def submit(page, action: str, **fields: str) -> None:
    """Fill the object page's `action` form and submit it; back on the object page."""
    form = f"#form-{action}"
    for name, value in fields.items():
        control = page.locator(f"{form} [name={name}]")
        # Its label is the form's own (three forms have a facility field).
        control_id = control.get_attribute("id")
        assert page.locator(f"#{control_id}").count() == 1
        assert page.locator(f'{form} label[for="{control_id}"]').count() == 1
        if control.evaluate("e => e.tagName") == "SELECT":
            control.select_option(value)
        else:
            control.fill(value)
    page.click(f"{form} button[type=submit]")
    page.wait_for_url("**/elasticc/object/*/#followup")


def followup_page(page, **filters: str | float) -> None:
    """The Follow-up page with `filters` typed into its filter form."""
    page.goto(f"{page.base_url}/elasticc/followup/")
    for name, value in filters.items():
        control = page.locator(f"#followup-filters [name={name}]")
        if control.evaluate("e => e.tagName") == "SELECT":
            control.select_option(str(value))
        else:
            control.fill(str(value))
    page.click("#followup-filters button[type=submit]")
    page.wait_for_load_state("load")


def wanted(page) -> list[tuple[int, str, int]]:
    return [(int(r[0]), r[3], int(r[4])) for r in table(page, "#wanted-table")]


def test_ask_plan_withdraw_report_and_target_from_the_object_page(page_for, plain_user, artifacts_dir):
    load_followup_data()
    page = page_for(plain_user)
    page.goto(f"{page.base_url}/elasticc/object/4001/")
    assert table(page, "#followup-wanted") == []
    assert page.locator("#form-ask [name=priority]").input_value() == "3"
    duplicate_ids = page.evaluate(
        """() => { const n = {}; document.querySelectorAll("[id]").forEach(e => { n[e.id] = (n[e.id] || 0) + 1; });
                   return Object.keys(n).filter(id => n[id] > 1); }"""
    )
    assert duplicate_ids == []
    # Clicking a label focuses its own form's field.
    page.click('#form-withdraw label:has-text("Facility")')
    assert page.evaluate("() => document.activeElement.closest('form').id") == "form-withdraw"
    page.screenshot(path=str(artifacts_dir / "followup_object_empty.png"), full_page=True)

    # Ask for a spectrum.
    submit(page, "ask", requester="RESSPECT", priority="4")
    assert success(page) == "Spectrum asked for by RESSPECT with priority 4."
    rows = list(WantedSpectrum.objects.values_list("diaobject_id", "requester", "priority", "user__username"))
    assert rows == [(4001, "RESSPECT", 4, "desc_user")]
    assert [(r[0], r[1], r[3]) for r in table(page, "#followup-wanted")] == [("RESSPECT", "4", "desc_user")]
    page.screenshot(path=str(artifacts_dir / "followup_object_asked.png"), full_page=True)
    followup_page(page, mjd_now=MJD_NOW)
    assert wanted(page) == [(4001, "RESSPECT", 4)]
    # With its latest known r magnitude (the forced point of 60007, before the detection of 60008.5).
    r_cell = page.locator("#wanted-table tbody tr").first.locator("td").nth(5 + 2)
    assert " ".join(r_cell.inner_text().split()) == "20.00 @60007.0"
    page.screenshot(path=str(artifacts_dir / "followup_page_asked.png"), full_page=True)

    # Asking again changes the priority of the one row.
    page.goto(f"{page.base_url}/elasticc/object/4001/")
    submit(page, "ask", requester="RESSPECT", priority="2")
    assert success(page) == "Spectrum asked for by RESSPECT with priority 2."
    assert list(WantedSpectrum.objects.values_list("requester", "priority")) == [("RESSPECT", 2)]
    assert [r[:2] for r in table(page, "#followup-wanted")] == [["RESSPECT", "2"]]
    followup_page(page, mjd_now=MJD_NOW)
    assert wanted(page) == [(4001, "RESSPECT", 2)]

    # Declare a plan: listed on both pages; the wanted spectrum counts as claimed.
    page.goto(f"{page.base_url}/elasticc/object/4001/")
    submit(page, "plan", facility="Gemini", plantime="2026-03-01T04:30", comment="GMOS long slit")
    assert success(page) == "Plan of Gemini for 2026-03-01 04:30 UTC declared."
    plan = PlannedSpectrum.objects.get()
    assert (plan.diaobject_id, plan.facility, plan.plantime, plan.comment, plan.user.username) == (
        4001,
        "Gemini",
        datetime(2026, 3, 1, 4, 30, tzinfo=UTC),
        "GMOS long slit",
        "desc_user",
    )
    assert table(page, "#followup-plans") == [["Gemini", "2026-03-01 04:30", "GMOS long slit", "desc_user"]]
    page.screenshot(path=str(artifacts_dir / "followup_object_planned.png"), full_page=True)
    followup_page(page, mjd_now=MJD_NOW)
    assert [r[:5] for r in table(page, "#plans-table")] == [
        ["4001", "Gemini", "2026-03-01 04:30", "GMOS long slit", "desc_user"]
    ]
    assert wanted(page) == []  # claimed in the last 7 days
    followup_page(page, mjd_now=MJD_NOW, not_claimed_in_last_days=0)
    assert wanted(page) == [(4001, "RESSPECT", 2)]
    page.screenshot(path=str(artifacts_dir / "followup_page_planned.png"), full_page=True)

    # Withdraw it.
    page.goto(f"{page.base_url}/elasticc/object/4001/")
    submit(page, "withdraw", facility="Gemini")
    assert success(page) == "Plan of Gemini withdrawn."
    assert not PlannedSpectrum.objects.exists()
    assert table(page, "#followup-plans") == []
    submit(page, "withdraw", facility="Gemini")
    assert success(page) == "Gemini had no plan to withdraw."
    followup_page(page, mjd_now=MJD_NOW)
    assert table(page, "#plans-table") == []
    assert wanted(page) == [(4001, "RESSPECT", 2)]

    # Report a spectrum: the facility's plan goes, the report is listed with redshift and class.
    page.goto(f"{page.base_url}/elasticc/object/4001/")
    submit(page, "plan", facility="SOAR", plantime="2026-03-02T01:00")
    assert PlannedSpectrum.objects.filter(facility="SOAR").count() == 1
    submit(page, "report", facility="SOAR", mjd="60009.25", z="0.123", classid="2222")
    assert success(page) == "Spectrum of SOAR at MJD 60009.25 reported."
    assert not PlannedSpectrum.objects.exists()
    assert list(
        SpectrumInfo.objects.values_list("diaobject_id", "facility", "mjd", "z", "classid", "user__username")
    ) == [(4001, "SOAR", 60009.25, 0.123, 2222, "desc_user")]
    assert table(page, "#followup-plans") == []
    assert table(page, "#followup-reports") == [["SOAR", "60009.250", "0.123", "2222 Ia", "desc_user"]]
    page.screenshot(path=str(artifacts_dir / "followup_object_reported.png"), full_page=True)
    followup_page(page, mjd_now=MJD_NOW)
    assert table(page, "#reports-table") == [["4001", "SOAR", "60009.250", "0.123", "2222 Ia"]]
    assert wanted(page) == []  # a spectrum in the last 7 days
    followup_page(page, mjd_now=MJD_NOW, no_spectra_in_last_days=0)
    assert wanted(page) == [(4001, "RESSPECT", 2)]
    page.screenshot(path=str(artifacts_dir / "followup_page_reported.png"), full_page=True)

    # Make the object a TOM Toolkit target, once; then the object page links to it.
    # TOM Toolkit's target pages run here too: no external request, no script
    # refused by the Content-Security-Policy (the page fixture checks both).
    page.goto(f"{page.base_url}/elasticc/object/4001/")
    stale = page.open_tab()  # the same page open in a second tab, before the target exists
    stale.goto(f"{page.base_url}/elasticc/object/4001/")
    page.click("#make-target")
    page.wait_for_url("**/targets/*/")
    target = Target.objects.get()
    assert (target.name, target.ra, target.dec) == ("4001", pytest.approx(150.5), pytest.approx(2.0))
    assert dict(TargetExtra.objects.filter(target=target).values_list("key", "value")) == {
        services.TARGET_OBJECT_KEY: "4001",
        services.TARGET_URL_KEY: f"{page.base_url}/elasticc/object/4001/",
    }
    assert page.url == f"{page.base_url}/targets/{target.pk}/"
    assert success(page) == "diaObject 4001 is now a TOM target."
    page.screenshot(path=str(artifacts_dir / "followup_target.png"), full_page=True)
    stale.click("#make-target")
    stale.wait_for_url(f"**/targets/{target.pk}/")
    assert Target.objects.count() == 1
    assert stale.locator("#messages .alert-success").count() == 0
    stale.close()
    page.goto(f"{page.base_url}/elasticc/object/4001/")
    assert page.locator("#make-target").count() == 0
    assert page.locator("#target-link").get_attribute("href") == f"/targets/{target.pk}/"
    page.click("#target-link")
    page.wait_for_url(f"**/targets/{target.pk}/")
    page.wait_for_load_state("networkidle")
    assert "not available on this site" in page.locator("#finderchart-unavailable").inner_text()
    page.click("#photometry-tab")
    page.wait_for_url(f"**/targets/{target.pk}/?tab=photometry")  # TOM's inline tab script ran
    page.goto(f"{page.base_url}/targets/")
    page.wait_for_load_state("networkidle")
    assert page.locator("#skymap-unavailable").count() == 1
    assert "4001" in page.locator("main, body").first.inner_text()
    page.screenshot(path=str(artifacts_dir / "followup_target_list.png"), full_page=True)


def test_followup_page_filters(page_for, plain_user, artifacts_dir):
    load_followup_data()
    services.ask_for_spectra(
        user=plain_user, requester="RESSPECT", objectids=[4001, 4002, 4003, 4004], priorities=[3, 5, 1, 4]
    )
    services.ask_for_spectra(user=plain_user, requester="SNAD", objectids=[4003], priorities=[5])
    page = page_for(plain_user)
    page.goto(f"{page.base_url}/")
    page.click("nav.navbar >> text=Follow-up")
    page.wait_for_url("**/elasticc/followup/")
    # Windows end today by default: the simulated detections are years ago.
    assert wanted(page) == []
    assert page.locator("#wanted-table tbody").inner_text().strip() == "No wanted spectrum matches."

    # At the simulated now: the three known objects (4004 is unknown), most urgent first.
    followup_page(page, mjd_now=MJD_NOW)
    everything = [(4002, "RESSPECT", 5), (4003, "SNAD", 5), (4001, "RESSPECT", 3), (4003, "RESSPECT", 1)]
    assert wanted(page) == everything
    assert page.locator("#id_mjd_now").input_value() == "60010.0"
    mags = {int(r[0]): " ".join(r[7].split()) for r in table(page, "#wanted-table")}
    assert mags == {4001: "20.00 @60007.0", 4002: "21.00 @60000.0", 4003: "22.00 @60007.0"}
    page.screenshot(path=str(artifacts_dir / "followup_filters_all.png"), full_page=True)
    # detected in the last 5 days: since 60005
    followup_page(page, mjd_now=MJD_NOW, detected_in_last_days=5)
    assert wanted(page) == [(4003, "SNAD", 5), (4001, "RESSPECT", 3), (4003, "RESSPECT", 1)]
    # detected since an MJD (the "last days" control left as the page shows it)
    followup_page(page, mjd_now=MJD_NOW, detected_since_mjd=60009)
    assert page.locator("#followup-filters .alert-danger").count() == 0
    assert wanted(page) == [(4003, "SNAD", 5), (4003, "RESSPECT", 1)]
    page.screenshot(path=str(artifacts_dir / "followup_filters_since.png"), full_page=True)
    # no brighter than a magnitude in a band
    followup_page(page, mjd_now=MJD_NOW, lim_mag=21.5, lim_mag_band="r")
    assert wanted(page) == [(4002, "RESSPECT", 5), (4001, "RESSPECT", 3)]
    followup_page(page, mjd_now=MJD_NOW, lim_mag=20.5, lim_mag_band="g")
    assert wanted(page) == []
    # requested since: everything was asked for just now
    followup_page(page, mjd_now=MJD_NOW, requested_since="2000-01-01 00:00")
    assert wanted(page) == everything
    followup_page(page, mjd_now=MJD_NOW, requested_since="2100-01-01 00:00")
    assert wanted(page) == []
    # an earlier simulated now: 4003 was not detected yet, 4001 only once
    followup_page(page, mjd_now=60003.0)
    assert wanted(page) == [(4002, "RESSPECT", 5), (4001, "RESSPECT", 3)]

    # Plans and reports, and the facility filter.
    services.plan_spectrum(user=plain_user, objectid=4002, facility="Keck", plantime=datetime(2026, 3, 5, tzinfo=UTC))
    services.plan_spectrum(user=plain_user, objectid=4003, facility="SALT", plantime=datetime(2026, 3, 4, tzinfo=UTC))
    services.report_spectrum(user=plain_user, objectid=4001, facility="Keck", mjd=60009.0, z=0.05, classid=2232)
    services.report_spectrum(user=plain_user, objectid=4003, facility="SALT", mjd=60001.0, z=None, classid=300)
    followup_page(page, mjd_now=MJD_NOW)
    assert [r[:2] for r in table(page, "#plans-table")] == [["4002", "Keck"]]  # SALT's plan went with its report
    assert table(page, "#reports-table") == [
        ["4001", "Keck", "60009.000", "0.05", "2232 KN"],
        ["4003", "SALT", "60001.000", "?", "300 NotClassified"],
    ]
    # Claimed (4002) and recently observed (4001: MJD 60009 >= 60003) are not wanted;
    # 4003's spectrum (60001) is older than 7 days before 60010.
    assert wanted(page) == [(4003, "SNAD", 5), (4003, "RESSPECT", 1)]
    followup_page(page, mjd_now=MJD_NOW, not_claimed_in_last_days=0, no_spectra_in_last_days=0)
    assert wanted(page) == everything
    followup_page(page, mjd_now=MJD_NOW, no_spectra_in_last_days=10)
    assert wanted(page) == []
    followup_page(page, mjd_now=MJD_NOW, facility="Keck")
    assert [r[:2] for r in table(page, "#plans-table")] == [["4002", "Keck"]]
    assert [r[:2] for r in table(page, "#reports-table")] == [["4001", "Keck"]]
    assert page.locator("#id_facility").input_value() == "Keck"
    page.screenshot(path=str(artifacts_dir / "followup_filters_facility.png"), full_page=True)
    followup_page(page, facility="SALT")
    assert table(page, "#plans-table") == []
    assert [r[:2] for r in table(page, "#reports-table")] == [["4003", "SALT"]]
    # Bad filters are reported, and no list is shown for other filters than the form shows.
    page.expect_status(400)
    followup_page(page, mjd_now=MJD_NOW, lim_mag=21.5)
    assert "lim_mag and lim_mag_band go together" in page.locator("#followup-filters .alert-danger").inner_text()
    assert page.locator("#wanted-none").inner_text() == "Correct the filters above."
    assert page.locator("#id_lim_mag").input_value() == "21.5"
    page.screenshot(path=str(artifacts_dir / "followup_filters_error.png"), full_page=True)
    page.expect_status(400)
    followup_page(page, mjd_now=MJD_NOW, detected_since_mjd=60009, detected_in_last_days=5)
    assert "not both" in page.locator("#followup-filters .alert-danger").inner_text()
    assert page.locator("#wanted-none").inner_text() == "Correct the filters above."
