"""Broker messages stored: the one write path of REST PUT and Kafka (`brokerpoll`).

Why it is written this way:
- Throughput. A campaign brings hundreds of millions of messages with several
  classifications each, so a batch is stored with three set-based
  statements, never a query per message: (1) classifiers are registered and
  looked up in one `INSERT ... SELECT FROM unnest(...) ON CONFLICT DO
  NOTHING` CTE; (2) the messages go in with one `INSERT ... SELECT FROM
  unnest(...) ON CONFLICT (messagekey) DO NOTHING RETURNING`, which returns
  the ids of exactly the newly inserted ones; (3) the classifications of
  those are COPYed (binary format, rows packed by `struct`) into the parent
  table. The arrays travel as PostgreSQL array literals
  (`elasticc.postgres.array_literals`); timestamps travel as milliseconds
  (float8: brokers send fractional milliseconds, and interval arithmetic is
  float8 anyway) and become timestamptz in SQL. bench/kafka_poll.py --store-probe measures the
  alternatives (one statement with a second data-modifying CTE inserting the
  classifications from array literals, or from binary-adapted arrays):
  PostgreSQL spends about the same CPU per message on all three, and this one
  needs the least Python CPU, which is what limits brokerpoll as its Python
  and database work overlap.
- Idempotency. Each message has a natural identity, `messagekey`
  (`elasticc.brokers.message_key`), with a unique constraint. A replay
  inserts nothing, and classifications are written only for messages that
  were actually inserted. (A classId a message repeated for one classifier
  was left out by parsing; the repeats of new messages are logged here, per
  classifier, so a replay does not log them again.)
- Partitions. Registering a classifier fires the AFTER INSERT trigger that
  creates its partition of `elasticc_brokerclassification` in the same
  transaction, so classifiers are registered before their classifications are
  inserted, and everything (classifiers, messages, classifications) commits
  or rolls back together. If a reader holds the table, the trigger gives up
  after 200 ms and the rows go to the DEFAULT partition until
  `elasticc.brokers.partitions` moves them (ingest never waits on a user). Rows always go into the parent tables, so the
  row-count triggers see them.
- Poison messages. Validation bounds what it can, but a message the database
  still refuses (a data, integrity or size error) would roll back its whole
  batch, and a Kafka consumer would retry that batch forever.
  `store_isolating_refused` halves a refused batch until each refused
  message stands alone, stores everything else and returns the refused ones
  with the reason. A good batch costs nothing extra; k refused messages
  in n cost about 2·k·log2(n) small transactions.
"""

from __future__ import annotations

import logging
import struct
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import repeat

import psycopg
from django.db import connection, transaction

