"""The two taxonomies side by side, and which one a classifier is evaluated in.

ELAsTiCC (schema v0_9, 3-digit ids) and ELAsTiCC2 (schema v0_9_1, 4-digit
ids) were the taxonomies of two campaigns, and real broker streams of each
exist, so both live in one database, keyed by taxonomy (their id sets
overlap only at 0). Each classifier is evaluated in one of them
(`elasticc_brokerclassifier.evaluatedtaxonomy`): the one an admin or its
broker source chose, else `default_taxonomy` of its first messages.
"""

from collections.abc import Iterable

from elasticc.taxonomy import elasticc, elasticc2

ELASTICC = "elasticc"
ELASTICC2 = "elasticc2"
CHOICES = [(ELASTICC, "ELAsTiCC (3-digit)"), (ELASTICC2, "ELAsTiCC2 (4-digit)")]
LABELS = dict(CHOICES)
SCHEMA_TAXONOMY = {"v0_9": ELASTICC, "v0_9_1": ELASTICC2}

# The metric levels of each taxonomy, finest first, and the `level` column value of each.
LEVELS: dict[str, dict[str, int]] = {
    ELASTICC: {"exact": 3, "category": 2, "broad": 1},
    ELASTICC2: {"exact": 4, "category": 3, "general": 2, "broad": 1},
}

CLASSIDS: dict[str, frozenset[int]] = {
    ELASTICC: frozenset(row[0] for row in elasticc.TAXONOMY),
    ELASTICC2: frozenset(row[0] for row in elasticc2.TAXONOMY),
}


def default_taxonomy(*, schema_version: str | None, classids: Iterable[int]) -> str:
    """The taxonomy a classifier is evaluated in when nobody chose one.

    The schema version of its messages decides (v0_9 -> ELAsTiCC, v0_9_1 ->
    ELAsTiCC2), unless its classIds all belong to the other taxonomy: the
    brokers answered in the taxonomy they were told to use, and during the
    first campaign v0_9_1 messages with 3-digit ids were common. Ids in
    neither taxonomy leave the schema's choice standing."""
    ids = set(classids)
    by_schema = SCHEMA_TAXONOMY.get(schema_version or "", ELASTICC)
    if ids <= CLASSIDS[by_schema]:
        return by_schema
    for name, members in CLASSIDS.items():
        if ids <= members:
            return name
    return by_schema
