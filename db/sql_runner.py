"""The one place that runs user SQL (the SQL endpoint and the long-query runner).

Why it is shaped like this — every guard is enforced by PostgreSQL or by this
process, never by trusting the query text alone:

- **Role.** A separate psycopg connection logs in directly as the read-only
  LOGIN role matching the user (`settings.SQL_ADMIN_ROLE` for members of
  `elasticc_admin`, `settings.SQL_BROKER_ROLE` otherwise). The Django
  connection is never used, so `SET ROLE`, `RESET ROLE` or `SET SESSION
  AUTHORIZATION` cannot reach a more privileged role: there is none above the
  login role, and the roles own nothing and hold only SELECT grants.
- **Transaction.** Everything runs in one transaction that is always rolled
  back and whose connection is then closed. It is `READ ONLY` unless the
  request creates temporary tables (PostgreSQL refuses CREATE TEMP in a
  read-only transaction); then it is read-write, still as the privilege-less
  role, still rolled back, so temp tables work and vanish.
- **One statement per execute.** A query string is split into statements
  client-side (sqlparse) and each is sent with the extended protocol, which
  PostgreSQL refuses to run with more than one command. Transaction control
  (`COMMIT;` escapes) and `SET`/`RESET` are refused up front with a clear
  message, and after every statement the connection must still be inside our
  transaction.
- **Time.** The timeout covers the whole request, not each statement: a
  watchdog timer cancels any server call that would run past the request's
  deadline (so `SELECT set_config('statement_timeout', '0', false)` cannot
  lift it, and neither can many short statements), `statement_timeout` set at
  connection start-up is the server-side backstop, and a request holds at most
  `SQL_MAX_STATEMENTS` statements.
- **Parsing.** sqlparse is pure Python (seconds for 100 KB of SQL), so the
  text's size (`SQL_MAX_QUERY_BYTES`) is the only check before a request
  holds its concurrency slot; the statements are counted (split, not yet
  grouped) and then parsed under the slot, and the parsing counts in the
  request's time.
- **Memory.** Row-returning final statements run through a server-side cursor
  (DECLARE/FETCH) and are handed out in batches of at most `batch_rows` rows
  and about `BATCH_BYTES` bytes (wide rows make small batches), so neither a
  million-row result nor a result of huge values sits in this process; a row
  cap and a response-size cap stop runaway results.
- **Concurrency.** Slots in `db.sql_slots` bound the queries of a user, of the
  site and of one web process, so no user can occupy every worker.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
import sqlparse
from django.conf import settings
from psycopg import sql
from psycopg.types.json import set_json_loads
from sqlparse import lexer as sql_lexer
from sqlparse import tokens as T
from sqlparse.engine import StatementSplitter

from db.csv_rows import CsvRowEnds
from db.sql_slots import SlotLease, SqlBusy, acquire_slot
from elasticc.access.groups import is_elasticc_admin
from elasticc.access.sql_roles import user_sql_role
from elasticc.postgres.connections import connect

logger = logging.getLogger("db.sql")

DEFAULT_BATCH_ROWS = 5000
# Target size of one fetched batch; the first fetch of a result is small
# (FIRST_BATCH_ROWS) and later ones are sized from the rows seen so far.
BATCH_BYTES = 8 * 1024 * 1024
FIRST_BATCH_ROWS = 10
# CSV through COPY is handed on in chunks of about this size (see `_copy_chunks`).
COPY_CHUNK_BYTES = 256 * 1024

# First keywords refused before anything runs. Transaction control would end
# the rolled-back transaction; SET/RESET would change the session's limits.
TRANSACTION_KEYWORDS = frozenset({"BEGIN", "START", "COMMIT", "END", "ROLLBACK", "ABORT", "SAVEPOINT", "RELEASE"})
SETTING_KEYWORDS = frozenset({"SET", "RESET", "DISCARD"})
ROW_KEYWORDS = frozenset({"SELECT", "WITH", "VALUES", "TABLE"})
TEMP_CREATE_RE = re.compile(r"^\s*CREATE\s+(?:(?:GLOBAL|LOCAL)\s+)?TEMP(?:ORARY)?\s", re.IGNORECASE)
INTO_TEMP_RE = re.compile(r"\bINTO\s+(?:TEMP|TEMPORARY)\s", re.IGNORECASE)
PREPARE_TRANSACTION_RE = re.compile(r"^\s*PREPARE\s+TRANSACTION\b", re.IGNORECASE)
PLACEHOLDER_RE = re.compile(r"%%|(?P<op>\bNOT\s+IN\s*|\bIN\s*)?%\((?P<name>\w+)\)s", re.IGNORECASE)


class SqlQueryError(Exception):
    """A message for the user: invalid request, SQL error or exceeded limit."""


class SqlQueryInterrupted(SqlQueryError):
    """The caller cancelled the run (a runner shutting down), not the user's fault."""