from elasticc.brokers.parsing import BrokerMessageIn, Classifier, ClassifierKey
from elasticc.postgres.array_literals import number_array, text_array
from elasticc.taxonomy.taxonomies import default_taxonomy

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoreResult:
    num_loaded: int
    first_brokermessageid: int | None
    num_classifications: int
    new_classifiers: tuple[Classifier, ...] = field(default_factory=tuple)
    # Classifiers registered before, evaluated in another taxonomy than the
    # one the caller (a brokerpoll source) gave, with the one they keep.
    other_taxonomy: tuple[tuple[Classifier, str], ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Account:
    """The broker account a REST PUT comes from, and how many classifiers
    it may register in all (each is a partition: an abuse bound)."""

    user_id: int
    max_classifiers: int


class ClassifierLimitError(ValueError):
    """Storing would take an account over its number of classifiers."""

    def __init__(self, *, limit: int, registered: int, new: int) -> None:
        self.limit = limit
        super().__init__(
            f"this account has registered {registered} classifiers and these messages would register {new} more; "
            f"at most {limit} are allowed (setting BROKER_MAX_CLASSIFIERS_PER_ACCOUNT)"
        )


# Which of the wanted classifiers exist already (only for a capped account).
_KNOWN_CLASSIFIERS_SQL = """
SELECT count(*) FROM elasticc_brokerclassifier c
JOIN unnest(%s::text[], %s::text[], %s::text[], %s::text[]) AS want(b, v, n, p)
  ON c.brokername = want.b AND c.brokerversion = want.v
 AND c.classifiername = want.n AND c.classifierparams = want.p
"""


@dataclass(frozen=True)
class Refused:
    """A message the database refused, and its reason (the first line of the error)."""

    message: BrokerMessageIn
    reason: str


# SQLSTATE classes that a message's content causes: 22 data exception, 23
# integrity constraint violation, 54 program limit exceeded (e.g. "index row
# size exceeds btree maximum"). Connection, lock, serialization and resource
# errors are the database's state, not the message's: those are raised.
_MESSAGE_FAULT_CLASSES = ("22", "23", "54")


def is_refused_for_content(exc: BaseException) -> bool:
    """Whether `exc` from `store_broker_messages` is caused by the messages
    themselves (retrying them unchanged can never succeed), rather than by
    the database being unavailable or busy."""
    if isinstance(exc, psycopg.Error):
        return (exc.sqlstate or "")[:2] in _MESSAGE_FAULT_CLASSES
    # Raised while packing parameters, before anything reaches the server.
    return isinstance(exc, ValueError | OverflowError | struct.error)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"


# Registers the classifiers not yet known (their partitions follow by
# trigger) and returns the id of every requested one. The outer SELECT's
# snapshot predates `new`, so new rows come from RETURNING and old ones from
# the table; a classifier another process registers concurrently is missing
# from both, which the caller detects and retries.
_CLASSIFIERS_SQL = """
WITH want AS (
    SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[]) AS u(b, v, n, p)
), new AS (
    INSERT INTO elasticc_brokerclassifier (brokername, brokerversion, classifiername, classifierparams, registeredby)
    SELECT b, v, n, p, %s::int FROM want
    WHERE NOT EXISTS (
        SELECT 1 FROM elasticc_brokerclassifier c
        WHERE c.brokername = want.b AND c.brokerversion = want.v
          AND c.classifiername = want.n AND c.classifierparams = want.p)
    ON CONFLICT (brokername, brokerversion, classifiername, classifierparams) DO NOTHING
    RETURNING classifierid, brokername, brokerversion, classifiername, classifierparams
)
SELECT classifierid, brokername, brokerversion, classifiername, classifierparams, true, NULL::text FROM new
UNION ALL
SELECT c.classifierid, c.brokername, c.brokerversion, c.classifiername, c.classifierparams, false,
       c.evaluatedtaxonomy
FROM elasticc_brokerclassifier c
JOIN want ON c.brokername = want.b AND c.brokerversion = want.v
         AND c.classifiername = want.n AND c.classifierparams = want.p
"""

# New messages only (a replayed key returns nothing); RETURNING gives the ids
# their classifications need.
_INSERT_MESSAGES_SQL = """
INSERT INTO elasticc_brokermessage (
    messagekey, streammessageid, topicname, kafkapartition, alertid, diasourceid,
    msghdrtimestamp, elasticcpublishtimestamp, brokeringesttimestamp)
SELECT messagekey, streammessageid, topicname, kafkapartition, alertid, diasourceid,
       'epoch'::timestamptz + msghdr_ms * interval '1 millisecond',
       'epoch'::timestamptz + published_ms * interval '1 millisecond',
       'epoch'::timestamptz + ingested_ms * interval '1 millisecond'
FROM unnest(
    %s::text[], %s::bigint[], %s::text[], %s::int[], %s::bigint[], %s::bigint[],
    %s::float8[], %s::float8[], %s::float8[]
) AS u(messagekey, streammessageid, topicname, kafkapartition, alertid, diasourceid,
       msghdr_ms, published_ms, ingested_ms)
ON CONFLICT (messagekey) DO NOTHING
RETURNING brokermessageid, messagekey
"""

_SET_TAXONOMIES_SQL = """
UPDATE elasticc_brokerclassifier c SET defaulttaxonomy = u.d, taxonomy = %s::text
FROM unnest(%s::int[], %s::text[]) AS u(id, d)
WHERE c.classifierid = u.id
"""

_COPY_CLASSIFICATIONS_SQL = (
    "COPY elasticc_brokerclassification (brokermessageid, classifierid, classid, probability) "
    "FROM STDIN (FORMAT BINARY)"
)
# PostgreSQL's binary COPY format: a signature, flags and extension length,
# then per row the field count and each field as (length, big-endian value):
# bigint brokermessageid, int classifierid, int classid, real probability;
# a field count of -1 ends the data. struct packs each row in C, several
# times faster than formatting text rows (float repr dominates those).
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_COPY_ROW = struct.Struct(">hiqiiiiif")
_COPY_TRAILER = struct.pack(">h", -1)


def _copy_binary(message_ids: list[int], classifierids: list[int], classids: list[int], probs: list[float]) -> bytes:
    n = len(message_ids)
    rows = map(
        _COPY_ROW.pack,
        repeat(4, n), repeat(8, n), message_ids, repeat(4, n), classifierids, repeat(4, n), classids, repeat(4, n),
        probs,
    )  # fmt: skip
    return b"".join((_COPY_HEADER, *rows, _COPY_TRAILER))


def _check_quota(cursor: psycopg.Cursor, account: Account, wanted_columns: list[str], wanted: int) -> None:
    """Raise `ClassifierLimitError` if registering the unknown ones of the
    wanted classifiers would take `account` over its limit. The account's
    auth_user row is locked first, so two PUTs of one account cannot both
    pass with the last free place."""
    cursor.execute(_KNOWN_CLASSIFIERS_SQL, wanted_columns)
    new = wanted - cursor.fetchone()[0]
    if new <= 0:
        return
    cursor.execute("SELECT 1 FROM auth_user WHERE id = %s FOR UPDATE", [account.user_id])
    cursor.execute("SELECT count(*) FROM elasticc_brokerclassifier WHERE registeredby = %s", [account.user_id])
    registered = cursor.fetchone()[0]
    if registered + new > account.max_classifiers:
        raise ClassifierLimitError(limit=account.max_classifiers, registered=registered, new=new)


def _register_classifiers(
    cursor: psycopg.Cursor, keys: set[ClassifierKey], account: Account | None
) -> tuple[dict[ClassifierKey, int], tuple[Classifier, ...], dict[Classifier, str]]:
    """The id of every classifier of `keys`, the newly registered ones, and
    the taxonomy each of the others is evaluated in."""
    wanted = sorted(keys)
    columns = [text_array(column) for column in zip(*wanted, strict=True)]
    if account is not None:
        _check_quota(cursor, account, columns, len(wanted))
    params = [*columns, None if account is None else account.user_id]
    ids: dict[ClassifierKey, int] = {}
    new: list[Classifier] = []
    known: dict[Classifier, str] = {}
    for _attempt in range(5):
        cursor.execute(_CLASSIFIERS_SQL, params)
        for classifierid, b, v, n, p, is_new, evaluated in cursor.fetchall():
            ids[ClassifierKey(b, v, n, p)] = classifierid
            if is_new:
                new.append(Classifier(classifierid, b, v, n, p))
            else:
                known[Classifier(classifierid, b, v, n, p)] = evaluated
        if len(ids) == len(wanted):
            return ids, tuple(sorted(new)), known
    raise RuntimeError(f"could not register classifiers {sorted(keys - set(ids))}")


def _set_taxonomies(
    cursor: psycopg.Cursor,
    *,
    new: tuple[Classifier, ...],
    batch: list[BrokerMessageIn],
    taxonomy: str | None,
) -> None:
    """Give newly registered classifiers their default taxonomy (from the
    schema version and classIds of their messages in this batch) and the
    taxonomy their source chose, if any. It loops over the batch, but only
    in the rare batch that registers a classifier."""
    ids = {ClassifierKey(*c[1:]): c.classifierid for c in new}
    seen: dict[int, tuple[str | None, set[int]]] = {}
    for m in batch:
        for key, classid in zip(m.classifiers, m.classids, strict=True):
            if key in ids:
                seen.setdefault(ids[key], (m.schemaversion, set()))[1].add(classid)
    rows = [
        (c.classifierid, default_taxonomy(schema_version=version, classids=classids))
        for c in new
        for version, classids in [seen.get(c.classifierid, (None, set()))]
    ]
    cursor.execute(
        _SET_TAXONOMIES_SQL,
        [taxonomy, number_array(r[0] for r in rows), text_array(r[1] for r in rows)],
    )


def store_broker_messages(
    *, messages: Sequence[BrokerMessageIn], taxonomy: str | None = None, account: Account | None = None
) -> StoreResult:
    """Store validated messages in one transaction (joining the caller's, if
    any): register new classifiers (their partitions follow), insert the
    messages not stored before and the classifications of those. Returns how
    many messages were new, the smallest new id, how many classifications
    were written and which classifiers were registered.

    `taxonomy` (a brokerpoll source's choice) is the taxonomy classifiers
    registered here are evaluated in; without it each gets its default.
    Classifiers registered before keep theirs: it was decided when they were
    registered or by an admin, and changing it means rebuilding their
    metrics, which `set_classifier_taxonomy` does. Those evaluated in another
    taxonomy than `taxonomy` are returned in `other_taxonomy`, for the
    caller to report.

    `account` (a REST PUT's broker account) is recorded as the registrant of
    new classifiers, and if they would take it over its limit,
    `ClassifierLimitError` is raised and nothing is stored."""
    unique: dict[str, BrokerMessageIn] = {}
    for message in messages:
        unique.setdefault(message.messagekey, message)
    if not unique:
        return StoreResult(num_loaded=0, first_brokermessageid=None, num_classifications=0)
    batch = list(unique.values())
    classifier_keys: set[ClassifierKey] = set()
    for m in batch:
        classifier_keys.update(m.classifiers)

    with transaction.atomic():
        connection.ensure_connection()
        # A plain psycopg cursor: server-side parameter binding, so each
        # array literal is sent once as a parameter, not spliced into the SQL.
        with psycopg.Cursor(connection.connection) as cursor:
            classifier_ids, new_classifiers, known = (
                _register_classifiers(cursor, classifier_keys, account) if classifier_keys else ({}, (), {})
            )
            if new_classifiers:
                _set_taxonomies(cursor, new=new_classifiers, batch=batch, taxonomy=taxonomy)
            cursor.execute(
                _INSERT_MESSAGES_SQL,
                [
                    text_array(m.messagekey for m in batch),
                    number_array(m.streammessageid for m in batch),
                    text_array(m.topicname for m in batch),
                    number_array(m.kafkapartition for m in batch),
                    number_array(m.alertid for m in batch),
                    number_array(m.diasourceid for m in batch),
                    number_array(m.msghdr_ms for m in batch),
                    number_array(m.elasticcpublish_ms for m in batch),
                    number_array(m.brokeringest_ms for m in batch),
                ],
            )
            new_ids = {key: id_ for id_, key in cursor.fetchall()}
            message_ids: list[int] = []
            classifier_column: list[int] = []
            classids: list[int] = []
            probabilities: list[float] = []
            repeated: Counter[ClassifierKey] = Counter()
            classifier_id = classifier_ids.__getitem__
            for m in batch:
                message_id = new_ids.get(m.messagekey)
                if message_id is not None:
                    message_ids.extend(repeat(message_id, len(m.classids)))
                    classifier_column.extend(map(classifier_id, m.classifiers))
                    classids.extend(m.classids)
                    probabilities.extend(m.probabilities)
                    if m.repeated:
                        repeated.update(m.repeated)
            if message_ids:
                with cursor.copy(_COPY_CLASSIFICATIONS_SQL) as copy:
                    copy.write(_copy_binary(message_ids, classifier_column, classids, probabilities))
    for key, n in sorted(repeated.items()):
        logger.warning(
            "classifier %d %s: %d classification(s) repeating a classId of the same message left out "
            "(the first one of each is stored)",
            classifier_ids[key], "/".join(key), n,
        )  # fmt: skip
    return StoreResult(
        num_loaded=len(new_ids),
        first_brokermessageid=min(new_ids.values(), default=None),
        num_classifications=len(message_ids),
        new_classifiers=new_classifiers,
        other_taxonomy=tuple(sorted((c, t) for c, t in known.items() if taxonomy is not None and t != taxonomy)),
    )


def store_isolating_refused(
    *, messages: Sequence[BrokerMessageIn], taxonomy: str | None = None
) -> tuple[StoreResult, list[Refused]]:
    """`store_broker_messages`, except that messages the database refuses for
    their content (`is_refused_for_content`) are isolated by halving the
    batch and returned with the reason, and all others are stored. Other
    errors are raised as they are, so a caller retries the batch."""
    try:
        return store_broker_messages(messages=messages, taxonomy=taxonomy), []
    except Exception as exc:
        if not is_refused_for_content(exc):
            raise
        if len({m.messagekey for m in messages}) == 1:
            return StoreResult(num_loaded=0, first_brokermessageid=None, num_classifications=0), [
                Refused(messages[0], _reason(exc))
            ]
    middle = len(messages) // 2
    first, refused_first = store_isolating_refused(messages=messages[:middle], taxonomy=taxonomy)
    second, refused_second = store_isolating_refused(messages=messages[middle:], taxonomy=taxonomy)
    firsts = [i for i in (first.first_brokermessageid, second.first_brokermessageid) if i is not None]
    return StoreResult(
        num_loaded=first.num_loaded + second.num_loaded,
        first_brokermessageid=min(firsts, default=None),
        num_classifications=first.num_classifications + second.num_classifications,
        new_classifiers=tuple(sorted(first.new_classifiers + second.new_classifiers)),
        other_taxonomy=tuple(sorted(set(first.other_taxonomy + second.other_taxonomy))),
    ), refused_first + refused_second
