"""The Python client (db/client/tom_client.py, imported from its file as a
user who copied it would) against a live server, the example script, and the
example notebook executed against that server."""

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rest_framework.authtoken.models import Token

from db.models import LongQuery
from tests.builders import PASSWORD, expected_confusion, insert_small_sample, load_example_sample

pytestmark = pytest.mark.django_db(transaction=True)
BASE_DIR = Path(__file__).resolve().parents[2]


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tom_client = _load("tom_client", BASE_DIR / "db" / "client" / "tom_client.py")


@pytest.fixture
def runner(subprocess_env, tmp_path):
    """A `long_query_runner --loop` process on the test database."""
    env = {**subprocess_env, "LONG_QUERY_DIR": str(tmp_path / "results")}
    process = subprocess.Popen(
        [sys.executable, "manage.py", "long_query_runner", "--loop", "--poll", "0.3"],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    yield process
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err


def test_login_and_original_interface(live_server, broker_user):
    tom = tom_client.TomClient(live_server.url, "desc_broker", PASSWORD)
    res = tom.get("elasticc/classids/")
    assert res.status_code == 200
    res = tom.post("db/runsqlquery/", json={"query": "SELECT 1 AS one"})
    assert res.status_code == 200
    assert res.json() == {"columns": ["one"], "rows": [{"one": 1}], "status": "ok"}
    res = tom.put("elasticc/brokermessage/", json={"alertId": "not a number"})
    assert res.status_code == 400  # through CSRF and permissions, rejected on content
    assert "error" in res.json()
    res = tom.request("POST", "/db/runsqlquery/", json={"query": "SELECT 2 AS two"})
    assert res.json()["rows"] == [{"two": 2}]


def test_passwordfile_and_bad_password(live_server, plain_user, tmp_path):
    pwfile = tmp_path / "pw"
    pwfile.write_text(PASSWORD + "\n")
    tom = tom_client.TomClient(live_server.url, "desc_user", passwordfile=str(pwfile))
    assert tom.runsqlquery("SELECT current_user AS u") == [{"u": f"elasticc_ro_broker_u{plain_user.pk}"}]
    with pytest.raises(RuntimeError, match="wrong username or password"):
        tom_client.TomClient(live_server.url, "desc_user", "wrong")
    with pytest.raises(RuntimeError, match="Must give either password or passwordfile"):
        tom_client.TomClient(live_server.url, "desc_user")


def test_token_auth(live_server, admin_user):
    token, _ = Token.objects.get_or_create(user=admin_user)
    tom = tom_client.TomClient(live_server.url, token=token.key)
    assert tom.runsqlquery("SELECT current_user AS u") == [{"u": "elasticc_ro_admin"}]
    with pytest.raises(tom_client.TomError, match="HTTP 403"):
        list(tom_client.TomClient(live_server.url, token="0" * 40).iterate("elasticc/diaobject/"))


def test_runsqlquery_returns_rows_or_raises_the_server_error(live_server, plain_user):
    tom = tom_client.TomClient(live_server.url, "desc_user", PASSWORD)
    rows = tom.runsqlquery(
        ["SELECT %(a)s::int AS a", "SELECT classid, name FROM elasticc_classid WHERE classid IN %(ids)s ORDER BY 1"],
        [{"a": 1}, {"ids": [111, 112]}],
    )
    assert rows == [{"classid": 111, "name": "Ia"}, {"classid": 112, "name": "Ib/c"}]
    with pytest.raises(tom_client.TomError, match="permission denied for table auth_user"):
        tom.runsqlquery("SELECT * FROM auth_user")
    with pytest.raises(tom_client.TomError, match="number of queries and subdicts must match"):
        tom.runsqlquery(["SELECT 1", "SELECT 2"], [{}])


def test_iterate_follows_every_page(live_server, admin_user):
    insert_small_sample()
    tom = tom_client.TomClient(live_server.url, "desc_admin", PASSWORD)
    objects = list(tom.iterate("elasticc/diaobject/", params={"limit": 1}))
    assert [o["diaObjectId"] for o in objects] == [101, 102, 103]


@pytest.mark.slow
def test_long_query_returns_a_dataframe(live_server, broker_user, runner):
    tom = tom_client.TomClient(live_server.url, "desc_broker", PASSWORD)
    query = (
        "SELECT classid, name, level FROM elasticc_classid WHERE level = %(level)s AND taxonomy = 'elasticc' "
        "ORDER BY classid"
    )
    for fmt in ("parquet", "csv"):
        frame = tom.long_query(query, {"level": 1}, format=fmt, poll_interval=0.3, max_wait=120)
        assert frame.to_dict("records") == [
            {"classid": 0, "name": "Static/Other", "level": 1},
            {"classid": 1, "name": "Non-Recurring", "level": 1},
            {"classid": 2, "name": "Recurring", "level": 1},
        ]
    with pytest.raises(tom_client.TomError, match="permission denied for table elasticc_diaobject"):
        tom.long_query("SELECT * FROM elasticc_diaobject", poll_interval=0.3, max_wait=120)


def test_long_query_gives_up_after_max_wait_without_a_runner(live_server, broker_user):
    """No long_query_runner: the query stays queued and long_query raises
    after max_wait (not after the default hour), saying why."""
    tom = tom_client.TomClient(live_server.url, "desc_broker", PASSWORD)
    started = time.monotonic()
    with pytest.raises(tom_client.TomError, match=r"still queued after 0.5 s \(is a long_query_runner running"):
        tom.long_query("SELECT 1 AS one", poll_interval=0.1, max_wait=0.5)
    assert time.monotonic() - started < 10
    assert list(LongQuery.objects.values_list("status", flat=True)) == [LongQuery.Status.QUEUED]


@pytest.mark.slow
def test_example_script_and_notebook_reproduce_the_confusion_counts(
    live_server, admin_user, shared_dir, runner, artifacts_dir, monkeypatch
):
    expected_dir = shared_dir / "elasticc" / "sample" / "expected"
    load_example_sample(expected_dir)
    expected = expected_confusion(expected_dir)

    example = _load("classifier_true_class", BASE_DIR / "examples" / "classifier_true_class.py")
    tom = example.TomClient(live_server.url, "desc_admin", PASSWORD)
    counts = example.confusion_counts(tom)
    got = {(r.classifiername, r.trueclassid, r.classid): r.n for r in counts.itertuples()}
    assert got == expected

    done = subprocess.run(
        [
            sys.executable,
            "examples/classifier_true_class.py",
            "--url",
            live_server.url,
            "--username",
            "desc_admin",
            "--password",
            PASSWORD,
        ],
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "FakeBroker Oracle (classifier" in done.stdout
    assert "M-dwarf Flare" in done.stdout

    run_notebook = _load("run_notebook", BASE_DIR / "examples" / "run_notebook.py")
    monkeypatch.setenv("TOM_URL", live_server.url)
    monkeypatch.setenv("TOM_USERNAME", "desc_admin")
    monkeypatch.setenv("TOM_PASSWORD", PASSWORD)
    output = artifacts_dir / "classifier_true_class.ipynb"
    nb = run_notebook.execute(BASE_DIR / "examples" / "classifier_true_class.ipynb", output, timeout=300)
    outputs = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"]
    text = json.dumps([out.get("text", "") for out in outputs])
    assert "identical to the quick query: True" in text
    oracle_diagonal = expected[("Oracle", 112, 112)]
    assert "Ib/c" in text
    assert str(oracle_diagonal) in text
    assert os.path.getsize(output) > 0
