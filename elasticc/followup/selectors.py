"""What the world knows, and the follow-up queries built on it.

A follow-up program may only see what LSST had published: the detections
whose alerts were sent and, for those objects, the forced photometry up to
their latest sent alert. `_SENT`, `_KNOWN_DETECTIONS` and `_HORIZON` are the
one definition of that; every query of this module is built from them, so no
answer can leak an unsent detection or a future forced point.

`mjd_now` limits the known world to `midpointtai <= mjd_now` (simulations
live in the future); None means no limit (PostgreSQL's 'Infinity').

Every query here is one set-based statement whatever the number of objects
(hot paths: 10^5 known objects, 10^7 forced points; bench/followup.py):
objects are joined as sets, and per object its horizon is one probe of the
sources' (object, time) index and its forced photometry an index range of
one hash partition, sorted once and aggregated into arrays in SQL rather than
shaped row by row in Python.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction
from psycopg.abc import Buffer
from psycopg.adapt import Loader

from elasticc.models import PlannedSpectrum, SpectrumInfo, WantedSpectrum

MJD_UNIX_EPOCH = 40587.0
# AB zero point of the stored fluxes (nJy): mag = ZP - 2.5 log10(flux).
FLUX_ZEROPOINT = 31.4
# `latest` magnitudes of spectrawanted use forced points with S/N above this.
LATEST_MIN_SNR = 3.0
BANDS = ("u", "g", "r", "i", "z", "Y")
HOST_COLUMNS: tuple[str, ...] = (
    *(f"hostgal_mag_{band.lower()}" for band in BANDS),
    *(f"hostgal_magerr_{band.lower()}" for band in BANDS),
    "hostgal_ellipticity",
    "hostgal_sqradius",
    "hostgal_snsep",
)

# A detection `s` whose alert was sent.
_SENT = """EXISTS (SELECT 1 FROM elasticc_diaalert a
                   WHERE a.diasourceid = s.diasourceid AND a.alertsenttimestamp IS NOT NULL)"""
# Detections whose alert was sent, up to mjd_now.
_KNOWN_DETECTIONS = f"""
    SELECT s.diaobjectid, s.midpointtai
    FROM elasticc_diasource s
    WHERE {_SENT} AND s.midpointtai <= %(mjd_now)s
"""
# Per object in `scope` (a CTE of diaobjectids), the time of its latest known
# detection: forced photometry is known up to it. Objects without a known
# detection have no row, so they are unknown to the world. Per object, a
# backward walk of the (object, time) index of its sources that stops at the
# first sent one: the cost follows the scope, never the size of the tables
# (a join of every known detection grouped by object read them all).
_HORIZON = f"""
    horizon AS (
        SELECT scope.diaobjectid, latest.midpointtai AS horizon
        FROM scope CROSS JOIN LATERAL (
            SELECT s.midpointtai FROM elasticc_diasource s
            WHERE s.diaobjectid = scope.diaobjectid AND s.midpointtai <= %(mjd_now)s AND {_SENT}
            ORDER BY s.midpointtai DESC LIMIT 1
        ) latest
    )
