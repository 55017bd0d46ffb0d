"""The one way tests put rows in the database: through the production write paths.

- Simulation rows (objects, sources, forced sources, alerts, truth) go in
  through `elasticc.ingest.bulk_copy` (arrow tables, `insert_idempotent`),
  the path every loader shares: parent tables, row-count triggers, replays
  add nothing. Tests that are about a loader call the loader itself.
- Alerts are marked sent by `elasticc.stream.alert_sender.record_sent`.
- Broker messages go through `elasticc.brokers.parsing` and
  `elasticc.brokers.storage.store_broker_messages` (REST or Kafka form);
  classifiers are registered by it, never inserted by hand.
- Users and groups, and long queries, through the ORM as the production code
  does (`db.long_queries.submit_long_query`).

Pure payload builders (dicts) live here too. The only thing a builder sets
that the write path takes from the database clock is a message's
`descingesttimestamp` (`store_kafka_messages(ingested=...)`), so tests of
delay metrics have known answers.
"""

from __future__ import annotations

import csv
import itertools
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from django.contrib.auth.models import Group, User
from django.db import connection, transaction

from elasticc.brokers.parsing import MessageOrigin, parse_broker_message, parse_broker_messages
from elasticc.brokers.storage import StoreResult, store_broker_messages
from elasticc.ingest.bulk_copy import LOAD_ORDER, arrow_table, insert_idempotent
from elasticc.stream.alert_sender import record_sent

PASSWORD = "correct-horse-battery-staple"
T0 = 1_700_000_000_000  # ms

# --- users ----------------------------------------------------------------------------


def make_user(username: str, *groups: str, staff: bool = False) -> User:
    """A user with a password (PASSWORD) in the named groups."""
    user = User.objects.create_user(username=username, password=PASSWORD, is_staff=staff)
    for name in groups:
        user.groups.add(Group.objects.get_or_create(name=name)[0])
    return user


# --- broker message payloads (pure dicts) ---------------------------------------------------


def broker_message_v0_9_1(
    alert: int,
    *,
    source: int | None = None,
    classifier: str = "NugentClassifier",
    probs=((111, 0.75), (112, 0.25)),
) -> dict:
    """A v0_9_1 brokerClassification message (JSON form) about `alert`;
    its diaSourceId is `source`, by default alert * 10."""
    return {
        "alertId": alert,
        "diaSourceId": alert * 10 if source is None else source,
        "elasticcPublishTimestamp": T0 + alert,
        "brokerIngestTimestamp": T0 + alert + 500,
        "brokerName": "FakeBroker",
        "brokerVersion": "v1.0",
        "classifierName": classifier,
        "classifierParams": "100%",
        "classifications": [{"classId": c, "probability": p} for c, p in probs],
    }


def broker_message_v0_9(
    alert: int,
    classifications: Mapping[tuple[str, str], Mapping[int, float]],
    *,
    source: int | None = None,
    broker: tuple[str, str] = ("TestBroker", "1.0"),
    published_ms: int = T0,
    ingested_ms: int | None = None,
) -> dict:
    """A v0_9 message (several classifiers in one message):
    `classifications` is {(classifierName, classifierParams): {classId: probability}}."""
    return {
        "alertId": alert,
        "diaSourceId": alert if source is None else source,
        "elasticcPublishTimestamp": published_ms,
        "brokerIngestTimestamp": ingested_ms,
        "brokerName": broker[0],
        "brokerVersion": broker[1],
        "classifications": [
            {"classifierName": name, "classifierParams": params, "classId": classid, "probability": p}
            for (name, params), probs in classifications.items()
            for classid, p in probs.items()
        ],
    }


def ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


# --- broker messages: parse + store_broker_messages -------------------------------------------


def store_rest_messages(payloads: Sequence[dict], *, schema_version: str | None = None) -> StoreResult:
    """Store messages as a REST PUT does (parse the list, then store it)."""
    return store_broker_messages(messages=parse_broker_messages(payloads=payloads, schema_version=schema_version))


_offsets = itertools.count(1)


