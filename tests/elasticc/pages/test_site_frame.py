"""The site frame (issue 13 item 8): our home, 404 and 500 pages, the ELAsTiCC
navbar, the favicon, the SQL help page, the API docs in the frame, the user
pages of TOM Toolkit as we override them, and OpenAPI without docstrings."""

from __future__ import annotations

import json

import pytest
from django.test import Client

NAVBAR = {
    "Summary": "/elasticc/summary/",
    "Classifiers": "/elasticc/metrics/",
    "Objects": "/elasticc/object/",
    "Follow-up": "/elasticc/followup/",
    "Stream": "/elasticc/stream/",
    "SQL": "/elasticc/sql/",
    "API docs": "/api/docs/",
}


@pytest.mark.django_db
def test_home_is_the_elasticc_front_page_with_our_navbar(client, plain_user):
    client.force_login(plain_user)
    html = client.get("/").content.decode()
    assert "Congratulations" not in html
    assert "Customize this page" not in html
    assert 'id="elasticc-counts"' in html
    for label, url in NAVBAR.items():
        assert f'href="{url}">{label}</a>' in html, label
    # Offline-broken TOM Toolkit entries are not offered.
    assert "Data Services" not in html
    assert 'href="/targets/"' not in html
    assert 'href="/users/"' not in html  # staff only
    assert 'rel="icon" type="image/svg+xml"' in html


@pytest.mark.django_db
def test_anonymous_home_goes_to_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_favicon_needs_no_login(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"].endswith("tom_desc/favicon.svg")


@pytest.mark.django_db
def test_404_is_ours_in_the_frame(client, plain_user):
    client.force_login(plain_user)
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "black-hole" not in html
    assert "Not found" in html
    assert 'class="navbar' in html
    assert response.templates[0].name == "404.html"


@pytest.mark.django_db
def test_500_is_ours(settings, plain_user):
    settings.DEBUG = False
    settings.DEBUG_PROPAGATE_EXCEPTIONS = False
    client = Client(raise_request_exception=False)
    client.force_login(plain_user)
    from unittest import mock

    with mock.patch("elasticc.pages.views.SqlHelpView.get_context_data", side_effect=RuntimeError("boom")):
        response = client.get("/elasticc/sql/")
    assert response.status_code == 500
    assert "Server error" in response.content.decode()


@pytest.mark.django_db
def test_sql_page_documents_the_endpoint_and_client(client, plain_user):
    client.force_login(plain_user)
    html = client.get("/elasticc/sql/").content.decode()
    assert "/db/runsqlquery/" in html
    assert "TomClient" in html
    assert "/db/submitsqlquery/" in html
    assert f'href="/users/{plain_user.pk}/update/"' in html


@pytest.mark.django_db
def test_api_docs_in_the_site_frame_with_a_way_back(client, plain_user):
    client.force_login(plain_user)
    html = client.get("/api/docs/").content.decode()
    assert 'class="navbar' in html
    assert 'id="swagger-ui"' in html
    assert "Back to ELAsTiCC" in html
    assert "swagger-ui-bundle.js" in html


@pytest.mark.django_db
def test_profile_shows_group_names(client, broker_user):
    client.force_login(broker_user)
    html = client.get("/users/profile/").content.decode()
    assert "&lt;Group" not in html
    assert "<Group" not in html
    assert "elasticc_broker" in html
    assert 'title="Edit user and API token"' in html


@pytest.mark.django_db
def test_user_edit_page_is_titled_for_the_token(client, plain_user):
    client.force_login(plain_user)
    html = client.get(f"/users/{plain_user.pk}/update/").content.decode()
    assert "Edit user and API token" in html
    assert "Regenerate API Token" in html


@pytest.mark.django_db
def test_openapi_has_no_developer_docstrings(client, plain_user):
    client.force_login(plain_user)
    schema = json.loads(client.get("/api/schema/?format=json").content)
    descriptions = [op.get("description", "") for ops in schema["paths"].values() for op in ops.values()]
    descriptions += [c.get("description", "") for c in schema["components"]["schemas"].values()]
    from elasticc.api import views

    for viewset in (views.KeysetListViewSet, views.DiaAlertViewSet, views.BrokerMessageViewSet):
        first_line = (viewset.__doc__ or "").strip().splitlines()[0]
        assert all(first_line not in text for text in descriptions), viewset
    # Explicit public descriptions stay.
    assert any("Keyset-paginated" in text for text in descriptions)
