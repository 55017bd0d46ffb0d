"""Login with the exact session + CSRF sequence of the README (REST API, "Authentication")."""

import re

import pytest

from tests.builders import PASSWORD

pytestmark = pytest.mark.django_db


def _csrf_login(client, username: str, password: str):
    client.get("/accounts/login/")
    token = client.cookies["csrftoken"].value
    return client.post(
        "/accounts/login/",
        {"username": username, "password": password, "csrfmiddlewaretoken": token},
        follow=True,
    )


def test_login_sequence_reaches_elasticc_page_in_tom_frame(admin_user):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    response = _csrf_login(client, admin_user.username, PASSWORD)
    assert response.status_code == 200
    page = client.get("/elasticc/")
    html = page.content.decode()
    assert page.status_code == 200
    assert 'class="navbar' in html  # TOM Toolkit frame
    assert re.search(r'<a class="nav-link[^"]*" href="/elasticc/summary/">Summary</a>', html)  # our navbar
    assert "What this TOM holds" in html


def test_bad_password_shows_classic_message(admin_user):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    response = _csrf_login(client, admin_user.username, "wrong")
    assert response.status_code == 200
    assert "Please enter a correct" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_anonymous_page_redirects_to_login(client):
    response = client.get("/elasticc/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_logout(client, admin_user):
    client.force_login(admin_user)
    response = client.post("/accounts/logout/", follow=True)
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
