"""Small, hand-made simulation rows for the REST API tests (ORM bulk inserts
into the parent tables, so the row-count triggers fire)."""

from __future__ import annotations

from django.utils import timezone

from elasticc.models import DiaAlert, DiaForcedSource, DiaObject, DiaObjectTruth, DiaSource, DiaTruth

# Statements elasticc.alert_builder.build_alerts runs per page, whatever its size
# (a savepoint, SET LOCAL jit, four SELECTs, the release).
BUILDER_STATEMENTS = 7
N_OBJECTS = 12
SOURCES_PER_OBJECT = 3
FORCED_PER_OBJECT = 5
T0 = 60000.0


def object_id(i: int) -> int:
    return 1000 + i


def source_id(i: int, j: int) -> int:
    return object_id(i) * 100 + j


def make_objects(positions: list[tuple[int, float, float]]) -> None:
    DiaObject.objects.bulk_create(
        [DiaObject(diaobjectid=oid, ra=ra, decl=dec, simversion="test", mwebv=0.01) for oid, ra, dec in positions]
    )


def load_small_sim() -> dict[str, list[int]]:
    """N_OBJECTS objects along the equator, their sources, forced sources,
    alerts (the first of each object marked sent) and truth."""
    make_objects([(object_id(i), 10.0 * i, -30.0 + i) for i in range(N_OBJECTS)])
    sources, forced, alerts, truth, object_truth = [], [], [], [], []
    for i in range(N_OBJECTS):
        oid = object_id(i)
        for j in range(SOURCES_PER_OBJECT):
            sid = source_id(i, j)
            sources.append(
                DiaSource(
                    diasourceid=sid,
                    diaobject_id=oid,
                    midpointtai=T0 + i + 2.0 * j,
                    filtername="r",
                    ra=10.0 * i,
                    decl=-30.0 + i,
                    psflux=100.0 + j,
                    psfluxerr=10.0,
                    snr=10.0,
                )
            )
            alerts.append(DiaAlert(alertid=sid, diasource_id=sid, diaobject_id=oid))
            truth.append(DiaTruth(diasourceid=sid, diaobjectid=oid, mjd=T0 + i + 2.0 * j, detect=True, gentype=10))
        for k in range(FORCED_PER_OBJECT):
            forced.append(
                DiaForcedSource(
                    diaforcedsourceid=oid * 1000 + k,
                    diaobject_id=oid,
                    midpointtai=T0 + i - 3.0 + k,
                    filtername="g",
                    psflux=5.0,
                    psfluxerr=1.0,
                )
            )
        object_truth.append(DiaObjectTruth(diaobjectid=oid, gentype=10, zcmb=0.1))
    DiaSource.objects.bulk_create(sources)
    DiaForcedSource.objects.bulk_create(forced)
    DiaAlert.objects.bulk_create(alerts)
    DiaTruth.objects.bulk_create(truth)
    DiaObjectTruth.objects.bulk_create(object_truth)
    DiaAlert.objects.filter(alertid__in=[source_id(i, 0) for i in range(N_OBJECTS)]).update(
        alertsenttimestamp=timezone.now()
    )
    return {
        "objects": [object_id(i) for i in range(N_OBJECTS)],
        "sources": [s.diasourceid for s in sources],
        "forced": [f.diaforcedsourceid for f in forced],
    }