def store_kafka_messages(
    payloads: Sequence[dict],
    *,
    topic: str = "test",
    header_ms: int | None = None,
    ingested: datetime | None = None,
    schema_version: str | None = None,
) -> StoreResult:
    """Store messages as brokerpoll does (each at a fresh offset of `topic`,
    so even equal content is a new message), with Kafka header time
    `header_ms`; `ingested` sets their descingesttimestamp (the database
    clock otherwise) for tests with known delays."""
    messages = [
        parse_broker_message(
            payload,
            index=i,
            schema_version=schema_version,
            origin=MessageOrigin(topic, 0, next(_offsets), header_ms),
        )
        for i, payload in enumerate(payloads)
    ]
    with transaction.atomic():
        result = store_broker_messages(messages=messages)
        if ingested is not None:
            with connection.cursor() as cursor:
                cursor.execute(
                    "UPDATE elasticc_brokermessage SET descingesttimestamp = %s WHERE messagekey = ANY(%s)",
                    [ingested, [m.messagekey for m in messages]],
                )
    return result


@contextmanager
def stored_but_uncommitted(store, /, *args, **kwargs) -> Iterator[None]:
    """Run `store(*args, **kwargs)` in a transaction of another connection
    that stays open (its rows and ids invisible to others) until the block
    ends, then commits."""
    stored, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with transaction.atomic():
                store(*args, **kwargs)
                stored.set()
                release.wait(120)
        except BaseException as exc:
            errors.append(exc)
        finally:
            stored.set()
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    stored.wait(120)
    try:
        if errors:
            raise errors[0]
        yield
    finally:
        release.set()
        thread.join(120)
    if errors:
        raise errors[0]


# --- simulation rows: elasticc.ingest.bulk_copy ------------------------------------------------


def add_rows(tables: Mapping[str, Mapping[str, Sequence[Any]]]) -> dict[str, int]:
    """Insert rows given column-wise per table ({"elasticc_diaobject":
    {"diaobjectid": [...], ...}, ...}) the way the loaders do; columns not
    given are NULL. Returns rows inserted per table."""
    unknown = set(tables) - set(LOAD_ORDER)
    assert not unknown, f"not a simulation table: {sorted(unknown)}"
    arrow = {name: arrow_table(name, columns) for name, columns in tables.items()}
    objectids: set[int] = set()
    for columns in tables.values():
        objectids.update(int(i) for i in columns.get("diaobjectid", ()))
    with transaction.atomic(), connection.cursor() as cursor:
        return insert_idempotent(cursor, arrow, sorted(objectids))


def rows(records: Sequence[Mapping[str, Any]]) -> dict[str, list]:
    """Column-wise form of a list of row dicts (all with the same keys)."""
    return {key: [r[key] for r in records] for key in records[0]} if records else {}


def add_objects(positions: Sequence[tuple[int, float, float]], **columns: Any) -> dict[str, int]:
    """Objects (id, ra, dec); `columns` gives the other columns one value each."""
    n = len(positions)
    return add_rows(
        {
            "elasticc_diaobject": {
                "diaobjectid": [p[0] for p in positions],
                "ra": [p[1] for p in positions],
                "decl": [p[2] for p in positions],
                "isddf": [False] * n,
                **{name: [value] * n for name, value in columns.items()},
            }
        }
    )


def mark_sent(sent: Mapping[int, datetime]) -> int:
    """Mark alerts sent (alertid -> time) as the alert sender does."""
    return record_sent([(alertid, ms(when)) for alertid, when in sent.items()])


def wipe(tables: Sequence[str]) -> None:
    """DELETE (so the row-count triggers see it) every row of `tables`, in order."""
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"DELETE FROM {table}")


# --- the REST API tests' small simulation ----------------------------------------------------

# Statements elasticc.stream.alert_builder.build_alerts runs per page, whatever its size
# (a savepoint, SET LOCAL jit, four SELECTs, the release).
BUILDER_STATEMENTS = 7
N_OBJECTS = 12
SOURCES_PER_OBJECT = 3
FORCED_PER_OBJECT = 5
MJD0 = 60000.0


def object_id(i: int) -> int:
    return 1000 + i


def source_id(i: int, j: int) -> int:
    return object_id(i) * 100 + j


