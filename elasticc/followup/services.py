"""Writes of follow-up coordination: ask for, plan, withdraw and report
spectra, and make an object a TOM Toolkit Target.

The API views and the object page both call these, so the rules (priority
clamped to 0..5, one wanted row per object and requester, a report removes
that facility's plan, a target made once) live in one place.
"""

from collections.abc import Sequence
from datetime import datetime

from django.contrib.auth.models import User
from django.db import connection, transaction
from tom_targets.models import Target, TargetExtra

from elasticc.followup.selectors import latest_magnitudes_at_horizon, planner_settings
from elasticc.followup.validation import BodyError
from elasticc.models import ClassId, DiaObject, PlannedSpectrum, SpectrumInfo
from elasticc.taxonomy.taxonomies import ELASTICC2

MIN_PRIORITY, MAX_PRIORITY = 0, 5
# The key of the TargetExtra that links a Target back to its object page.
TARGET_OBJECT_KEY = "elasticc_diaobjectid"
TARGET_URL_KEY = "elasticc_object_url"


class UnknownObjects(LookupError):
    """Ids that are not objects of this database (or, with `why`, not known yet)."""

    def __init__(self, ids: Sequence[int], *, why: str = "not in this database"):
        self.ids = sorted(set(ids))
        plural = "s" if len(self.ids) > 1 else ""
        super().__init__(f"unknown diaObjectId{plural} ({why}): {', '.join(map(str, self.ids))}")


def check_objects_exist(*, objectids: Sequence[int]) -> None:
    """Raise UnknownObjects naming every id that is not an object (one query)."""
    found = set(DiaObject.objects.filter(pk__in=set(objectids)).values_list("pk", flat=True))
    missing = set(objectids) - found
    if missing:
        raise UnknownObjects(sorted(missing))


def clamp_priority(priority: int) -> int:
    return max(MIN_PRIORITY, min(MAX_PRIORITY, priority))


def ask_for_spectra(*, user: User, requester: str, objectids: Sequence[int], priorities: Sequence[int]) -> int:
    """Store (or replace) one wanted spectrum per object for `requester` in
    one statement; returns how many rows were written. A repeated id in one
    request keeps its last priority."""
    if len(objectids) != len(priorities):
        raise BodyError("'objectids' and 'priorities' must have the same length", key="priorities")
    check_objects_exist(objectids=objectids)
    wanted = {oid: clamp_priority(prio) for oid, prio in zip(objectids, priorities, strict=True)}
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO elasticc_wantedspectrum (diaobjectid, requester, priority, userid, wanttime) "
            "SELECT u.oid, %s, u.prio, %s, now() FROM unnest(%s::bigint[], %s::smallint[]) AS u(oid, prio) "
            "ON CONFLICT (diaobjectid, requester) DO UPDATE "
            "SET priority = EXCLUDED.priority, userid = EXCLUDED.userid, wanttime = EXCLUDED.wanttime",
            [requester, user.pk, list(wanted), list(wanted.values())],
        )
        written = cursor.rowcount
    keep_latest_magnitudes(objectids=list(wanted))
    return written


def keep_latest_magnitudes(*, objectids: Sequence[int], wanted_only: bool = False) -> int:
    """Store the latest magnitudes of `objectids` at their horizon now (the
    `latest` of spectrawanted, elasticc.models.LatestMagnitudes) in one
    statement; returns how many objects got them. With `wanted_only`, only
    objects somebody wants a spectrum of. Asking for a spectrum keeps them,
    and so does sending alerts (the objects' horizons move), so spectrawanted
    finds them ready instead of reading every forced point of every wanted
    object per request."""
    ids = sorted(set(map(int, objectids)))
    if not ids:
        return 0
    select, params = latest_magnitudes_at_horizon()
    with transaction.atomic(), connection.cursor() as cursor:
        if wanted_only:
            cursor.execute(
                "SELECT DISTINCT diaobjectid FROM elasticc_wantedspectrum WHERE diaobjectid = ANY(%s)", [ids]
            )
            ids = [row[0] for row in cursor.fetchall()]
            if not ids:
                return 0
        cursor.execute(planner_settings())
        cursor.execute(
            f"INSERT INTO elasticc_latestmagnitudes (diaobjectid, horizon, latest) "
            f"SELECT m.diaobjectid, m.horizon, m.latest::text FROM ({select}) m "
            f"ON CONFLICT (diaobjectid) DO UPDATE SET horizon = EXCLUDED.horizon, latest = EXCLUDED.latest",
            {**params, "ids": ids},
        )
        return cursor.rowcount