# --- request validation ---------------------------------------------------


@dataclass(frozen=True)
class SqlRequest:
    """Validated queries with one parameter dict per query."""

    queries: tuple[str, ...]
    subdicts: tuple[dict[str, Any], ...]


def parse_sql_request(*, data: Mapping[str, Any]) -> SqlRequest:
    """Validate a POST body of the SQL endpoint, with the messages clients match on."""
    if not isinstance(data, Mapping):
        raise SqlQueryError("the body must be a JSON object with 'query'")
    if "query" not in data:
        raise SqlQueryError("POST data must include 'query'")
    query = data["query"]
    if isinstance(query, str):
        queries = [query]
    elif isinstance(query, list):
        if not all(isinstance(item, str) for item in query):
            raise SqlQueryError("queries must all be strings")
        queries = list(query)
    else:
        raise SqlQueryError("query must be either a list of strings or a string")
    subdict = data.get("subdict")
    if subdict is None:
        subdicts = [{} for _ in queries]
    elif isinstance(subdict, dict):
        subdicts = [subdict for _ in queries]
    elif isinstance(subdict, list):
        if not all(isinstance(item, dict) for item in subdict):
            raise SqlQueryError("subdicts must all be dicts")
        subdicts = list(subdict)
    else:
        raise SqlQueryError("subdict must be either a list of dicts or a dict")
    if isinstance(subdict, list) and len(subdicts) != len(queries):
        raise SqlQueryError("number of queries and subdicts must match")
    if not queries:
        raise SqlQueryError("query must be either a list of strings or a string")
    request = SqlRequest(queries=tuple(queries), subdicts=tuple(subdicts))
    check_request_size(request=request)
    return request


# --- statement planning ---------------------------------------------------


@dataclass(frozen=True)
class Statement:
    text: str
    params: dict[str, Any] | None
    streamable: bool  # may run as DECLARE ... CURSOR FOR <text>
    creates_temp: bool


def _first_keyword(stmt: sqlparse.sql.Statement) -> str:
    token = stmt.token_first(skip_cm=True, skip_ws=True)
    if token is None:
        return ""
    if isinstance(token, sqlparse.sql.Parenthesis):
        return "("
    return token.normalized.split()[0].upper() if token.is_keyword else str(token).split()[0].upper()


def _streamable(stmt: sqlparse.sql.Statement, first: str) -> bool:
    if first not in ROW_KEYWORDS and first != "(":
        return False
    top = [token for token in stmt.tokens if token.is_keyword]
    if any(token.normalized == "INTO" for token in top):
        return False
    return all(token.normalized == "SELECT" for token in top if token.ttype is T.DML)