def load_small_sim() -> dict[str, list[int]]:
    """N_OBJECTS objects along the equator, their sources, forced sources,
    alerts (the first of each object marked sent) and truth."""
    add_objects([(object_id(i), 10.0 * i, -30.0 + i) for i in range(N_OBJECTS)], simversion="test", mwebv=0.01)
    sources, forced, alerts, truth, object_truth = [], [], [], [], []
    for i in range(N_OBJECTS):
        oid = object_id(i)
        for j in range(SOURCES_PER_OBJECT):
            sid = source_id(i, j)
            mjd = MJD0 + i + 2.0 * j
            sources.append(
                {
                    "diasourceid": sid,
                    "diaobjectid": oid,
                    "midpointtai": mjd,
                    "filtername": "r",
                    "ra": 10.0 * i,
                    "decl": -30.0 + i,
                    "psflux": 100.0 + j,
                    "psfluxerr": 10.0,
                    "snr": 10.0,
                }
            )
            alerts.append({"alertid": sid, "diasourceid": sid, "diaobjectid": oid})
            truth.append({"diasourceid": sid, "diaobjectid": oid, "mjd": mjd, "detect": True, "gentype": 10})
        for k in range(FORCED_PER_OBJECT):
            forced.append(
                {
                    "diaforcedsourceid": oid * 1000 + k,
                    "diaobjectid": oid,
                    "midpointtai": MJD0 + i - 3.0 + k,
                    "filtername": "g",
                    "psflux": 5.0,
                    "psfluxerr": 1.0,
                }
            )
        object_truth.append({"diaobjectid": oid, "gentype": 10, "zcmb": 0.1})
    add_rows(
        {
            "elasticc_diasource": rows(sources),
            "elasticc_diaforcedsource": rows(forced),
            "elasticc_diaalert": rows(alerts),
            "elasticc_diatruth": rows(truth),
            "elasticc_diaobjecttruth": rows(object_truth),
        }
    )
    mark_sent({source_id(i, 0): datetime.now(UTC) for i in range(N_OBJECTS)})
    return {
        "objects": [object_id(i) for i in range(N_OBJECTS)],
        "sources": [s["diasourceid"] for s in sources],
        "forced": [f["diaforcedsourceid"] for f in forced],
    }


# --- the ELAsTiCC sample, from the loader's oracle CSVs ----------------------------------------

# table, CSV file; CSV columns are the table's with `_id` written `id`.
SAMPLE_TABLES: tuple[tuple[str, str], ...] = (
    ("elasticc_diaobject", "ppdbdiaobject.csv"),
    ("elasticc_diasource", "ppdbdiasource.csv"),
    ("elasticc_diaforcedsource", "ppdbdiaforcedsource.csv"),
    ("elasticc_diaalert", "ppdbalert.csv"),
)


def expected_dir(shared_dir: Path) -> Path:
    return shared_dir / "elasticc" / "sample" / "expected"


def _csv_columns(path: Path) -> dict[str, list]:
    """A CSV file column-wise, names with `_id` written `id`, empty cells None."""
    with path.open(newline="") as fh:
        reader = csv.reader(fh)
        header = [name.replace("_id", "id") for name in next(reader)]
        data = list(reader)
    columns: dict[str, list] = {}
    for i, name in enumerate(header):
        values = [row[i] if row[i] != "" else None for row in data]
        columns[name] = _typed(name, values)
    return columns


def _typed(name: str, values: list) -> list:
    if name == "alertsenttimestamp":
        return [None if v is None else datetime.fromisoformat(v) for v in values]
    if name in {"simversion", "filtername"}:
        return values
    if name in {"isddf", "detect"}:
        return [None if v is None else v.lower() in {"t", "true", "1"} for v in values]
    out = []
    for v in values:
        if v is None:
            out.append(None)
        else:
            try:
                out.append(int(v))
            except ValueError:
                out.append(float(v))
    return out


def load_sample(shared_dir: Path, *, unsent: bool = False, ddf_every: int | None = None) -> dict[str, int]:
    """The sample rows of the loader's oracle (`expected/*.csv`), inserted
    through the loaders' bulk path (so the alert tests are about alerts: a
    loader bug shows up in the loader's own tests, not as a golden-vector
    diff). `unsent` drops the sent times; `ddf_every` n makes every object
    whose id is a multiple of n a deep-drilling one. Returns rows loaded per table."""
    data = {table: _csv_columns(expected_dir(shared_dir) / filename) for table, filename in SAMPLE_TABLES}
    if unsent:
        data["elasticc_diaalert"]["alertsenttimestamp"] = None
    if ddf_every is not None:
        objects = data["elasticc_diaobject"]
        objects["isddf"] = [oid % ddf_every == 0 for oid in objects["diaobjectid"]]
    return add_rows(data)


# --- the SQL tests' samples --------------------------------------------------------------------

TRUTH_GENTYPES = {101: 10, 102: 10, 103: 42}  # diaobjectid -> SNANA gentype (Ia, Ia, TDE)
SMALL_SAMPLE_TABLES = (
    "elasticc_brokerclassification",
    "elasticc_brokermessage",
    "elasticc_brokerclassifier",
    "elasticc_diatruth",
    "elasticc_diaobjecttruth",
    "elasticc_diasource",
    "elasticc_diaobject",
)


