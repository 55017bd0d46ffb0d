"""Decoding the SQL endpoint's responses (streamed or not)."""

from __future__ import annotations

import json

from tests.responses import body


def sql(client, query, subdict=None, **extra):
    """POST to /db/runsqlquery/; returns (http status, decoded JSON)."""
    data = {"query": query, **extra}
    if subdict is not None:
        data["subdict"] = subdict
    response = client.post("/db/runsqlquery/", data, format="json")
    return response.status_code, json.loads(body(response))
