"""Keyset pagination: walks, concurrent inserts, offsets, limits."""

from __future__ import annotations

import queue
import threading

import pytest
from django.db import connection

from elasticc.api.pagination import MAX_LIMIT, MAX_OFFSET
from tests.builders import add_objects


def _walk(client, url: str, on_page=None) -> list[int]:
    seen: list[int] = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        seen.extend(row["diaObjectId"] for row in body["results"])
        url = body["next"]
        if on_page is not None:
            on_page(seen)
    return seen


@pytest.mark.django_db
def test_next_links_are_absolute_and_walk_every_row_once(client_for, plain_user):
    add_objects([(i, 1.0, 2.0) for i in range(1, 24)])
    client = client_for(plain_user)
    first = client.get("/elasticc/diaobject/?limit=5").json()
    assert first["next"].startswith("http://testserver/elasticc/diaobject/?")
    assert "limit=5" in first["next"]
    assert first["count"] == 23
    assert _walk(client, "/elasticc/diaobject/?limit=5") == list(range(1, 24))


@pytest.mark.django_db
def test_previous_links_walk_back(client_for, plain_user):
    add_objects([(i, 1.0, 2.0) for i in range(1, 13)])
    client = client_for(plain_user)
    page = client.get("/elasticc/diaobject/?limit=5&after=10").json()
    assert [r["diaObjectId"] for r in page["results"]] == [11, 12]
    assert page["next"] is None
    back = client.get(page["previous"]).json()
    assert [r["diaObjectId"] for r in back["results"]] == [6, 7, 8, 9, 10]
    back = client.get(back["previous"]).json()
    assert [r["diaObjectId"] for r in back["results"]] == [1, 2, 3, 4, 5]
    assert back["previous"] is None
    assert [r["diaObjectId"] for r in client.get(back["next"]).json()["results"]] == [6, 7, 8, 9, 10]


@pytest.mark.django_db
def test_offset_still_works_within_its_bound(client_for, plain_user):
    add_objects([(i, 1.0, 2.0) for i in range(1, 30)])
    client = client_for(plain_user)
    page = client.get("/elasticc/diaobject/?limit=4&offset=8").json()
    assert [r["diaObjectId"] for r in page["results"]] == [9, 10, 11, 12]
    assert "after=12" in page["next"]
    assert "before=9" in page["previous"]
    too_deep = client.get(f"/elasticc/diaobject/?offset={MAX_OFFSET + 1}")
    assert too_deep.status_code == 400
    assert "next" in too_deep.json()["error"]
    assert client.get(f"/elasticc/diaobject/?limit={MAX_LIMIT + 1}").status_code == 400
    assert client.get("/elasticc/diaobject/?limit=0").status_code == 400
    assert client.get("/elasticc/diaobject/?after=3&offset=2").status_code == 400
    assert len(client.get(f"/elasticc/diaobject/?limit={MAX_LIMIT}").json()["results"]) == 29


@pytest.mark.django_db
def test_default_page_is_100_rows(client_for, plain_user):
    add_objects([(i, 1.0, 2.0) for i in range(1, 251)])
    body = client_for(plain_user).get("/elasticc/diaobject/").json()
    assert len(body["results"]) == 100
    assert body["results"][-1]["diaObjectId"] == 100


class _Writer(threading.Thread):
    """Inserts rows through its own database connection whenever told to, and
    acknowledges once they are committed."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.todo: queue.Queue = queue.Queue()
        self.done: queue.Queue = queue.Queue()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while (ids := self.todo.get()) is not None:
                add_objects([(i, 0.0, 0.0) for i in ids])
                self.done.put(len(ids))
        except BaseException as exc:
            self.error = exc
            self.done.put(0)
        finally:
            connection.close()


def _walk_while_inserting(client, url: str, next_new_id) -> tuple[list[int], list[int]]:
    """Walk `url`; after each page another connection inserts three rows: one
    behind the walk, one just ahead of it and one at the far end."""
    writer = _Writer()
    writer.start()
    inserted: list[int] = []

    def insert(seen: list[int]) -> None:
        ids = next_new_id(seen[-1] if seen else 0)
        writer.todo.put(ids)
        writer.done.get(timeout=30)
        assert writer.error is None, writer.error
        inserted.extend(ids)

    try:
        seen = _walk(client, url, on_page=insert)
    finally:
        writer.todo.put(None)
        writer.join(timeout=30)
    assert writer.error is None, writer.error
    return seen, inserted


@pytest.mark.django_db(transaction=True)
def test_walk_sees_every_row_exactly_once_while_a_writer_inserts(client_for, plain_user):
    initial = list(range(10, 2010, 10))  # 200 rows, gaps for newcomers
    add_objects([(i, 0.0, 0.0) for i in initial])
    client = client_for(plain_user)
    far = iter(range(1_000_000, 2_000_000))

    def newcomers(cursor: int) -> list[int]:
        # behind the cursor, just ahead of it, and past every existing row
        return [cursor - 3, cursor + 1, next(far)]

    seen, inserted = _walk_while_inserting(client, "/elasticc/diaobject/?limit=7", newcomers)
    assert len(seen) == len(set(seen)), "a row was returned twice"
    assert set(initial) <= set(seen), "a row that existed before the walk was skipped"
    assert seen == sorted(seen)
    assert set(seen) - set(initial) <= set(inserted)
    assert any(i in seen for i in inserted)  # rows ahead of the walk do show up


@pytest.mark.django_db(transaction=True)
def test_offset_paging_would_repeat_rows_under_the_same_writer(client_for, plain_user):
    """The same interference breaks OFFSET paging, so the test above can fail."""
    add_objects([(i, 0.0, 0.0) for i in range(10, 410, 10)])
    client = client_for(plain_user)
    writer = _Writer()
    writer.start()
    seen: list[int] = []
    try:
        for offset in range(0, 40, 7):
            body = client.get(f"/elasticc/diaobject/?limit=7&offset={offset}").json()
            seen.extend(r["diaObjectId"] for r in body["results"])
            writer.todo.put([seen[-1] - 3])
            writer.done.get(timeout=30)
    finally:
        writer.todo.put(None)
        writer.join(timeout=30)
    assert len(seen) != len(set(seen))