def insert_small_sample() -> dict[str, int]:
    """3 objects with truth and sources, one classifier with 2 messages of 2 classifications each."""
    add_rows(
        {
            "elasticc_diaobject": {
                "diaobjectid": [101, 102, 103],
                "ra": [10.0, 11.0, 12.0],
                "decl": [-5.0, -6.0, -7.0],
                "isddf": [False, False, True],
            },
            "elasticc_diasource": {
                "diasourceid": [1001, 1002, 1003],
                "diaobjectid": [101, 102, 103],
                "midpointtai": [60000.5, 60001.5, 60002.5],
                "filtername": ["r", "g", "i"],
                "ra": [10.0, 11.0, 12.0],
                "decl": [-5.0, -6.0, -7.0],
                "psflux": [100, 200, 300],
                "psfluxerr": [10, 10, 10],
                "snr": [10, 20, 30],
            },
            "elasticc_diaobjecttruth": {"diaobjectid": list(TRUTH_GENTYPES), "gentype": list(TRUTH_GENTYPES.values())},
            "elasticc_diatruth": {
                "diasourceid": [1001, 1002, 1003],
                "diaobjectid": [101, 102, 103],
                "mjd": [60000.5, 60001.5, 60002.5],
                "detect": [True, True, True],
                "gentype": [10, 10, 42],
            },
        }
    )
    result = store_rest_messages(
        [
            broker_message_v0_9(1001, {("RandomForest", "v1"): {111: 0.8, 112: 0.2}}),
            broker_message_v0_9(1002, {("RandomForest", "v1"): {111: 0.3, 132: 0.7}}),
        ]
    )
    (registered,) = result.new_classifiers
    return {"classifierid": registered.classifierid, "brokermessageid": result.first_brokermessageid}


def delete_small_sample() -> None:
    """Undo `insert_small_sample`."""
    wipe(SMALL_SAMPLE_TABLES)


EXAMPLE_CSVS = (
    ("elasticc_diaobject", "ppdbdiaobject.csv"),
    ("elasticc_diasource", "ppdbdiasource.csv"),
    ("elasticc_diaobjecttruth", "diaobjecttruth.csv"),
)
ORACLE_MISS_EVERY = 4  # the "Oracle" classifier says Ia for every 4th source
# The three models of the sample: SNIb templates, KN_K17, M-dwarf flares.
GENTYPE_TO_CLASSID = {20: 112, 50: 121, 82: 122}


def load_example_sample(expected_dir: Path) -> dict[str, int]:
    """The ELAsTiCC sample (objects, sources, object truth) plus two fake
    classifiers that classified every source: "Oracle" (the true class with
    p=0.9, except every 4th source, where it says Ia with p=0.7) and
    "SNeverywhere" (always Ib/c 0.6, Ia 0.4). Returns ids and counts."""
    data = {table: _csv_columns(expected_dir / filename) for table, filename in EXAMPLE_CSVS}
    loaded = add_rows(data)
    truth = dict(
        zip(data["elasticc_diaobjecttruth"]["diaobjectid"], data["elasticc_diaobjecttruth"]["gentype"], strict=True)
    )
    sources = data["elasticc_diasource"]
    payloads = []
    for sid, oid in zip(sources["diasourceid"], sources["diaobjectid"], strict=True):
        miss = sid % ORACLE_MISS_EVERY == 0
        payloads.append(
            broker_message_v0_9(
                sid,
                {
                    ("Oracle", "truth"): {
                        GENTYPE_TO_CLASSID[truth[oid]]: 0.3 if miss else 0.9,
                        111: 0.7 if miss else 0.1,
                    },
                    ("SNeverywhere", "Ib/c"): {112: 0.6, 111: 0.4},
                },
                broker=("FakeBroker", "1.0"),
            )
        )
    result = store_rest_messages(payloads, schema_version="v0_9")
    ids = {c.classifiername: c.classifierid for c in result.new_classifiers}
    loaded["elasticc_brokerclassification"] = result.num_classifications
    return {**loaded, "oracle": ids["Oracle"], "sneverywhere": ids["SNeverywhere"]}


