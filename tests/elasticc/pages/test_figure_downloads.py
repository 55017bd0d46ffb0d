"""Every figure and table of the metrics and object pages links CSV and JSON
of its data, from endpoints in the OpenAPI schema, and the link answers
(issue 13 item 5), on the hand-made metrics data set."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.responses import body


def _links(html: str) -> list[str]:
    return [unescape(href) for href in re.findall(r'href="(/elasticc/metricsdata/[^"]*)"', html)]


def _by_format(links: list[str]) -> dict[str, set[str]]:
    """Each linked query (path plus parameters, format left out) -> the formats linked."""
    found: dict[str, set[str]] = {}
    for link in links:
        url = urlsplit(link)
        query = parse_qs(url.query)
        fmt = query.pop("format", ["json"])[0]
        key = url.path + "?" + "&".join(f"{k}={v[0]}" for k, v in sorted(query.items()))
        found.setdefault(key, set()).add(fmt)
    return found


def _documented(schema: dict, path: str) -> bool:
    return any(re.fullmatch(re.sub(r"\{[^}]+\}", r"[^/]+", template), path) for template in schema["paths"])


def _check(client, schema: dict, page_url: str, expected: list[str]) -> dict[str, set[str]]:
    """The page's download links: each in CSV and JSON, documented and answering 200; `expected` paths among them."""
    response = client.get(page_url)
    assert response.status_code == 200, page_url
    found = _by_format(_links(response.content.decode()))
    for key, formats in found.items():
        assert formats == {"csv", "json"}, (page_url, key, formats)
        assert _documented(schema, key.split("?")[0]), key
    for path in expected:
        assert any(key.startswith(path) for key in found), (page_url, path, sorted(found))
    for link in _links(response.content.decode()):
        answer = client.get(link)
        assert answer.status_code == 200, link
        body(answer)
    return found


@pytest.mark.django_db
def test_every_figure_downloads_csv_and_json_from_documented_endpoints(client_for, admin_user, fixture_ids):
    client = client_for(admin_user)
    schema = client.get("/api/schema/?format=json").json()
    a, b = fixture_ids["A"], fixture_ids["B"]
    found = _check(
        client,
        schema,
        "/elasticc/metrics/?mode=best&level=category",
        ["/elasticc/metricsdata/comparison/?", "/elasticc/metricsdata/comparison/classes/?"],
    )
    assert "/elasticc/metricsdata/comparison/classes/?level=category&mode=best" in found
    found = _check(
        client,
        schema,
        f"/elasticc/metrics/compare/?a={a}&b={b}&mode=best&level=category",
        [
            f"/elasticc/metricsdata/{a}/confusion/?",
            f"/elasticc/metricsdata/{b}/confusion/?",
            "/elasticc/metricsdata/pair/f1/?",
            "/elasticc/metricsdata/comparison/classes/?",
        ],
    )
    assert f"/elasticc/metricsdata/{a}/confusion/?level=category&mode=best" in found
    assert f"/elasticc/metricsdata/pair/f1/?a={a}&b={b}&level=category&mode=best" in found
    _check(
        client,
        schema,
        f"/elasticc/metrics/{a}/",
        [f"/elasticc/metricsdata/{a}/{name}/" for name in ("confusion", "delays", "completeness", "trueprob")],
    )
    _check(
        client,
        schema,
        "/elasticc/stream/",
        ["/elasticc/metricsdata/stream/nights/", "/elasticc/metricsdata/stream/lag/"],
    )
    _check(
        client,
        schema,
        "/elasticc/object/1001/",
        [f"/elasticc/metricsdata/object/1001/{name}/" for name in ("lightcurve", "alerts", "classifications")],
    )
