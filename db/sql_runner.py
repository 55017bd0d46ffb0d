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
- **Time.** `statement_timeout` is set at connection start-up, and a watchdog
  timer cancels any server call that outlives it, so `SELECT set_config(
  'statement_timeout', '0', false)` cannot lift the limit either.
- **Memory.** Row-returning final statements run through a server-side cursor
  (DECLARE/FETCH) and are handed out in batches, so a million-row result never
  sits in this process; a row cap stops runaway results.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
import sqlparse
from django.conf import settings
from django.db import connections
from psycopg import sql
from sqlparse import tokens as T

logger = logging.getLogger("db.sql")

ADMIN_GROUP = "elasticc_admin"
DEFAULT_BATCH_ROWS = 5000
# Concurrent endpoint queries per user (counted in pg_stat_activity), so one
# user's script cannot take every worker and connection.
MAX_CONCURRENT_PER_USER = 4
# sqlparse is pure Python: bound the text it splits (value lists go in subdict).
MAX_QUERY_CHARS = 1_000_000

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
    plan_statements(request=request)
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


def plan_statements(*, request: SqlRequest) -> list[Statement]:
    """Split every query into single statements and refuse forbidden ones."""
    if sum(len(query) for query in request.queries) > MAX_QUERY_CHARS:
        raise SqlQueryError(
            f"queries are longer than {MAX_QUERY_CHARS} characters; pass long lists of values in subdict"
        )
    statements: list[Statement] = []
    for query, subdict in zip(request.queries, request.subdicts, strict=True):
        for stmt in sqlparse.parse(query):
            text = str(stmt).strip().rstrip(";").strip()
            first = _first_keyword(stmt)
            if not text or not first:
                continue
            stripped = sqlparse.format(text, strip_comments=True)
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
    return statements


# --- running --------------------------------------------------------------


def role_for_user(*, user) -> tuple[str, str | None]:
    """(PostgreSQL role, its password) for a Django user."""
    if user.groups.filter(name=ADMIN_GROUP).exists():
        return settings.SQL_ADMIN_ROLE, settings.SQL_ADMIN_ROLE_PASSWORD
    return settings.SQL_BROKER_ROLE, settings.SQL_BROKER_ROLE_PASSWORD


def _connect(*, role: str, password: str | None, timeout_ms: int, application_name: str) -> psycopg.Connection:
    db = connections["default"].settings_dict
    options = (
        f"-c statement_timeout={int(timeout_ms)} -c idle_in_transaction_session_timeout={max(int(timeout_ms), 60000)} "
        "-c TimeZone=UTC"
    )
    kwargs: dict[str, Any] = {
        "host": db.get("HOST") or None,
        "port": db.get("PORT") or None,
        "dbname": db["NAME"],
        "user": role,
        "options": options,
        "application_name": application_name[:63],
        "connect_timeout": 10,
    }
    if password:
        kwargs["password"] = password
    for key in ("sslmode", "sslrootcert", "sslcert", "sslkey"):
        if key in db.get("OPTIONS", {}):
            kwargs[key] = db["OPTIONS"][key]
    return psycopg.connect(**kwargs)


@dataclass
class _Watchdog:
    """Cancels the server call in flight once it outlives `timeout_s`."""

    conn: psycopg.Connection
    timeout_s: float
    fired: bool = False
    interrupted: bool = False

    def cancel(self, *, interrupted: bool = False) -> None:
        self.fired = True
        self.interrupted = self.interrupted or interrupted
        try:
            self.conn.cancel_safe(timeout=10)
        except psycopg.Error:
            logger.warning("could not cancel a user query", exc_info=True)

    def call(self, fn, *args, **kwargs):
        if self.interrupted:
            raise SqlQueryInterrupted("query interrupted: the runner is shutting down")
        timer = threading.Timer(self.timeout_s, self.cancel)
        timer.daemon = True
        timer.start()
        try:
            return fn(*args, **kwargs)
        finally:
            timer.cancel()


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

    def _error(self, exc: Exception) -> SqlQueryError:
        if isinstance(exc, SqlQueryError):
            return exc
        if isinstance(exc, psycopg.errors.QueryCanceled) or self.watchdog.fired:
            if self.watchdog.interrupted:
                return SqlQueryInterrupted("query interrupted: the runner is shutting down")
            return SqlQueryError(
                f"query exceeded the statement timeout of {self.timeout_ms} ms (setting {self.timeout_setting})"
            )
        return SqlQueryError(str(exc).strip() or exc.__class__.__name__)

    def _fetch(self) -> list[tuple]:
        if self.cursor is None:
            return []
        want = self.batch_rows
        if self.max_rows is not None:
            want = min(want, self.max_rows - self.rows_sent + 1)
        rows = self.watchdog.call(self.cursor.fetchmany, want)
        if self.max_rows is not None and self.rows_sent + len(rows) > self.max_rows:
            raise SqlQueryError(
                f"query returned more than the row limit of {self.max_rows} rows (setting {self.max_rows_setting}); "
                "add a LIMIT or submit it as a long query"
            )
        self.rows_sent += len(rows)
        return rows

    def prefetch(self) -> None:
        """Fetch the first batch, so that early errors are reported before a response starts."""
        try:
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

    def cancel(self) -> None:
        """Stop the run from another thread (the long-query runner on shutdown)."""
        self.watchdog.cancel(interrupted=True)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            if not self.conn.closed:
                self.conn.rollback()
        except psycopg.Error:
            pass
        finally:
            self.conn.close()
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