def expected_confusion(expected_dir: Path) -> dict[tuple[str, int, int], int]:
    """(classifier name, true classid, predicted classid) -> count, computed
    from the CSV files alone (the oracle for the SQL workflow)."""
    exact_class = {}
    with (expected_dir / "diaobjecttruth.csv").open(newline="") as fh:
        for row in csv.DictReader(fh):
            exact_class[row["diaobject_id"]] = GENTYPE_TO_CLASSID[int(row["gentype"])]
    counts: dict[tuple[str, int, int], int] = {}
    with (expected_dir / "ppdbdiasource.csv").open(newline="") as fh:
        for row in csv.DictReader(fh):
            true = exact_class[row["diaobject_id"]]
            oracle = 111 if int(row["diasource_id"]) % ORACLE_MISS_EVERY == 0 else true
            for key in (("Oracle", true, oracle), ("SNeverywhere", true, 112)):
                counts[key] = counts.get(key, 0) + 1
    return counts


# --- long queries ----------------------------------------------------------------------------


def submit_long_query(user: User, *queries: str, fmt: str = "csv", **fields: Any):
    """A long query submitted as POST /db/submitsqlquery/ does; `fields`
    then set its state as the runner would (status, finished, ...)."""
    from db.long_queries import submit_long_query as submit
    from db.models import LongQuery
    from db.sql_runner import SqlRequest

    query = submit(user=user, request=SqlRequest(queries=tuple(queries), subdicts=tuple({} for _ in queries)), fmt=fmt)
    if fields:
        LongQuery.objects.filter(pk=query.pk).update(**fields)
        query.refresh_from_db()
    return query


# --- the metrics tests' hand-made data set -------------------------------------------------------
# Four objects, two classifiers; the metrics of this set are worked out by hand in
# tests/elasticc/metrics.

DAY1 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
BROKER_DELAY = timedelta(seconds=10)
OUR_DELAY = timedelta(seconds=2)
# object -> truth gentype (None: no truth row); true classes 111, 112, 122.
OBJECTS = {1001: 10, 1002: 20, 1003: 82, 1004: None}
# (object, source index k) -> sent? Sources at MJD 60000.3 + (0, 2, 5)[k], alert k sent on DAY1 + k days.
SENT = {(1001, 0), (1001, 1), (1002, 0), (1002, 1), (1003, 0), (1003, 1), (1004, 0)}
SOURCE_DAYS = (0, 2, 5)
# Classifier A's messages: (object, k) -> {classid: probability}.
A_MESSAGES = {
    (1001, 0): {112: 0.6, 111: 0.4},
    (1001, 1): {111: 0.7, 112: 0.3},
    (1002, 0): {112: 0.9, 113: 0.1},
    (1002, 1): {113: 0.55, 112: 0.45},
    (1003, 0): {122: 0.8, 121: 0.2},
    (1004, 0): {111: 0.5, 113: 0.5},
}
B_MESSAGES = {(1001, 0): {111: 1.0}}
CLASSIFIER_A = ("A", "p1")
CLASSIFIER_B = ("B", "p1")


def alert_id(obj: int, k: int) -> int:
    return obj * 10 + k


def detection(
    obj: int, k: int, mjd: float, *, ra: float, decl: float, flux: float, fluxerr: float, snr: float, band: str = "r"
) -> dict[str, Any]:
    """The source row of detection `k` of object `obj` (id `alert_id(obj, k)`, as its alert's)."""
    return {
        "diasourceid": alert_id(obj, k),
        "diaobjectid": obj,
        "midpointtai": mjd,
        "filtername": band,
        "ra": ra,
        "decl": decl,
        "psflux": flux,
        "psfluxerr": fluxerr,
        "snr": snr,
    }


def add_alerted_objects(
    objects: Sequence[dict],
    sources: Sequence[dict],
    sent: Mapping[int, datetime],
    *,
    forced: Sequence[dict] | None = None,
    truth: Sequence[dict] | None = None,
) -> None:
    """Objects, their detections each with an alert of the same id, and (when
    given) forced sources and truth; then the alerts in `sent` marked sent."""
    alerts = [
        {"alertid": s["diasourceid"], "diasourceid": s["diasourceid"], "diaobjectid": s["diaobjectid"]} for s in sources
    ]
    tables = {
        "elasticc_diaobject": rows(objects),
        "elasticc_diasource": rows(sources),
        "elasticc_diaalert": rows(alerts),
    }
    if forced is not None:
        tables["elasticc_diaforcedsource"] = rows(forced)
    if truth is not None:
        tables["elasticc_diaobjecttruth"] = rows(truth)
    add_rows(tables)
    mark_sent(sent)