def _bind(text: str, params: Mapping[str, Any]) -> tuple[str, dict[str, Any] | None]:
    """Bind a subdict; list values behave like the tuples psycopg2 rendered.

    `x IN %(ids)s` becomes `x = ANY(%(ids)s)` (`NOT IN`: `<> ALL(...)`) with
    the list bound as one array: same result and NULL semantics, any length
    (PostgreSQL allows at most 65535 parameters), an empty list is allowed,
    and partition pruning still sees the values. A list used anywhere else
    becomes `(%(ids__0)s, %(ids__1)s, ...)`.
    """
    if not params:
        return text, None
    bound: dict[str, Any] = {}

    def replace(match: re.Match) -> str:
        name = match.group("name")
        if name is None:
            return "%%"
        if name not in params:
            raise SqlQueryError(f"subdict has no value for parameter '{name}'")
        value = params[name]
        op = match.group("op") or ""
        if not isinstance(value, list | tuple):
            bound[name] = value
            return match.group(0)
        if op:
            bound[name] = list(value)
            return f"{'<> ALL' if op.upper().startswith('NOT') else '= ANY'}(%({name})s)"
        if not value:
            return "(SELECT NULL WHERE false)"
        keys = [f"{name}__{i}" for i in range(len(value))]
        bound.update(zip(keys, value, strict=True))
        return "(" + ", ".join(f"%({key})s" for key in keys) + ")"

    return PLACEHOLDER_RE.sub(replace, text), bound


def _too_many_statements(count: int | str) -> SqlQueryError:
    return SqlQueryError(
        f"a request may hold at most {settings.SQL_MAX_STATEMENTS} statements (SQL_MAX_STATEMENTS), "
        f"this one has {count}"
    )


def _is_statement(stmt: sqlparse.sql.Statement) -> bool:
    """Whether a split statement holds SQL (not only whitespace, comments or `;`)."""
    return any(not token.is_whitespace and token.ttype not in T.Comment and token.value != ";" for token in stmt.tokens)


def check_request_size(*, request: SqlRequest) -> None:
    """The one check made before a request holds a slot: the size of its SQL
    text (SQL_MAX_QUERY_BYTES), which bounds what parsing it may cost
    (sqlparse is pure Python: even lexing 100 KB takes about a second)."""
    size = sum(len(query.encode("utf-8", "surrogatepass")) for query in request.queries)
    if size > settings.SQL_MAX_QUERY_BYTES:
        raise SqlQueryError(
            f"the SQL text is {size} bytes, more than the limit of {settings.SQL_MAX_QUERY_BYTES} bytes "
            "(setting SQL_MAX_QUERY_BYTES); pass long lists of values in subdict"
        )


def _check_statement_count(*, request: SqlRequest) -> None:
    """SQL_MAX_STATEMENTS, counted before any statement is grouped (the
    costly part of sqlparse): the text is only lexed and split, lazily,
    stopping at the first statement too many."""
    count = 0
    for query in request.queries:
        for stmt in StatementSplitter().process(sql_lexer.tokenize(query)):
            count += _is_statement(stmt)
            if count > settings.SQL_MAX_STATEMENTS:
                raise _too_many_statements(f"more than {settings.SQL_MAX_STATEMENTS}")


def _without_comments(stmt: sqlparse.sql.Statement) -> str:
    """The statement's text with each comment replaced by a space (PostgreSQL
    reads a comment as whitespace), from the tokens already parsed."""
    return "".join(" " if token.ttype in T.Comment else token.value for token in stmt.flatten()).strip()


