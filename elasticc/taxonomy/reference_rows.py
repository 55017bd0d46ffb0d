"""Reference rows every ELAsTiCC database must hold: the taxonomy maps of
both taxonomies and the two Django groups.

Migrations 0002, 0004 and 0008 create them; `ensure_reference_data` restores
them after anything that empties tables without re-running migrations
(Django's `flush`, which the test framework runs between transactional
tests, emits post_migrate). It is idempotent and cheap when the rows are there.
"""

from collections.abc import Callable

from django.apps import apps as global_apps
from django.contrib.auth.models import Group
from django.db import models, transaction

from elasticc.access.groups import GROUPS
from elasticc.taxonomy import elasticc, elasticc2
from elasticc.taxonomy.taxonomies import ELASTICC, ELASTICC2


def _classid_of_gentype_rows(taxonomy: str) -> list[tuple]:
    """(classid, gentype, exact, category, general, broad, description);
    ELAsTiCC has no general level (null), and each of its rows names a class
    at or below the gentype's broad class, so every row is a broad match."""
    if taxonomy == ELASTICC2:
        return elasticc2.CLASSID_OF_GENTYPE
    return [(c, g, e, cm, None, True, d) for c, g, e, cm, d in elasticc.CLASSID_OF_GENTYPE]


def taxonomy_rows(
    get_model: Callable[[str, str], type[models.Model]], *, taxonomy: str = ELASTICC
) -> dict[str, list[models.Model]]:
    """Unsaved rows of the three taxonomy tables for one taxonomy, by model
    name; `get_model` is a migration's `apps.get_model` or the app registry's.

    Migration 0002 calls this with the models as they were before the tables
    had a `taxonomy` column (0007 adds it, filled with ELAsTiCC for those
    rows), so the columns each historical model lacks are left out."""
    module = elasticc2 if taxonomy == ELASTICC2 else elasticc
    ClassId = get_model("elasticc", "ClassId")
    GentypeOfClassId = get_model("elasticc", "GentypeOfClassId")
    ClassIdOfGentype = get_model("elasticc", "ClassIdOfGentype")

    def row(model: type[models.Model], **values) -> models.Model:
        names = {f.name for f in model._meta.concrete_fields}
        return model(
            **{k: v for k, v in values.items() if k in names}, **({"taxonomy": taxonomy} if "taxonomy" in names else {})
        )

    return {
        "ClassId": [row(ClassId, classid=c, name=n, parent=p, level=lv) for c, n, p, lv in module.TAXONOMY],
        "GentypeOfClassId": [
            row(GentypeOfClassId, classid=c, gentype=g, description=d) for c, g, d in module.GENTYPE_OF_CLASSID
        ],
        "ClassIdOfGentype": [
            row(
                ClassIdOfGentype, classid=c, gentype=g, exactmatch=e, categorymatch=cm, generalmatch=gm,
                broadmatch=bm, description=d,
            )
            for c, g, e, cm, gm, bm, d in _classid_of_gentype_rows(taxonomy)
        ],
    }  # fmt: skip


def ensure_reference_data(*, using: str = "default") -> None:
    with transaction.atomic(using=using):
        for name in GROUPS:
            Group.objects.using(using).get_or_create(name=name)
        for taxonomy in (ELASTICC, ELASTICC2):
            for model_name, rows in taxonomy_rows(global_apps.get_model, taxonomy=taxonomy).items():
                model = global_apps.get_model("elasticc", model_name)
                if not model.objects.using(using).filter(taxonomy=taxonomy).exists():
                    model.objects.using(using).bulk_create(rows)