def add_metrics_objects() -> None:
    """Objects, sources, alerts (sent as SENT says), forced sources and truth of the set."""
    objects, sources, forced, truth = [], [], [], []
    sent = {}
    for obj, gentype in OBJECTS.items():
        objects.append(
            {
                "diaobjectid": obj,
                "ra": 10.0 + (obj - 1000) * 0.01,
                "decl": -30.0,
                "isddf": False,
                "hostgal_zphot": 0.25,
                "hostgal_mag_r": 21.5,
            }
        )
        for k, band in enumerate("gri"):
            mjd = 60000.3 + SOURCE_DAYS[k]
            flux = 1000.0 + 100 * k
            sources.append(detection(obj, k, mjd, ra=10.0, decl=-30.0, flux=flux, fluxerr=50.0, snr=20.0, band=band))
            if (obj, k) in SENT:
                sent[alert_id(obj, k)] = DAY1 + timedelta(days=k)
        for i in range(1, 6):
            forced.append(
                {
                    "diaforcedsourceid": obj * 100 + i,
                    "diaobjectid": obj,
                    "midpointtai": 59990.0 + i,
                    "filtername": "griz",
                    "psflux": 10.0 * i,
                    "psfluxerr": 40.0,
                }
            )
        if gentype is not None:
            truth.append({"diaobjectid": obj, "gentype": gentype, "zcmb": 0.1, "peakmjd": 60003.0})
    add_alerted_objects(objects, sources, sent, forced=forced, truth=truth)


def store_metrics_message(
    *, obj: int, k: int, classifications: Mapping[tuple[str, str], Mapping[int, float]]
) -> StoreResult:
    """One broker message about alert (obj, k), published when alert k is
    sent, with the set's delays; `classifications` is
    {(classifierName, classifierParams): {classid: p}} (several classifiers
    in one v0_9 message)."""
    sent = DAY1 + timedelta(days=k)
    hdr = sent + BROKER_DELAY
    payload = broker_message_v0_9(
        alert_id(obj, k), classifications, published_ms=ms(sent), ingested_ms=ms(sent), broker=("TestBroker", "1.0")
    )
    return store_kafka_messages([payload], header_ms=ms(hdr), ingested=hdr + OUR_DELAY, schema_version="v0_9")


def classifier_ids() -> dict[str, int]:
    from elasticc.models import BrokerClassifier

    return dict(BrokerClassifier.objects.values_list("classifiername", "classifierid"))


def load_metrics_data() -> dict[str, int]:
    """The whole set; returns {"A": classifierid, "B": classifierid}."""
    add_metrics_objects()
    for (obj, k), probs in A_MESSAGES.items():
        classifications = {CLASSIFIER_A: probs}
        if (obj, k) in B_MESSAGES:  # one v0_9 message naming two classifiers
            classifications[CLASSIFIER_B] = B_MESSAGES[(obj, k)]
        store_metrics_message(obj=obj, k=k, classifications=classifications)
    ids = classifier_ids()
    return {"A": ids["A"], "B": ids["B"]}


def wipe_metrics_data() -> None:
    """Empty the simulation and broker tables and rebuild the metrics from nothing."""
    from elasticc.metrics.refresh import refresh_metrics

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE elasticc_brokerclassification, elasticc_brokermessage, elasticc_brokerclassifier, "
            "elasticc_diaforcedsource, elasticc_diaobjecttruth, elasticc_diaalert, elasticc_diasource, "
            "elasticc_diaobject CASCADE"
        )
    refresh_metrics(full=True)


# --- the "at N days after first detection" data set ----------------------------------------------
# Two objects and one classifier D whose messages arrive out of source order, one alert
# answered twice: the prediction at N days differs from both latest and best. Worked out
# by hand in tests/elasticc/metrics/test_days_after_detection.py.

DAYS_MJD0 = 60100.25  # first detection of both objects (night 60100, a Monday)
DAYS_SENT0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
# object -> (truth gentype, source offsets in days from DAYS_MJD0); gentype 10 -> 111, 20 -> 112.
DAYS_OBJECTS = {2001: (10, (0.0, 0.5, 2.0, 5.0, 40.0)), 2002: (20, (0.0, 15.0, 25.0))}
CLASSIFIER_D = ("D", "p1")
# Classifier D's messages in the order they are stored: (object, source index k, {classId: p}).
DAYS_MESSAGES = (
    (2001, 2, {113: 0.6, 111: 0.4}),
    (2001, 0, {112: 0.95, 111: 0.05}),
    (2001, 1, {111: 0.5, 112: 0.3}),
    (2001, 1, {121: 0.4, 111: 0.3}),  # the same alert again, later: it wins at that MJD
    (2002, 2, {113: 0.7, 112: 0.3}),
    (2001, 3, {111: 0.7, 113: 0.3}),
    (2001, 4, {122: 0.55, 111: 0.45}),
    (2002, 1, {112: 0.8, 113: 0.2}),
)