def plan_statements(*, request: SqlRequest) -> list[Statement]:
    """Split every query into single statements and refuse forbidden ones.

    The costly part of a request's checks: `start_sql` calls it once it
    holds the request's slot and its time has started. The text's size is
    checked first, then the statements are counted, then parsed whole."""
    check_request_size(request=request)
    _check_statement_count(request=request)
    statements: list[Statement] = []
    for query, subdict in zip(request.queries, request.subdicts, strict=True):
        try:
            parsed = list(sqlparse.parsestream(query))
        except sqlparse.exceptions.SQLParseError as exc:
            raise SqlQueryError(
                f"the query is too complex to check ({exc}); split it or pass values in subdict"
            ) from exc
        for stmt in parsed:
            text = str(stmt).strip().rstrip(";").strip()
            first = _first_keyword(stmt)
            if not text or not first:
                continue
            stripped = _without_comments(stmt)
            if first in TRANSACTION_KEYWORDS or (first == "PREPARE" and PREPARE_TRANSACTION_RE.match(stripped)):
                raise SqlQueryError(
                    f"transaction control ({first}) is not allowed: every request runs in one transaction "
                    "that is rolled back"
                )
            if first in SETTING_KEYWORDS:
                raise SqlQueryError(
                    f"{first} is not allowed: session settings, roles and limits are fixed by the server"
                )
            creates_temp = bool(TEMP_CREATE_RE.match(stripped)) or (
                first == "SELECT" and bool(INTO_TEMP_RE.search(stripped))
            )
            bound_text, params = _bind(text, subdict)
            statements.append(
                Statement(
                    text=bound_text, params=params, streamable=_streamable(stmt, first), creates_temp=creates_temp
                )
            )
    if not statements:
        raise SqlQueryError("query contains no SQL statement")
    if len(statements) > settings.SQL_MAX_STATEMENTS:
        raise _too_many_statements(len(statements))
    return statements


# --- running --------------------------------------------------------------


def role_for_user(*, user) -> tuple[str, str | None]:
    """(PostgreSQL role, its password) for a Django user: the admin role for
    `elasticc_admin` members, otherwise the user's own member of the broker role."""
    if is_elasticc_admin(user):
        return settings.SQL_ADMIN_ROLE, settings.SQL_ADMIN_ROLE_PASSWORD
    if not settings.SQL_PER_USER_ROLES:
        return settings.SQL_BROKER_ROLE, settings.SQL_BROKER_ROLE_PASSWORD
    try:
        return user_sql_role(user_id=user.pk)
    except PermissionError as exc:
        logger.error("%s", exc)
        raise SqlQueryError("the server cannot set up your SQL role; tell the site's administrators") from exc


class JsonText(str):
    """A json/jsonb value kept as its text: nested too deeply for Python's parser."""


def _load_json(data: bytes | memoryview | str) -> Any:
    """json/jsonb values, parsed by the standard library (integers of any
    size); a value nested deeper than Python's parser goes (about 1,000
    levels; PostgreSQL allows more) stays its text instead of failing the fetch."""
    try:
        return json.loads(data)
    except RecursionError:
        return JsonText(bytes(data).decode() if isinstance(data, bytes | memoryview) else data)


def _connect(*, role: str, password: str | None, timeout_ms: int, application_name: str) -> psycopg.Connection:
    options = (
        f"-c statement_timeout={int(timeout_ms)} -c idle_in_transaction_session_timeout={max(int(timeout_ms), 60000)} "
        "-c TimeZone=UTC"
    )
    conn = connect(user=role, password=password, options=options, application_name=application_name[:63])
    set_json_loads(_load_json, conn)
    return conn


def _timeout_message(timeout_ms: int, timeout_setting: str) -> str:
    hint = "; submit it as a long query" if timeout_setting == "SQL_STATEMENT_TIMEOUT_MS" else ""
    return f"query exceeded the time limit of {timeout_ms} ms for the whole request (setting {timeout_setting}){hint}"


