"""Reference rows every ELAsTiCC database must hold: the taxonomy maps and
the two Django groups.

Migrations 0002 and 0004 create them; `ensure_reference_data` restores them
after anything that empties tables without re-running migrations (Django's
`flush`, which the test framework runs between transactional tests, emits
post_migrate). It is idempotent and cheap when the rows are there.
"""

from importlib import import_module

from django.contrib.auth.models import Group
from django.db import transaction

from elasticc.models import ClassId, ClassIdOfGentype, GentypeOfClassId

GROUPS = ("elasticc_admin", "elasticc_broker")


def ensure_reference_data(*, using: str = "default") -> None:
    taxonomy = import_module("elasticc.migrations.0002_taxonomy")
    with transaction.atomic(using=using):
        for name in GROUPS:
            Group.objects.using(using).get_or_create(name=name)
        if not ClassId.objects.using(using).exists():
            ClassId.objects.using(using).bulk_create(
                [ClassId(classid=c, name=n, parent=p, level=lv) for c, n, p, lv in taxonomy.TAXONOMY]
            )
        if not GentypeOfClassId.objects.using(using).exists():
            GentypeOfClassId.objects.using(using).bulk_create(
                [GentypeOfClassId(classid=c, gentype=g, description=d) for c, g, d in taxonomy.GENTYPE_OF_CLASSID]
            )
        if not ClassIdOfGentype.objects.using(using).exists():
            ClassIdOfGentype.objects.using(using).bulk_create(
                [
                    ClassIdOfGentype(classid=c, gentype=g, exactmatch=e, categorymatch=cm, description=d)
                    for c, g, e, cm, d in taxonomy.CLASSID_OF_GENTYPE
                ]
            )