def days_source_mjd(obj: int, k: int) -> float:
    return DAYS_MJD0 + DAYS_OBJECTS[obj][1][k]


def add_days_objects() -> None:
    """Objects, sources, alerts (each sent when the night of its source
    starts, in MJD order) and truth of the N-day set."""
    objects, sources, truth = [], [], []
    sent = {}
    for obj, (gentype, offsets) in DAYS_OBJECTS.items():
        objects.append({"diaobjectid": obj, "ra": 20.0, "decl": -10.0, "isddf": False})
        for k, offset in enumerate(offsets):
            mjd = DAYS_MJD0 + offset
            sources.append(detection(obj, k, mjd, ra=20.0, decl=-10.0, flux=500.0, fluxerr=50.0, snr=10.0))
            sent[alert_id(obj, k)] = DAYS_SENT0 + timedelta(days=offset)
        truth.append({"diaobjectid": obj, "gentype": gentype, "zcmb": 0.1, "peakmjd": DAYS_MJD0 + 10})
    add_alerted_objects(objects, sources, sent, truth=truth)


def store_days_message(index: int) -> StoreResult:
    """Message `index` of DAYS_MESSAGES (a fresh Kafka offset, so a repeat is a new message)."""
    obj, k, probs = DAYS_MESSAGES[index]
    sent = DAYS_SENT0 + timedelta(days=DAYS_OBJECTS[obj][1][k])
    payload = broker_message_v0_9(
        alert_id(obj, k), {CLASSIFIER_D: probs}, published_ms=ms(sent), broker=("TestBroker", "1.0")
    )
    return store_kafka_messages([payload], header_ms=ms(sent + BROKER_DELAY), schema_version="v0_9")


# --- the browser tests' three-class set -----------------------------------------------------------
# Nine objects, three of each true class (ELAsTiCC 111 Ia, 112 Ib/c, 121 KN), and two classifiers
# whose per-class F1 is worked out by hand in tests/elasticc/pages/test_browser_pair.py. Object
# 3001 + i is first detected at MJD 60000.3 + 10 i, with 3 + i % 3 sources at THREE_OFFSETS days
# after that (so the number of detections and the detection span vary across classes); every
# alert is sent, in MJD order. Classifier P answers the alerts of sources 0 and 2 (days 0 and 5),
# classifier Q only those of source 0, in the same v0_9 message as P.

THREE_MJD0 = 60000.3
THREE_SENT0 = datetime(2026, 2, 2, 6, 0, tzinfo=UTC)
THREE_OFFSETS = (0.0, 2.0, 5.0, 8.0, 12.0)
THREE_GENTYPES = {111: 10, 112: 20, 121: 50}
# object -> true class
THREE_TRUTH = {3001 + i: classid for i, classid in enumerate((111,) * 3 + (112,) * 3 + (121,) * 3)}
CLASSIFIER_P = ("P", "p1")
CLASSIFIER_Q = ("Q", "q1")
# (object, source index) -> {classId: probability}: P early (source 0) and late (source 2).
THREE_P_MESSAGES = {
    (3001, 0): {112: 0.6, 111: 0.4},
    (3002, 0): {111: 0.9, 112: 0.1},
    (3003, 0): {112: 0.55, 111: 0.45},
    (3004, 0): {111: 0.6, 112: 0.4},
    (3005, 0): {112: 0.8, 111: 0.2},
    (3006, 0): {112: 0.9, 111: 0.1},
    (3007, 0): {121: 0.9, 111: 0.1},
    (3008, 0): {111: 0.6, 121: 0.4},
    (3009, 0): {121: 0.65, 112: 0.35},
    (3001, 2): {111: 0.7, 112: 0.3},
    (3002, 2): {111: 0.8, 112: 0.2},
    (3003, 2): {112: 0.7, 111: 0.3},
    (3004, 2): {112: 0.75, 111: 0.25},
    (3005, 2): {112: 0.6, 111: 0.4},
    (3006, 2): {111: 0.6, 112: 0.4},
    (3007, 2): {121: 0.8, 111: 0.2},
    (3008, 2): {121: 0.85, 111: 0.15},
    (3009, 2): {121: 0.7, 112: 0.3},
}
# Q's one answer per object (source 0): its prediction in every mode.
THREE_Q_MESSAGES = {
    (3001, 0): {111: 0.8, 112: 0.2},
    (3002, 0): {111: 0.7, 121: 0.3},
    (3003, 0): {111: 0.6, 112: 0.4},
    (3004, 0): {112: 0.9, 111: 0.1},
    (3005, 0): {121: 0.5, 112: 0.3},
    (3006, 0): {121: 0.7, 112: 0.3},
    (3007, 0): {121: 0.95, 111: 0.05},
    (3008, 0): {112: 0.6, 121: 0.4},
    (3009, 0): {121: 0.75, 111: 0.25},
}