@dataclass
class _Watchdog:
    """Cancels the server call in flight once the request's deadline passes
    (`timeout_s` after `started`, by default when the watchdog was made)."""

    conn: psycopg.Connection
    timeout_s: float
    started: float = field(default_factory=time.monotonic)
    fired: bool = False
    interrupted: bool = False
    deadline: float = field(init=False)

    def __post_init__(self) -> None:
        self.deadline = self.started + self.timeout_s

    def cancel(self, *, interrupted: bool = False) -> None:
        self.fired = True
        self.interrupted = self.interrupted or interrupted
        try:
            self.conn.cancel_safe(timeout=10)
        except psycopg.Error:
            logger.warning("could not cancel a user query", exc_info=True)

    @contextmanager
    def armed(self) -> Iterator[None]:
        """Cancel whatever runs in the block once the deadline passes (a COPY read of many chunks)."""
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            self.fired = True
            raise psycopg.errors.QueryCanceled("request deadline passed")
        timer = threading.Timer(remaining, self.cancel)
        timer.daemon = True
        timer.start()
        try:
            yield
        finally:
            timer.cancel()

    def call(self, fn, *args, **kwargs):
        if self.interrupted:
            raise SqlQueryInterrupted("query interrupted: the runner is shutting down")
        with self.armed():
            return fn(*args, **kwargs)