def forget_latest_magnitudes(cursor, *, staged: str) -> None:
    """Drop the kept magnitudes of the objects in `staged` (a table with a
    diaobjectid column) whose forced photometry a loader has just added to:
    they may no longer be the latest."""
    cursor.execute(
        "DELETE FROM elasticc_latestmagnitudes k "
        f"WHERE EXISTS (SELECT 1 FROM {staged} s WHERE s.diaobjectid = k.diaobjectid)"
    )


def plan_spectrum(
    *, user: User, objectid: int, facility: str, plantime: datetime, comment: str = ""
) -> PlannedSpectrum:
    """Declare (or re-declare: one plan per object and facility) a planned spectrum."""
    check_objects_exist(objectids=[objectid])
    PlannedSpectrum.objects.filter(diaobject_id=objectid, facility=facility).delete()
    plan = PlannedSpectrum.objects.create(
        diaobject_id=objectid, facility=facility, plantime=plantime, comment=comment or "", user=user
    )
    plan.refresh_from_db(fields=["created_at"])
    return plan


def remove_spectrum_plan(*, objectid: int, facility: str) -> int:
    """Withdraw a facility's plan for an object; how many rows went (0 or 1)."""
    deleted, _ = PlannedSpectrum.objects.filter(diaobject_id=objectid, facility=facility).delete()
    return deleted


def check_classid(*, classid: int) -> None:
    """Reported classes are ELAsTiCC2 classIds (300 = NotClassified)."""
    if not ClassId.objects.filter(taxonomy=ELASTICC2, classid=classid).exists():
        raise BodyError(f"'classid' {classid} is not an ELAsTiCC2 classId (300 = NotClassified)", key="classid")


@transaction.atomic
def report_spectrum(
    *, user: User, objectid: int, facility: str, mjd: float, z: float | None, classid: int
) -> SpectrumInfo:
    """Store what a spectrum showed; the facility's plan for the object is done, so it goes."""
    check_objects_exist(objectids=[objectid])
    check_classid(classid=classid)
    info = SpectrumInfo.objects.create(
        diaobject_id=objectid, facility=facility, mjd=mjd, z=z, classid=classid, user=user
    )
    remove_spectrum_plan(objectid=objectid, facility=facility)
    info.refresh_from_db(fields=["reportedat"])
    return info


def object_target(*, objectid: int) -> Target | None:
    """The TOM Toolkit Target made from an object, if any (its name is the diaObjectId)."""
    return Target.objects.filter(name=str(objectid)).first()


@transaction.atomic
def make_target(*, objectid: int, object_url: str) -> tuple[Target, bool]:
    """Make an object a TOM Toolkit Target, once: name = diaObjectId, its
    RA/Dec, open to every logged-in user, and TargetExtras holding the id
    and `object_url` (the link back to the object page), so TOM Toolkit's
    target lists, observations and data products work for it. Returns the
    target and whether it was made now."""
    obj = DiaObject.objects.filter(pk=objectid).first()
    if obj is None:
        raise UnknownObjects([objectid])
    target, created = Target.objects.get_or_create(
        name=str(objectid),
        defaults={
            "type": Target.SIDEREAL,
            "ra": obj.ra,
            "dec": obj.decl,
            "epoch": 2000.0,
            "permissions": Target.Permissions.OPEN,
        },
    )
    if created:
        for key, value in ((TARGET_OBJECT_KEY, str(objectid)), (TARGET_URL_KEY, object_url)):
            TargetExtra.objects.create(target=target, key=key, value=value)
    return target, created


def object_of_target(*, target: Target) -> int | None:
    """The diaObjectId a Target was made from (None for other targets)."""
    extra = TargetExtra.objects.filter(target=target, key=TARGET_OBJECT_KEY).first()
    return int(extra.value) if extra else None