"""
_SCOPE_IDS = "scope AS (SELECT DISTINCT unnest(%(ids)s::bigint[]) AS diaobjectid)"


def _scope_hot(*, cheat: bool) -> str:
    """Objects with a detection in [%(since)s, %(mjd_now)s] (with `cheat`,
    only those of the true gentypes %(gentypes)s): a superset of those with a
    known one there, which `_light_curves` narrows to the objects whose
    latest known detection (horizon) is since then. No sent-alert test per
    detection here: as a semi-join it hashed every alert (~0.8 s at 10^6)."""
    truth = (
        "JOIN elasticc_diaobjecttruth t ON t.diaobjectid = s.diaobjectid AND t.gentype = ANY(%(gentypes)s::int[])"
        if cheat
        else ""
    )
    return f"""
    scope AS (
        SELECT DISTINCT s.diaobjectid FROM elasticc_diasource s {truth}
        WHERE s.midpointtai >= %(since)s AND s.midpointtai <= %(mjd_now)s
    )
    """


def current_mjd() -> float:
    """Now as an MJD: where windows given in days end when no mjd_now is given."""
    return datetime.now(UTC).timestamp() / 86400.0 + MJD_UNIX_EPOCH


# Planner settings for the statements of this module. The per-object LATERAL
# scans look expensive to the planner (it adds up every hash partition,
# unpruned until run time), which triggers JIT compilation: ~0.8 s of a
# statement that runs in milliseconds. Answers are sorted whole (spectrawanted:
# 10^4 rows with their magnitudes, ~4 MB), which spilled to disk at the
# default work_mem (bench/followup.py).
_SETTINGS = {"jit": "off", "work_mem": "32MB"}


def _set(settings: dict[str, str], *, local: bool) -> str:
    return "; ".join(f"SET {'LOCAL ' if local else ''}{name} = '{value}'" for name, value in settings.items())


def _rows(sql: str, params: dict) -> list[dict]:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_set(_SETTINGS, local=True))
        cursor.execute(sql, params)
        names = [col.name for col in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _limit(mjd_now: float | None) -> float:
    return float("inf") if mjd_now is None else mjd_now


@dataclass(frozen=True)
class KnownWorld:
    objects: int
    detections: int
    forced: int


def known_world(*, mjd_now: float | None = None) -> KnownWorld:
    """How much of the simulation the world knows (objects, detections,
    forced points): the numbers the definition above gives, for tests and
    the follow-up page."""
    (row,) = _rows(
        f"""
        WITH scope AS (SELECT DISTINCT diaobjectid FROM ({_KNOWN_DETECTIONS}) k0), {_HORIZON}
        SELECT (SELECT count(*) FROM horizon) AS objects,
               (SELECT count(*) FROM ({_KNOWN_DETECTIONS}) k) AS detections,
               (SELECT count(*) FROM horizon h JOIN elasticc_diaforcedsource f
                  ON f.diaobjectid = h.diaobjectid AND f.midpointtai <= h.horizon) AS forced
        """,
        {"mjd_now": _limit(mjd_now)},
    )
    return KnownWorld(**row)


def known_objects(*, objectids: list[int], mjd_now: float | None = None) -> set[int]:
    """The ids among `objectids` that the world knows (a sent alert up to mjd_now)."""
    rows = _rows(
        f"WITH {_SCOPE_IDS}, {_HORIZON} SELECT diaobjectid FROM horizon",
        {"ids": objectids, "mjd_now": _limit(mjd_now)},
    )
    return {row["diaobjectid"] for row in rows}


# Objects per FETCH of a light-curve answer: what Python holds at a time,
# however many objects the answer has.
LIGHT_CURVE_CHUNK = 500
PHOTOMETRY_COLUMNS = ("mjd", "band", "flux", "fluxerr")
# A light-curve answer: lists of rows (objectid, ra, dec, redshift, sncode,
# the host columns if asked for, and the photometry columns as JSON bytes).
LightCurveChunks = Iterator[list[dict]]


class _JsonBytesLoader(Loader):
    def load(self, data: Buffer) -> bytes:
        return bytes(data)


def _streamed(sql: str, params: dict, *, chunk: int) -> Iterator[list[dict]]:
    """The rows of `sql`, `chunk` at a time, from a server-side cursor.

    The statement is planned here, before the first row is asked for, so a
    SQL error reaches the caller before an answer starts; outside a
    transaction (a request) the cursor is WITH HOLD, which runs it to the end
    at once and leaves the result with PostgreSQL, to be fetched in chunks.
    """
    # `_SETTINGS` for the planning of one statement, which may outlive a
    # transaction; every row is read, so planned for all of them rather than
    # for a cursor's first tenth.
    settings = {**_SETTINGS, "cursor_tuple_fraction": "1"}
    with connection.cursor() as session:
        session.execute(_set(settings, local=False))
        try:
            cursor = connection.chunked_cursor()
            # JSON columns stay the bytes PostgreSQL sent: an answer embeds
            # them as they are (not decoded to str and encoded back, ~21 MB
            # each way for a month of hot transients).
            cursor.cursor.adapters.register_loader("json", _JsonBytesLoader)
            cursor.execute(sql, params)
        finally:
            session.execute("; ".join(f"RESET {name}" for name in settings))
    return _chunks(cursor, chunk)


def _chunks(cursor, chunk: int) -> Iterator[list[dict]]:
    try:
        names = [col.name for col in cursor.description]
        while True:
            rows = cursor.fetchmany(chunk)
            if rows:
                yield [dict(zip(names, row, strict=True)) for row in rows]
            if len(rows) < chunk:
                return
    finally:
        cursor.close()


def _light_curves(*, scope_sql: str, params: dict, include_hostinfo: bool) -> LightCurveChunks:
    host = "".join(f", o.{column}" for column in HOST_COLUMNS) if include_hostinfo else ""
    return _streamed(
        f"""
        WITH {scope_sql}, {_HORIZON}
        SELECT o.diaobjectid AS objectid, o.ra, o.decl AS dec,
               COALESCE(spec.z, -99) AS redshift, COALESCE(spec.classid, -99) AS sncode,
               lc.mjd, lc.band, lc.flux, lc.fluxerr {host}
        FROM horizon h
        JOIN elasticc_diaobject o ON o.diaobjectid = h.diaobjectid AND h.horizon >= %(since)s
        CROSS JOIN LATERAL (
            -- The photometry leaves PostgreSQL as JSON text, which the answer
            -- embeds as it is: a light curve never becomes Python floats.
            -- The aggregates read the ordered subquery in its order (an ORDER BY
            -- keeps a subquery from being flattened): one sort of the points.
            SELECT COALESCE(json_agg(p.midpointtai), '[]') AS mjd,
                   COALESCE(json_agg(p.filtername), '[]') AS band,
                   COALESCE(json_agg(p.psflux), '[]') AS flux,
                   COALESCE(json_agg(p.psfluxerr), '[]') AS fluxerr
            FROM (
                SELECT f.midpointtai, f.filtername, f.psflux, f.psfluxerr
                FROM elasticc_diaforcedsource f
                WHERE f.diaobjectid = h.diaobjectid AND f.midpointtai <= h.horizon
                ORDER BY f.midpointtai, f.diaforcedsourceid
            ) p
        ) lc
        LEFT JOIN LATERAL (
            SELECT si.z, si.classid FROM elasticc_spectruminfo si
            WHERE si.diaobjectid = h.diaobjectid AND si.mjd <= %(mjd_now)s
            ORDER BY si.mjd DESC, si.reportedat DESC LIMIT 1
        ) spec ON true
        ORDER BY o.diaobjectid
        """,
        params,
        chunk=LIGHT_CURVE_CHUNK,
    )


def light_curves(
    *, objectids: list[int], mjd_now: float | None = None, include_hostinfo: bool = False
) -> LightCurveChunks:
    """The known light curves of `objectids` (objects the world does not know
    are left out; callers check with `known_objects` first). Redshift and
    sncode come from the latest reported spectrum, -99 without one."""
    return _light_curves(
        scope_sql=_SCOPE_IDS,
        params={"ids": objectids, "mjd_now": _limit(mjd_now), "since": -float("inf")},
        include_hostinfo=include_hostinfo,
    )


def hot_transients(
    *,
    detected_since_mjd: float,
    mjd_now: float | None = None,
    include_hostinfo: bool = False,
    cheat_gentypes: list[int] | None = None,
) -> LightCurveChunks:
    """Known light curves of the objects with a known detection at or after
    `detected_since_mjd`. `cheat_gentypes` keeps only those true gentypes
    (truth: the caller checks the user may see it)."""
    return _light_curves(
        scope_sql=_scope_hot(cheat=cheat_gentypes is not None),
        params={"since": detected_since_mjd, "mjd_now": _limit(mjd_now), "gentypes": cheat_gentypes or []},
        include_hostinfo=include_hostinfo,
    )


# A wanted spectrum `w` that counts: asked for since %(requested_since)s, not
# planned since %(not_claimed_since)s nor reported with a spectrum MJD from
# %(no_spectra_since)s on (either NULL: not a reason to leave it out).
_WANTED = """
    w.wanttime >= %(requested_since)s
    AND (%(not_claimed_since)s::timestamptz IS NULL OR NOT EXISTS (
          SELECT 1 FROM elasticc_plannedspectrum p
          WHERE p.diaobjectid = w.diaobjectid AND p.created_at >= %(not_claimed_since)s))
    AND (%(no_spectra_since)s::float8 IS NULL OR NOT EXISTS (
          SELECT 1 FROM elasticc_spectruminfo si
          WHERE si.diaobjectid = w.diaobjectid AND si.mjd >= %(no_spectra_since)s))