@dataclass
class SqlStream:
    """The open result of a request: `columns`, then `batches()` of row tuples.

    Owns its connection; `close()` rolls back and disconnects (idempotent).
    """

    user_name: str
    role: str
    timeout_ms: int
    timeout_setting: str
    max_rows: int | None
    max_rows_setting: str
    conn: psycopg.Connection
    watchdog: _Watchdog
    cursor: Any = None
    columns: list[str] = field(default_factory=list)
    type_oids: list[int] = field(default_factory=list)
    rows_sent: int = 0
    first_batch: list[tuple] | None = None
    batch_rows: int = DEFAULT_BATCH_ROWS
    started: float = field(default_factory=time.monotonic)
    status: str = "ok"
    closed: bool = False
    lease: SlotLease | None = None
    row_bytes: float = 0.0  # estimated size of one row, from the rows fetched so far
    # CSV straight from PostgreSQL (`COPY (query) TO STDOUT`), when the caller asked for it.
    copy_query: str | None = None
    first_chunk: bytes | None = None
    _copy_iter: Iterator[bytes] | None = None
    _copying: bool = False

    def _error(self, exc: Exception) -> SqlQueryError:
        if isinstance(exc, SqlQueryError):
            return exc
        if isinstance(exc, psycopg.errors.QueryCanceled) or self.watchdog.fired:
            if self.watchdog.interrupted:
                return SqlQueryInterrupted("query interrupted: the runner is shutting down")
            return SqlQueryError(_timeout_message(self.timeout_ms, self.timeout_setting))
        return SqlQueryError(str(exc).strip() or exc.__class__.__name__)

    def _row_cap_error(self) -> SqlQueryError:
        """The row cap's error; only the endpoint's suggests a long query (a long query is one)."""
        hint = "add a LIMIT or submit it as a long query" if self.max_rows_setting == "SQL_MAX_ROWS" else "add a LIMIT"
        return SqlQueryError(
            f"query returned more than the row limit of {self.max_rows} rows (setting {self.max_rows_setting}); {hint}"
        )

    def _batch_size(self) -> int:
        """Rows for the next fetch: `batch_rows`, fewer when rows are wide."""
        if self.row_bytes <= 0:
            return min(self.batch_rows, FIRST_BATCH_ROWS)
        return max(1, min(self.batch_rows, int(BATCH_BYTES / self.row_bytes)))

    def _measure(self, rows: list[tuple]) -> None:
        """Estimate the size of a row from a sample of the batch (strings and bytes dominate)."""
        sample = rows[:: max(1, len(rows) // 20)]
        size = sum(len(v) if isinstance(v, str | bytes | memoryview) else 16 for row in sample for v in row)
        self.row_bytes = max(self.row_bytes * 0.5, size / len(sample) + 16)

    def _fetch(self) -> list[tuple]:
        if self.cursor is None:
            return []
        want = self._batch_size()
        if self.max_rows is not None:
            want = min(want, self.max_rows - self.rows_sent + 1)
        rows = self.watchdog.call(self.cursor.fetchmany, want)
        if self.max_rows is not None and self.rows_sent + len(rows) > self.max_rows:
            raise self._row_cap_error()
        self.rows_sent += len(rows)
        if rows:
            self._measure(rows)
        return rows

    def prefetch(self) -> None:
        """Fetch the first batch, so that early errors are reported before a response starts."""
        try:
            if self.copy_query is not None:
                self._copy_iter = self._copy_chunks()
                self.first_chunk = next(self._copy_iter, b"")
                return
            self.first_batch = self._fetch()
        except Exception as exc:
            self.status = "error"
            self.close()
            raise self._error(exc) from exc

    def batches(self) -> Iterator[list[tuple]]:
        """Row batches until the result ends; raises SqlQueryError on a limit or SQL error."""
        try:
            if self.first_batch is not None:
                batch, self.first_batch = self.first_batch, None
                if not batch:
                    return
                yield batch
            while True:
                batch = self._fetch()
                if not batch:
                    return
                yield batch
        except (psycopg.Error, SqlQueryError) as exc:
            self.status = "error"
            raise self._error(exc) from exc
        finally:
            self.close()

    def _copy_chunks(self) -> Iterator[bytes]:
        """The CSV text PostgreSQL writes for `copy_query`, the header line
        first, in chunks of about COPY_CHUNK_BYTES that end at a row end (a
        partial row waits for the rest). PostgreSQL sends one message per row;
        gathering them keeps the per-row Python work to one append, and the
        row counting and socket writes per chunk. The query asks for one row
        more than `max_rows`, so an overflow shows as a row too many: it is
        dropped and becomes the row-cap error."""
        rows = CsvRowEnds()
        limit = None if self.max_rows is None else self.max_rows + 2  # the header, the rows, one too many
        tail = b""
        pending = bytearray()
        self._copying = True
        with self.watchdog.armed(), self.conn.cursor().copy(self.copy_query) as copy:
            messages = iter(copy)
            while True:
                for data in messages:
                    pending += data
                    if len(pending) >= COPY_CHUNK_BYTES:
                        break
                if not pending:
                    break
                data, pending = bytes(pending), bytearray()
                end, over = rows.feed(data, limit=limit)
                chunk = tail + data
                if over:
                    if end >= 0:
                        yield chunk[: len(tail) + end]
                    raise self._row_cap_error()
                if end >= 0:
                    yield chunk[: len(tail) + end]
                    tail = chunk[len(tail) + end :]
                else:
                    tail = chunk
        self._copying = False
        if tail:
            yield tail
        self.rows_sent = max(rows.count - 1, 0)

    def csv_chunks(self) -> Iterator[bytes]:
        """The CSV of a `copy_query` stream; raises SqlQueryError on a limit or SQL error."""
        try:
            if self.first_chunk:
                yield self.first_chunk
            self.first_chunk = None
            if self._copy_iter is not None:
                yield from self._copy_iter
        except (psycopg.Error, SqlQueryError) as exc:
            self.status = "error"
            raise self._error(exc) from exc
        finally:
            self.close()

    def cancel(self) -> None:
        """Stop the run from another thread (the long-query runner on shutdown)."""
        self.watchdog.cancel(interrupted=True)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            # A COPY left unfinished (a limit tripped in the consumer) leaves
            # the connection mid-protocol, where ROLLBACK would wait for the
            # rest of the data; closing the connection ends the transaction.
            if not self.conn.closed and not self._copying:
                self.conn.rollback()
        except psycopg.Error:
            pass
        finally:
            self.conn.close()
            if self.lease is not None:
                self.lease.release()
        logger.info(
            "sql done user=%s role=%s status=%s rows=%d duration=%.3fs",
            self.user_name,
            self.role,
            self.status,
            self.rows_sent,
            time.monotonic() - self.started,
        )


def _check_in_transaction(conn: psycopg.Connection) -> None:
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.INTRANS:
        raise SqlQueryError("transaction control is not allowed: every request runs in one rolled-back transaction")


@dataclass(frozen=True)
class SqlLimits:
    """The limits one run of user SQL is held to. `timeout_setting` is named
    in the error a timeout raises; `max_rows` None means no cap (long
    queries write files); with `limit_concurrency` the run takes a slot of
    `db.sql_slots` (per-user, site and process caps)."""

    timeout_ms: int
    timeout_setting: str
    max_rows: int | None
    max_rows_setting: str = "SQL_MAX_ROWS"
    batch_rows: int = DEFAULT_BATCH_ROWS
    application: str = "desc_sql"
    limit_concurrency: bool = True

    @classmethod
    def endpoint(cls) -> SqlLimits:
        """`/db/runsqlquery/`: SQL_STATEMENT_TIMEOUT_MS and SQL_MAX_ROWS."""
        return cls(
            timeout_ms=settings.SQL_STATEMENT_TIMEOUT_MS,
            timeout_setting="SQL_STATEMENT_TIMEOUT_MS",
            max_rows=settings.SQL_MAX_ROWS,
        )


def start_sql(
    *,
    user,
    request: SqlRequest,
    limits: SqlLimits | None = None,
    on_open: Callable[[SqlStream], None] | None = None,
    csv_copy: bool = False,
) -> SqlStream:
    """Run all statements of `request` as the user's role and open the last one's result.

    Raises SqlQueryError for any error before the first row; the returned
    stream's `batches()` raises it for errors while rows are read. `limits`
    default to the endpoint's. `on_open` receives the stream before any
    statement runs, so another thread can `cancel()` it at any point. With
    `csv_copy`, a row-returning last statement is read as CSV through
    `COPY (...) TO STDOUT` (`SqlStream.csv_chunks`): PostgreSQL formats the
    rows, so no value passes through Python, several times faster than
    fetching rows; still inside the same role, transaction and limits.

    Only the cheap checks (`check_request_size`) come before the slot: the
    statements are parsed (`plan_statements`) once the slot is held, and
    their parsing counts in the request's time.
    """
    check_request_size(request=request)
    limits = limits or SqlLimits.endpoint()
    role, password = role_for_user(user=user)
    user_name = user.get_username()
    logger.info(
        "sql start user=%s role=%s queries=%r params=%r",
        user_name,
        role,
        list(request.queries),
        list(request.subdicts),
    )
    lease = None
    if limits.limit_concurrency:
        try:
            lease = acquire_slot(user_id=user.pk, timeout_ms=limits.timeout_ms)
        except SqlBusy as exc:
            raise SqlQueryError(str(exc)) from exc
    started = time.monotonic()
    try:
        statements = plan_statements(request=request)
        if time.monotonic() - started > limits.timeout_ms / 1000:
            raise SqlQueryError(_timeout_message(limits.timeout_ms, limits.timeout_setting))
    except BaseException:
        if lease is not None:
            lease.release()
        raise
    try:
        conn = _connect(
            role=role,
            password=password,
            timeout_ms=limits.timeout_ms,
            application_name=f"{limits.application}:{user_name}",
        )
        if lease is not None:
            lease.attach_backend(conn.info.backend_pid)
    except psycopg.Error as exc:
        if lease is not None:
            lease.release()
        logger.error("sql cannot connect as %s: %s", role, exc)
        raise SqlQueryError(f"cannot connect to the database as role {role}") from exc
    conn.read_only = not any(statement.creates_temp for statement in statements)
    stream = SqlStream(
        user_name=user_name,
        role=role,
        timeout_ms=limits.timeout_ms,
        timeout_setting=limits.timeout_setting,
        max_rows=limits.max_rows,
        max_rows_setting=limits.max_rows_setting,
        conn=conn,
        watchdog=_Watchdog(conn=conn, timeout_s=limits.timeout_ms / 1000, started=started),
        batch_rows=limits.batch_rows,
        lease=lease,
    )
    if on_open is not None:
        on_open(stream)
    try:
        last = len(statements) - 1
        plain = conn.cursor()
        for index, statement in enumerate(statements):
            if index == last and csv_copy and statement.streamable:
                stream.copy_query = _copy_query(conn, statement, max_rows=limits.max_rows)
                # The result's column names and types (Parquet needs them),
                # from the statement's plan: no row is computed.
                described = conn.cursor()
                stream.watchdog.call(
                    described.execute, f"SELECT * FROM ({_bound_text(conn, statement)}) AS desc_result LIMIT 0"
                )
                stream.columns = [column.name for column in described.description]
                stream.type_oids = [column.type_code for column in described.description]
            elif statement.streamable:
                cursor = conn.cursor(name=f"desc_sql_{uuid.uuid4().hex}")
                stream.watchdog.call(cursor.execute, statement.text, statement.params)
                _check_in_transaction(conn)
                if index == last:
                    stream.cursor = cursor
                else:
                    stream.watchdog.call(conn.execute, sql.SQL("MOVE ALL FROM {}").format(sql.Identifier(cursor.name)))
                    cursor.close()
            else:
                stream.watchdog.call(plain.execute, statement.text, statement.params, prepare=True)
                _check_in_transaction(conn)
                if index == last and plain.description is not None:
                    stream.cursor = plain
        if stream.copy_query is not None:
            pass
        elif stream.cursor is not None and stream.cursor.description is not None:
            stream.columns = [column.name for column in stream.cursor.description]
            stream.type_oids = [column.type_code for column in stream.cursor.description]
        else:
            stream.cursor = None
    except Exception as exc:
        stream.status = "error"
        error = stream._error(exc)
        stream.close()
        logger.info("sql error user=%s role=%s error=%s", user_name, role, error)
        raise error from exc
    stream.prefetch()
    return stream


def _bound_text(conn: psycopg.Connection, statement: Statement) -> str:
    return psycopg.ClientCursor(conn).mogrify(statement.text, statement.params) if statement.params else statement.text


def _copy_query(conn: psycopg.Connection, statement: Statement, *, max_rows: int | None) -> str:
    """`COPY (<statement>) TO STDOUT` as CSV with a header. COPY takes no bind
    parameters, so the values are quoted into the text by psycopg's client-side
    binding (the same literals the server would see); a row cap asks for one
    row more, which tells an overflow from a result of exactly `max_rows`."""
    text = _bound_text(conn, statement)
    if max_rows is not None:
        text = f"SELECT * FROM ({text}) AS desc_result LIMIT {int(max_rows) + 1}"
    return f"COPY ({text}) TO STDOUT WITH (FORMAT csv, HEADER true)"


def check_statements(*, user, request: SqlRequest) -> None:
    """Parse and check every statement of `request` as `start_sql` would,
    running none (a long query is checked when it is submitted). The parsing
    is the costly part of a request's checks, so it too holds one of the
    user's SQL slots meanwhile."""
    check_request_size(request=request)
    try:
        lease = acquire_slot(user_id=user.pk, timeout_ms=settings.SQL_STATEMENT_TIMEOUT_MS)
    except SqlBusy as exc:
        raise SqlQueryError(str(exc)) from exc
    try:
        plan_statements(request=request)
    finally:
        lease.release()


def run_sql(*, user, request: SqlRequest, limits: SqlLimits | None = None) -> tuple[list[str], list[tuple]]:
    """All rows at once, for small internal uses and tests (capped like the endpoint)."""
    stream = start_sql(user=user, request=request, limits=limits)
    rows: list[tuple] = []
    for batch in stream.batches():
        rows.extend(batch)
    return stream.columns, rows


def queries_from(*, queries: Sequence[str] | str, subdicts: Sequence[dict] | dict | None = None) -> SqlRequest:
    """A validated SqlRequest from Python values (same rules as the endpoint)."""
    data: dict[str, Any] = {"query": queries if isinstance(queries, str) else list(queries)}
    if subdicts is not None:
        data["subdict"] = subdicts if isinstance(subdicts, dict) else list(subdicts)
    return parse_sql_request(data=data)
