"""The Content-Security-Policy of the pages (django-csp, settings): every
inline script carries the response's nonce and no inline event handler is
left, so the pages work under the policy (tests/elasticc/pages/test_browser.py
checks that in Chromium)."""

from __future__ import annotations

import re


def test_pages_carry_a_content_security_policy_matching_their_scripts(client, admin_user, fixture_ids):
    client.force_login(admin_user)
    for url in ("/elasticc/", f"/elasticc/metrics/{fixture_ids['A']}/", "/elasticc/object/1001/", "/api/docs/"):
        response = client.get(url)
        assert response.status_code == 200
        policy = response["Content-Security-Policy"]
        assert "default-src 'self'" in policy
        assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
        html = response.content.decode()
        scripts = re.findall(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)([^>]*)>", html)
        for attributes in scripts:
            nonce = re.search(r'nonce="([^"]+)"', attributes)
            assert nonce, (url, attributes)
            assert f"'nonce-{nonce.group(1)}'" in policy, url
        assert not re.search(r"\son[a-z]+=\"", html), url  # inline handlers never run under the policy


def test_tom_toolkit_pages_run_their_inline_scripts_but_load_nothing_external(client, admin_user):
    """TOM Toolkit's target pages: inline scripts allowed (they have no nonce),
    every source still this site only, no CDN viewer left in the page."""
    from guardian.shortcuts import assign_perm
    from tom_targets.models import Target

    client.force_login(admin_user)
    target = Target.objects.create(name="csp-target", type=Target.SIDEREAL, ra=10.0, dec=-5.0)
    assign_perm("tom_targets.view_target", admin_user, target)
    for url in ("/targets/", f"/targets/{target.pk}/"):
        response = client.get(url)
        assert response.status_code == 200, url
        policy = response["Content-Security-Policy"]
        script_src = policy.split("script-src")[1].split(";")[0]
        assert "'unsafe-inline'" in script_src, url
        assert "nonce-" not in script_src, url  # a nonce would switch 'unsafe-inline' off
        assert "default-src 'self'" in policy, url
        html = response.content.decode()
        assert not re.search(r"<(script|img|iframe)[^>]*\ssrc=\"(https?:)?//", html), url
        assert not re.search(r"<link[^>]*\shref=\"(https?:)?//", html), url
        assert 'fetch("https://' not in html, url
    ours = client.get("/elasticc/")["Content-Security-Policy"]
    assert "'unsafe-inline'" not in ours.split("script-src")[1].split(";")[0]
