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