def three_sources(obj: int) -> list[float]:
    """The MJDs of an object's sources."""
    i = obj - 3001
    return [THREE_MJD0 + 10 * i + offset for offset in THREE_OFFSETS[: 3 + i % 3]]


def load_three_class_data() -> dict[str, int]:
    """The whole set, metrics not refreshed; returns {"P": classifierid, "Q": classifierid}."""
    objects, sources, truth = [], [], []
    sent = {}
    for obj, classid in THREE_TRUTH.items():
        objects.append({"diaobjectid": obj, "ra": 30.0 + (obj - 3000) * 0.01, "decl": -20.0, "isddf": False})
        for k, mjd in enumerate(three_sources(obj)):
            sources.append(detection(obj, k, mjd, ra=30.0, decl=-20.0, flux=800.0, fluxerr=40.0, snr=20.0))
            sent[alert_id(obj, k)] = THREE_SENT0 + timedelta(days=mjd - THREE_MJD0)
        truth.append({"diaobjectid": obj, "gentype": THREE_GENTYPES[classid], "zcmb": 0.1, "peakmjd": mjd})
    add_alerted_objects(objects, sources, sent, truth=truth)
    for (obj, k), probs in THREE_P_MESSAGES.items():
        classifications = {CLASSIFIER_P: probs}
        if (obj, k) in THREE_Q_MESSAGES:  # one v0_9 message naming both classifiers
            classifications[CLASSIFIER_Q] = THREE_Q_MESSAGES[(obj, k)]
        at = sent[alert_id(obj, k)]
        payload = broker_message_v0_9(
            alert_id(obj, k), classifications, published_ms=ms(at), broker=("TestBroker", "1.0")
        )
        store_kafka_messages([payload], header_ms=ms(at + BROKER_DELAY), schema_version="v0_9")
    ids = classifier_ids()
    return {"P": ids["P"], "Q": ids["Q"]}


# --- the follow-up browser tests' set ------------------------------------------------------------
# Four objects with known detections (sent alerts) and r-band forced photometry whose latest
# magnitudes are round (S/N 20); 4004's only alert is unsent, so the world does not know it.

FOLLOWUP_SENT = datetime(2026, 2, 16, 6, 0, tzinfo=UTC)
# object -> ([(source MJD, alert sent?)], r magnitude of its forced points)
FOLLOWUP_OBJECTS = {
    4001: ([(60000.5, True), (60008.5, True)], 20.0),
    4002: ([(60001.5, True)], 21.0),
    4003: ([(60005.5, True), (60009.5, True)], 22.0),
    4004: ([(60006.5, False)], 19.0),
}
FOLLOWUP_FORCED_MJDS = (59998.0, 60000.0, 60004.0, 60007.0)


def followup_flux(mag: float) -> float:
    """The flux (nJy) of an AB magnitude at the stored zero point 31.4."""
    return 10 ** ((31.4 - mag) / 2.5)


def load_followup_data() -> None:
    objects, sources, forced = [], [], []
    sent = {}
    for obj, (detections, mag) in FOLLOWUP_OBJECTS.items():
        objects.append({"diaobjectid": obj, "ra": 150.0 + (obj - 4000) * 0.5, "decl": 2.0, "isddf": False})
        flux = followup_flux(mag)
        for k, (mjd, is_sent) in enumerate(detections):
            sources.append(
                detection(obj, k, mjd, ra=objects[-1]["ra"], decl=2.0, flux=flux, fluxerr=flux / 20, snr=20.0)
            )
            if is_sent:
                sent[alert_id(obj, k)] = FOLLOWUP_SENT + timedelta(days=mjd - 60000.0)
        for i, mjd in enumerate(FOLLOWUP_FORCED_MJDS):
            forced.append(
                {
                    "diaforcedsourceid": obj * 100 + i,
                    "diaobjectid": obj,
                    "midpointtai": mjd,
                    "filtername": "r",
                    "psflux": followup_flux(mag),
                    "psfluxerr": followup_flux(mag) / 20,
                }
            )
    add_alerted_objects(objects, sources, sent, forced=forced)