"""


def _latest_magnitudes(objectid: str, horizon: str, *, unless: str = "false") -> str:
    """One row: `latest`, the latest forced point with S/N > %(snr)s of
    object `objectid` in each band up to `horizon` (SQL expressions of an
    outer query), as the JSON object band -> {mjd, mag} (AB, zero point
    %(zp)s; {} when none); NULL without reading a point when `unless` holds."""
    return f"""
        SELECT CASE WHEN NOT ({unless}) THEN COALESCE(json_object_agg(b.filtername,
                   json_build_object('mjd', b.latest[1], 'mag', %(zp)s - 2.5 * log(b.latest[2]))
                   ORDER BY b.filtername COLLATE "C"), '{{}}') END AS latest
        FROM (
            -- The latest point per band as its largest [time, flux] pair:
            -- ~20%% cheaper than DISTINCT ON, whose sort by band and time
            -- compares twice the keys (bench/followup.py).
            SELECT f.filtername, max(ARRAY[f.midpointtai, f.psflux]) AS latest
            FROM elasticc_diaforcedsource f
            WHERE NOT ({unless}) AND f.diaobjectid = {objectid} AND f.midpointtai <= {horizon}
              AND f.psflux > 0 AND f.psflux > %(snr)s * f.psfluxerr
            GROUP BY f.filtername
        ) b
    """


def latest_magnitudes_at_horizon() -> tuple[str, dict]:
    """The statement (and its fixed parameters; `ids` to add) giving
    diaobjectid, horizon, latest for the objects `ids` at their horizon now:
    what `keep_latest_magnitudes` stores."""
    sql = f"""
        WITH {_SCOPE_IDS}, {_HORIZON}
        SELECT h.diaobjectid, h.horizon, l.latest
        FROM horizon h CROSS JOIN LATERAL ({_latest_magnitudes("h.diaobjectid", "h.horizon")}) l
    """
    return sql, {"mjd_now": _limit(None), "zp": FLUX_ZEROPOINT, "snr": LATEST_MIN_SNR}


def planner_settings() -> str:
    """SET LOCAL of this module's planner settings, for a write transaction
    that runs one of its statements."""
    return _set(_SETTINGS, local=True)


def wanted_spectra(
    *,
    requested_since: datetime,
    not_claimed_since: datetime | None,
    detected_since_mjd: float,
    no_spectra_since_mjd: float | None,
    mjd_now: float | None = None,
    lim_mag: float | None = None,
    lim_mag_band: str | None = None,
) -> str:
    """Wanted spectra asked for since `requested_since` that nobody planned
    since `not_claimed_since` (None: plans ignored) or reported with a
    spectrum MJD at or after `no_spectra_since_mjd` (None: reports ignored),
    of objects with a known detection since `detected_since_mjd`; each with
    `latest`: per band, the latest known forced point with S/N > 3 as an AB
    magnitude. As the JSON text of the list, built by PostgreSQL: the API
    answers it as it is (10^4 rows shaped in Python took a sixth of the
    request; bench/followup.py), a page decodes it. `lim_mag`/`lim_mag_band`
    keep objects whose latest such point in that band is at least that
    bright. One statement. The magnitudes come from those
    `keep_latest_magnitudes` stored where they were computed at the object's
    horizon now, and are computed here for the others (a missed update or a
    past mjd_now costs time, never correctness)."""
    params = {
        "requested_since": requested_since,
        "not_claimed_since": not_claimed_since,
        "no_spectra_since": no_spectra_since_mjd,
        "since": detected_since_mjd,
        "mjd_now": _limit(mjd_now),
        "zp": FLUX_ZEROPOINT,
        "snr": LATEST_MIN_SNR,
        "lim_mag": lim_mag,
        "lim_mag_band": lim_mag_band,
    }
    rows = _rows(
        f"""
        WITH scope AS (SELECT DISTINCT w.diaobjectid FROM elasticc_wantedspectrum w WHERE {_WANTED}),
        {_HORIZON},
        -- An object with a known detection since `since` has its latest one since then.
        recent AS (SELECT diaobjectid, horizon FROM horizon WHERE horizon >= %(since)s),
        -- Kept magnitudes count only where computed at the object's horizon
        -- now; the others are computed here. Once per object (MATERIALIZED:
        -- inlined, it ran per wanted row).
        latest_by_object AS MATERIALIZED (
            SELECT r.diaobjectid, COALESCE(k.latest::json, c.latest) AS latest
            FROM recent r
            LEFT JOIN elasticc_latestmagnitudes k ON k.diaobjectid = r.diaobjectid AND k.horizon = r.horizon
            CROSS JOIN LATERAL ({_latest_magnitudes("r.diaobjectid", "r.horizon", unless="k.latest IS NOT NULL")}) c
        )
        -- Objects first, their wanted rows by the (object, requester) index:
        -- joined as two CTEs instead, a misestimate made PostgreSQL compare
        -- every pair (16 M with lim_mag, 1 s; bench/followup.py).
        SELECT COALESCE(json_agg(
                   json_build_object('oid', w.diaobjectid, 'ra', o.ra, 'dec', o.decl, 'req', w.requester,
                                     'prio', w.priority, 'latest', l.latest)
                   ORDER BY w.priority DESC, w.diaobjectid, w.requester), '[]')::text AS wanted
        FROM latest_by_object l
        JOIN elasticc_diaobject o ON o.diaobjectid = l.diaobjectid
        JOIN elasticc_wantedspectrum w ON w.diaobjectid = l.diaobjectid AND {_WANTED}
        WHERE %(lim_mag)s::float8 IS NULL OR (l.latest -> %(lim_mag_band)s ->> 'mag')::float8 <= %(lim_mag)s
        """,
        params,
    )
    return rows[0]["wanted"]


def wanted_spectra_by_filters(
    *,
    requested_since: datetime | None = None,
    not_claimed_in_last_days: float = 7.0,
    detected_since_mjd: float | None = None,
    detected_in_last_days: float = 14.0,
    no_spectra_in_last_days: float = 7.0,
    lim_mag: float | None = None,
    lim_mag_band: str | None = None,
    mjd_now: float | None = None,
) -> str:
    """`wanted_spectra` with the windows of the spectrawanted API (and the
    follow-up page): requests of the last 14 days, plans of the last 7 days
    (wall clock: people make them now), detections in the last 14 days and
    spectra in the last 7 days before mjd_now (simulated time)."""
    now = datetime.now(UTC)
    mjd_end = mjd_now if mjd_now is not None else current_mjd()
    if detected_since_mjd is None:
        detected_since_mjd = mjd_end - detected_in_last_days
    return wanted_spectra(
        requested_since=requested_since or now - timedelta(days=14),
        not_claimed_since=now - timedelta(days=not_claimed_in_last_days) if not_claimed_in_last_days > 0 else None,
        detected_since_mjd=detected_since_mjd,
        no_spectra_since_mjd=mjd_end - no_spectra_in_last_days if no_spectra_in_last_days > 0 else None,
        mjd_now=mjd_now,
        lim_mag=lim_mag,
        lim_mag_band=lim_mag_band,
    )


def known_spectra(
    *,
    objectids: list[int] | None = None,
    facility: str | None = None,
    mjd_min: float | None = None,
    mjd_max: float | None = None,
    classid: int | None = None,
    z_min: float | None = None,
    z_max: float | None = None,
    since: datetime | None = None,
) -> list[dict]:
    """Reported spectrum information matching every given filter, by mjd."""
    return _rows(
        """
        SELECT si.diaobjectid AS objectid, si.facility, si.mjd, si.z, si.classid
        FROM elasticc_spectruminfo si
        WHERE (%(ids)s::bigint[] IS NULL OR si.diaobjectid = ANY(%(ids)s::bigint[]))
          AND (%(facility)s::text IS NULL OR si.facility = %(facility)s)
          AND (%(mjd_min)s::float8 IS NULL OR si.mjd >= %(mjd_min)s)
          AND (%(mjd_max)s::float8 IS NULL OR si.mjd <= %(mjd_max)s)
          AND (%(classid)s::int IS NULL OR si.classid = %(classid)s)
          AND (%(z_min)s::float8 IS NULL OR si.z >= %(z_min)s)
          AND (%(z_max)s::float8 IS NULL OR si.z <= %(z_max)s)
          AND (%(since)s::timestamptz IS NULL OR si.reportedat >= %(since)s)
        ORDER BY si.mjd, si.spectruminfoid
        """,
        {
            "ids": objectids,
            "facility": facility,
            "mjd_min": mjd_min,
            "mjd_max": mjd_max,
            "classid": classid,
            "z_min": z_min,
            "z_max": z_max,
            "since": since,
        },
    )


def object_followup(*, diaobjectid: int) -> dict[str, list[dict]]:
    """The requests, plans and reports of one object, with who made them (three indexed queries)."""
    return {
        "wanted": list(
            WantedSpectrum.objects.filter(diaobject_id=diaobjectid)
            .order_by("-priority", "requester")
            .values("requester", "priority", "wanttime", "user__username")
        ),
        "plans": list(
            PlannedSpectrum.objects.filter(diaobject_id=diaobjectid)
            .order_by("plantime")
            .values("facility", "plantime", "comment", "created_at", "user__username")
        ),
        "reports": list(
            SpectrumInfo.objects.filter(diaobject_id=diaobjectid)
            .order_by("-mjd")
            .values("facility", "mjd", "z", "classid", "reportedat", "user__username")
        ),
    }


def current_plans(*, facility: str | None = None, limit: int = 500) -> list[dict]:
    """Declared plans, soonest first (the follow-up page), at most `limit`."""
    plans = PlannedSpectrum.objects.order_by("plantime", "diaobject_id")
    if facility:
        plans = plans.filter(facility=facility)
    return list(plans.values("diaobject_id", "facility", "plantime", "comment", "created_at", "user__username")[:limit])
