"""Fill the ELAsTiCC taxonomy and the classId/gentype maps.

The facts are encoded here (from the ELAsTiCC taxonomy tables) so that
migrating never depends on files outside the project. Periodic is classId 21
(the original deployment had its map rows at 20 by mistake).
"""

from django.db import migrations

# (classid, name, parent, level): 1 broad, 2 category, 3 exact.
TAXONOMY = [
    (0, 'Static/Other', None, 1),
    (1, 'Non-Recurring', None, 1),
    (10, 'Non-Recurring/Other', 1, 2),
    (11, 'SN-like', 1, 2),
    (110, 'SN-like/Other', 11, 3),
    (111, 'Ia', 11, 3),
    (112, 'Ib/c', 11, 3),
    (113, 'II', 11, 3),
    (114, 'Iax', 11, 3),
    (115, '91bg', 11, 3),
    (12, 'Fast', 1, 2),
    (120, 'Fast/Other', 12, 3),
    (121, 'KN', 12, 3),
    (122, 'M-dwarf Flare', 12, 3),
    (123, 'Dwarf Novae', 12, 3),
    (124, 'uLens', 12, 3),
    (13, 'Long', 1, 2),
    (130, 'Long/Other', 13, 3),
    (131, 'SLSN', 13, 3),
    (132, 'TDE', 13, 3),
    (133, 'ILOT', 13, 3),
    (134, 'CART', 13, 3),
    (135, 'PISN', 13, 3),
    (2, 'Recurring', None, 1),
    (20, 'Recurring/Other', 2, 2),
    (21, 'Periodic', 2, 2),
    (210, 'Periodic/Other', 21, 3),
    (211, 'Cepheid', 21, 3),
    (212, 'RR Lyrae', 21, 3),
    (213, 'Delta Scuti', 21, 3),
    (214, 'EB', 21, 3),
    (215, 'LPV/Mira', 21, 3),
    (22, 'Non-Periodic', 2, 2),
    (220, 'Non-Periodic/Other', 22, 3),
    (221, 'AGN', 22, 3),
]

# (classid, gentype or None, description)
GENTYPE_OF_CLASSID = [
    (0, None, 'Static/Other'),
    (1, None, 'Non-Recurring'),
    (10, None, 'Non-Recurring/Other'),
    (11, None, 'SN-like'),
    (110, None, 'SN-like/Other'),
    (111, 10, 'Ia'),
    (112, 20, 'Ib/c'),
    (112, 21, 'Ib/c'),
    (112, 25, 'Ib/c'),
    (112, 26, 'Ib/c'),
    (112, 27, 'Ib/c'),
    (113, 30, 'II'),
    (113, 31, 'II'),
    (113, 32, 'II'),
    (113, 35, 'II'),
    (113, 36, 'II'),
    (113, 37, 'II'),
    (114, 12, 'Iax'),
    (115, 11, '91bg'),
    (12, None, 'Fast'),
    (120, None, 'Fast/Other'),
    (121, 50, 'KN'),
    (121, 51, 'KN'),
    (122, 82, 'M-dwarf Flare'),
    (123, 84, 'Dwarf Nova'),
    (124, 87, 'uLens'),
    (124, 88, 'uLens'),
    (124, 89, 'uLens'),
    (13, None, 'Long'),
    (130, None, 'Long/Other'),
    (131, 40, 'SLSN'),
    (132, 42, 'TDE'),
    (133, 45, 'ILOT'),
    (134, 46, 'CART'),
    (135, 59, 'PISN'),
    (2, None, 'Recurring'),
    (20, None, 'Recurring/Other'),
    (21, None, 'Periodic'),
    (210, None, 'Periodic/Other'),
    (211, 90, 'Cepheid'),
    (212, 80, 'RR Lyrae'),
    (213, 91, 'Delta Scuti'),
    (214, 83, 'EB'),
    (215, None, 'LPV/Mira'),
    (22, None, 'Non-Periodic'),
    (220, None, 'Non-Periodic/Other'),
    (221, 60, 'AGN'),
]