def _check_concurrency(conn: psycopg.Connection) -> None:
    running = conn.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE usename = current_user "
        "AND application_name = current_setting('application_name')"
    ).fetchone()[0]
    if running > MAX_CONCURRENT_PER_USER:
        raise SqlQueryError(
            f"too many SQL queries at once: you have {running - 1} running, at most {MAX_CONCURRENT_PER_USER} "
            "may run at a time; wait for them or use long queries"
        )


def start_sql(
    *,
    user,
    request: SqlRequest,
    timeout_ms: int | None = None,
    max_rows: int | None = -1,
    timeout_setting: str = "SQL_STATEMENT_TIMEOUT_MS",
    batch_rows: int = DEFAULT_BATCH_ROWS,
    on_open: Callable[[SqlStream], None] | None = None,
    application: str = "desc_sql",
    limit_concurrency: bool = True,
) -> SqlStream:
    """Run all statements of `request` as the user's role and open the last one's result.

    Raises SqlQueryError for any error before the first row; the returned
    stream's `batches()` raises it for errors while rows are read. `max_rows`
    -1 means the SQL_MAX_ROWS setting, None no cap (long queries). `on_open`
    receives the stream before any statement runs, so another thread can
    `cancel()` it at any point. With `limit_concurrency`, a user may have at
    most MAX_CONCURRENT_PER_USER `application` connections at once.
    """
    statements = plan_statements(request=request)
    timeout_ms = settings.SQL_STATEMENT_TIMEOUT_MS if timeout_ms is None else timeout_ms
    max_rows = settings.SQL_MAX_ROWS if max_rows == -1 else max_rows
    role, password = role_for_user(user=user)
    user_name = user.get_username()
    logger.info(
        "sql start user=%s role=%s queries=%r params=%r",
        user_name,
        role,
        list(request.queries),
        list(request.subdicts),
    )
    try:
        conn = _connect(
            role=role, password=password, timeout_ms=timeout_ms, application_name=f"{application}:{user_name}"
        )
    except psycopg.Error as exc:
        logger.error("sql cannot connect as %s: %s", role, exc)
        raise SqlQueryError(f"cannot connect to the database as role {role}") from exc
    conn.read_only = not any(statement.creates_temp for statement in statements)
    stream = SqlStream(
        user_name=user_name,
        role=role,
        timeout_ms=timeout_ms,
        timeout_setting=timeout_setting,
        max_rows=max_rows,
        max_rows_setting="SQL_MAX_ROWS",
        conn=conn,
        watchdog=_Watchdog(conn=conn, timeout_s=timeout_ms / 1000),
        batch_rows=batch_rows,
    )
    if on_open is not None:
        on_open(stream)
    try:
        if limit_concurrency:
            _check_concurrency(conn)
        last = len(statements) - 1
        plain = conn.cursor()
        for index, statement in enumerate(statements):
            if statement.streamable:
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
        if stream.cursor is not None and stream.cursor.description is not None:
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


def run_sql(*, user, request: SqlRequest, **kwargs: Any) -> tuple[list[str], list[tuple]]:
    """All rows at once, for small internal uses and tests (capped like the endpoint)."""
    stream = start_sql(user=user, request=request, **kwargs)
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
