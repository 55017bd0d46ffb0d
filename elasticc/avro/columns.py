"""Column lists of the ELAsTiCC tables and their Avro (camelCase) names.

Column names are the lower-cased Avro field names (README, "Data model in brief"), so the
SQL name of a field is always `avro_name.lower()`. These lists fix the column
order once for everything that moves rows in bulk (COPY loaders, the alert
builder's SELECTs, the REST serializers), so the three never drift apart.
"""

from elasticc.avro.versions import check_schema_version

HOSTGAL_AVRO_FIELDS: tuple[str, ...] = tuple(
    f"{prefix}_{suffix}"
    for prefix in ("hostgal", "hostgal2")
    for suffix in (
        "ellipticity",
        "sqradius",
        "zspec",
        "zspec_err",
        "zphot",
        "zphot_err",
        *(f"zphot_q{q:03d}" for q in range(0, 101, 10)),
        "zphot_p50",
        *(f"mag_{band}" for band in "ugriz"),
        "mag_Y",
        "ra",
        "dec",
        "snsep",
        *(f"magerr_{band}" for band in "ugriz"),
        "magerr_Y",
    )
)

# Avro field names of each record, in the order of the v0_9 schemas (v0_9_1 is
# a subset: see V0_9_1_ONLY_MISSING).
DIAOBJECT_AVRO_FIELDS: tuple[str, ...] = (
    "diaObjectId",
    "simVersion",
    "ra",
    "decl",
    "mwebv",
    "mwebv_err",
    "z_final",
    "z_final_err",
    *HOSTGAL_AVRO_FIELDS,
)
DIASOURCE_AVRO_FIELDS: tuple[str, ...] = (
    "diaSourceId",
    "ccdVisitId",
    "diaObjectId",
    "parentDiaSourceId",
    "midPointTai",
    "filterName",
    "ra",
    "decl",
    "psFlux",
    "psFluxErr",
    "snr",
    "nobs",
)
DIAFORCEDSOURCE_AVRO_FIELDS: tuple[str, ...] = (
    "diaForcedSourceId",
    "ccdVisitId",
    "diaObjectId",
    "midPointTai",
    "filterName",
    "psFlux",
    "psFluxErr",
    "totFlux",
    "totFluxErr",
)

# Fields of v0_9 that the v0_9_1 records dropped.
V0_9_1_ONLY_MISSING: frozenset[str] = frozenset(
    {
        "hostgal_zphot_p50",
        "hostgal2_zphot_p50",
        "ccdVisitId",
        "parentDiaSourceId",
        "nobs",
        "totFlux",
        "totFluxErr",
    }
)


def column(avro_name: str) -> str:
    """SQL column of an Avro field (the naming rule of the data model)."""
    return avro_name.lower()


def avro_fields(fields: tuple[str, ...], schema_version: str) -> tuple[str, ...]:
    """The Avro fields of a record in `schema_version` ('v0_9' or 'v0_9_1')."""
    if check_schema_version(schema_version) == "v0_9":
        return fields
    return tuple(f for f in fields if f not in V0_9_1_ONLY_MISSING)


DIAOBJECT_COLUMNS: tuple[str, ...] = (*map(column, DIAOBJECT_AVRO_FIELDS), "isddf")
DIASOURCE_COLUMNS: tuple[str, ...] = tuple(map(column, DIASOURCE_AVRO_FIELDS))
DIAFORCEDSOURCE_COLUMNS: tuple[str, ...] = tuple(map(column, DIAFORCEDSOURCE_AVRO_FIELDS))
DIAALERT_COLUMNS: tuple[str, ...] = ("alertid", "diasourceid", "diaobjectid", "alertsenttimestamp")
DIATRUTH_COLUMNS: tuple[str, ...] = ("diasourceid", "diaobjectid", "mjd", "detect", "gentype", "genmag")
DIAOBJECTTRUTH_COLUMNS: tuple[str, ...] = (
    "diaobjectid",
    "libid",
    "sim_searcheff_mask",
    "gentype",
    "sim_template_index",
    "zcmb",
    "zhelio",
    "zcmb_smear",
    "ra",
    "dec",
    "mwebv",
    "galid",
    "galzphot",
    "galzphoterr",
    "galsnsep",
    "galsnddlr",
    "rv",
    "av",
    "mu",
    "lensdmu",
    "peakmjd",
    "mjd_detect_first",
    "mjd_detect_last",
    "dtseason_peak",
    "peakmag_u",
    "peakmag_g",
    "peakmag_r",
    "peakmag_i",
    "peakmag_z",
    "peakmag_y",
    "snrmax",
    "snrmax2",
    "snrmax3",
    "nobs",
    "nobs_saturate",
)