# (classid, gentype, exactmatch, categorymatch, description)
CLASSID_OF_GENTYPE = [
    (1, 10, False, False, 'Non-Recurring'),
    (1, 20, False, False, 'Non-Recurring'),
    (1, 21, False, False, 'Non-Recurring'),
    (1, 25, False, False, 'Non-Recurring'),
    (1, 26, False, False, 'Non-Recurring'),
    (1, 27, False, False, 'Non-Recurring'),
    (1, 30, False, False, 'Non-Recurring'),
    (1, 31, False, False, 'Non-Recurring'),
    (1, 32, False, False, 'Non-Recurring'),
    (1, 35, False, False, 'Non-Recurring'),
    (1, 36, False, False, 'Non-Recurring'),
    (1, 37, False, False, 'Non-Recurring'),
    (1, 12, False, False, 'Non-Recurring'),
    (1, 11, False, False, 'Non-Recurring'),
    (1, 50, False, False, 'Non-Recurring'),
    (1, 51, False, False, 'Non-Recurring'),
    (1, 82, False, False, 'Non-Recurring'),
    (1, 84, False, False, 'Non-Recurring'),
    (1, 87, False, False, 'Non-Recurring'),
    (1, 88, False, False, 'Non-Recurring'),
    (1, 89, False, False, 'Non-Recurring'),
    (1, 40, False, False, 'Non-Recurring'),
    (1, 42, False, False, 'Non-Recurring'),
    (1, 45, False, False, 'Non-Recurring'),
    (1, 46, False, False, 'Non-Recurring'),
    (1, 59, False, False, 'Non-Recurring'),
    (11, 10, False, True, 'SN-like'),
    (11, 20, False, True, 'SN-like'),
    (11, 21, False, True, 'SN-like'),
    (11, 25, False, True, 'SN-like'),
    (11, 26, False, True, 'SN-like'),
    (11, 27, False, True, 'SN-like'),
    (11, 30, False, True, 'SN-like'),
    (11, 31, False, True, 'SN-like'),
    (11, 32, False, True, 'SN-like'),
    (11, 35, False, True, 'SN-like'),
    (11, 36, False, True, 'SN-like'),
    (11, 37, False, True, 'SN-like'),
    (11, 12, False, True, 'SN-like'),
    (11, 11, False, True, 'SN-like'),
    (111, 10, True, True, 'Ia'),
    (112, 20, True, True, 'Ib/c'),
    (112, 21, True, True, 'Ib/c'),
    (112, 25, True, True, 'Ib/c'),
    (112, 26, True, True, 'Ib/c'),
    (112, 27, True, True, 'Ib/c'),
    (113, 30, True, True, 'II'),
    (113, 31, True, True, 'II'),
    (113, 32, True, True, 'II'),
    (113, 35, True, True, 'II'),
    (113, 36, True, True, 'II'),
    (113, 37, True, True, 'II'),
    (114, 12, True, True, 'Iax'),
    (115, 11, True, True, '91bg'),
    (12, 50, False, True, 'Fast'),
    (12, 51, False, True, 'Fast'),
    (12, 82, False, True, 'Fast'),
    (12, 84, False, True, 'Fast'),
    (12, 87, False, True, 'Fast'),
    (12, 88, False, True, 'Fast'),
    (12, 89, False, True, 'Fast'),
    (121, 50, True, True, 'KN'),
    (121, 51, True, True, 'KN'),
    (122, 82, True, True, 'M-dwarf Flare'),
    (123, 84, True, True, 'Dwarf Nova'),
    (124, 87, True, True, 'uLens'),
    (124, 88, True, True, 'uLens'),
    (124, 89, True, True, 'uLens'),
    (13, 40, False, True, 'Long'),
    (13, 42, False, True, 'Long'),
    (13, 45, False, True, 'Long'),
    (13, 46, False, True, 'Long'),
    (13, 59, False, True, 'Long'),
    (131, 40, True, True, 'SLSN'),
    (132, 42, True, True, 'TDE'),
    (133, 45, True, True, 'ILOT'),
    (134, 46, True, True, 'CART'),
    (135, 59, True, True, 'PISN'),
    (2, 90, False, False, 'Recurring'),
    (2, 80, False, False, 'Recurring'),
    (2, 91, False, False, 'Recurring'),
    (2, 83, False, False, 'Recurring'),
    (2, 60, False, False, 'Recurring'),
    (21, 90, False, True, 'Periodic'),
    (21, 80, False, True, 'Periodic'),
    (21, 91, False, True, 'Periodic'),
    (21, 83, False, True, 'Periodic'),
    (211, 90, True, True, 'Cepheid'),
    (212, 80, True, True, 'RR Lyrae'),
    (213, 91, True, True, 'Delta Scuti'),
    (214, 83, True, True, 'EB'),
    (22, 60, False, True, 'Non-Periodic'),
    (221, 60, True, True, 'AGN'),
]


def fill(apps, schema_editor):
    ClassId = apps.get_model("elasticc", "ClassId")
    GentypeOfClassId = apps.get_model("elasticc", "GentypeOfClassId")
    ClassIdOfGentype = apps.get_model("elasticc", "ClassIdOfGentype")
    ClassId.objects.bulk_create(
        [ClassId(classid=c, name=n, parent=p, level=lv) for c, n, p, lv in TAXONOMY]
    )
    GentypeOfClassId.objects.bulk_create(
        [GentypeOfClassId(classid=c, gentype=g, description=d) for c, g, d in GENTYPE_OF_CLASSID]
    )
    ClassIdOfGentype.objects.bulk_create(
        [
            ClassIdOfGentype(classid=c, gentype=g, exactmatch=e, categorymatch=cm, description=d)
            for c, g, e, cm, d in CLASSID_OF_GENTYPE
        ]
    )


def empty(apps, schema_editor):
    for name in ("ClassId", "GentypeOfClassId", "ClassIdOfGentype"):
        apps.get_model("elasticc", name).objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("elasticc", "0001_initial")]

    operations = [migrations.RunPython(fill, empty)]
