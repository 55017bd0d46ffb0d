"""The ELAsTiCC tables.

Table and column names are a public contract (users query them over SQL): the
tables are `elasticc_<thing>` and every column is the lower-cased Avro field
name (README, "Data model in brief"). Avro `float` fields are PostgreSQL `real`, `double`
and `long` fields `double precision` and `bigint`.

The three biggest tables are declaratively partitioned; Django sees them as
ordinary models while migration 0001 creates them with RunSQL. Their primary
keys in PostgreSQL must contain the partition key, so the key Django uses
(the bare id) is backed by an ordinary index rather than a constraint; each
docstring says so.
"""

from django.conf import settings
from django.db import models
from django.db.models.functions import Coalesce, Now

from elasticc.avro.columns import HOSTGAL_AVRO_FIELDS
from elasticc.taxonomy import taxonomies


class RealField(models.FloatField):
    """A 4-byte float column, the PostgreSQL type matching Avro `float`."""

    def db_type(self, connection) -> str:
        return "real"


class DiaObject(models.Model):
    """A simulated astrophysical object (one SNANA SNID)."""

    diaobjectid = models.BigIntegerField(primary_key=True)
    simversion = models.TextField(null=True)
    ra = models.FloatField()
    decl = models.FloatField()
    mwebv = RealField(null=True)
    mwebv_err = RealField(null=True)
    z_final = RealField(null=True)
    z_final_err = RealField(null=True)
    isddf = models.BooleanField(default=False, help_text="Observed in a deep-drilling field.")

    class Meta:
        db_table = "elasticc_diaobject"
        indexes = [models.Index(fields=["ra", "decl"], name="elasticc_diaobject_radec")]

    def __str__(self) -> str:
        return f"diaObject {self.diaobjectid}"


for _name in HOSTGAL_AVRO_FIELDS:
    DiaObject.add_to_class(_name.lower(), RealField(null=True))


class DiaSource(models.Model):
    """A detection: one difference-image source, and the trigger of one alert."""

    diasourceid = models.BigIntegerField(primary_key=True)
    # No index of its own: `elasticc_diasource_obj_t` starts with it.
    diaobject = models.ForeignKey(DiaObject, on_delete=models.CASCADE, db_column="diaobjectid", db_index=False)
    ccdvisitid = models.BigIntegerField(null=True)
    parentdiasourceid = models.BigIntegerField(null=True)
    midpointtai = models.FloatField()
    filtername = models.TextField()
    ra = models.FloatField()
    decl = models.FloatField()
    psflux = RealField()
    psfluxerr = RealField()
    snr = RealField()
    nobs = RealField(null=True)

    class Meta:
        db_table = "elasticc_diasource"
        indexes = [
            models.Index(fields=["diaobject", "midpointtai"], name="elasticc_diasource_obj_t"),
            models.Index(fields=["midpointtai"], name="elasticc_diasource_t"),
        ]

    def __str__(self) -> str:
        return f"diaSource {self.diasourceid}"


class DiaForcedSource(models.Model):
    """Forced photometry at one epoch of one object.

    Partitioned HASH by `diaobjectid`; the PostgreSQL primary key is
    (`diaobjectid`, `diaforcedsourceid`), and a plain index on
    `diaforcedsourceid` keeps lookups by the bare id fast. The reference to
    the object is not enforced by PostgreSQL: at a billion rows its per-row
    check was most of the load time, and every loader writes an object before
    (or with) its forced sources.
    """

    diaforcedsourceid = models.BigIntegerField(primary_key=True)
    diaobject = models.ForeignKey(DiaObject, on_delete=models.DO_NOTHING, db_column="diaobjectid", db_constraint=False)
    ccdvisitid = models.BigIntegerField(null=True)
    midpointtai = models.FloatField()
    filtername = models.TextField()
    psflux = RealField()
    psfluxerr = RealField()
    totflux = RealField(null=True)
    totfluxerr = RealField(null=True)

    class Meta:
        db_table = "elasticc_diaforcedsource"

    def __str__(self) -> str:
        return f"diaForcedSource {self.diaforcedsourceid}"


class DiaAlert(models.Model):
    """An alert: one per source; `alertsenttimestamp` is set once streamed."""

    alertid = models.BigIntegerField(primary_key=True)
    # Indexed once each, by the named indexes below (Django's automatic
    # foreign-key indexes doubled them: ~60 bytes per alert, bench/scale.py).
    diasource = models.ForeignKey(DiaSource, on_delete=models.CASCADE, db_column="diasourceid", db_index=False)
    diaobject = models.ForeignKey(DiaObject, on_delete=models.CASCADE, db_column="diaobjectid", db_index=False)
    alertsenttimestamp = models.DateTimeField(null=True)

    class Meta:
        db_table = "elasticc_diaalert"
        indexes = [
            models.Index(fields=["alertsenttimestamp"], name="elasticc_diaalert_sent"),
            models.Index(fields=["diaobject"], name="elasticc_diaalert_obj"),
            models.Index(fields=["diasource"], name="elasticc_diaalert_src"),
        ]

    def __str__(self) -> str:
        return f"alert {self.alertid}"


class DiaTruth(models.Model):
    """Simulation truth for one epoch (detected or not) of one object.

    Partitioned HASH by `diaobjectid`; the PostgreSQL primary key is
    (`diaobjectid`, `diasourceid`), with a plain index on `diasourceid`.
    """

    diasourceid = models.BigIntegerField(primary_key=True)
    diaobjectid = models.BigIntegerField()
    mjd = models.FloatField()
    detect = models.BooleanField()
    gentype = models.IntegerField(null=True)
    genmag = RealField(null=True)

    class Meta:
        db_table = "elasticc_diatruth"

    def __str__(self) -> str:
        return f"truth of source {self.diasourceid}"


class DiaObjectTruth(models.Model):
    """Simulation truth for one object: the SNANA DUMP row."""

    diaobjectid = models.BigIntegerField(primary_key=True)
    libid = models.IntegerField(null=True)
    sim_searcheff_mask = models.IntegerField(null=True)
    gentype = models.IntegerField()
    sim_template_index = models.IntegerField(null=True)
    zcmb = RealField(null=True)
    zhelio = RealField(null=True)
    zcmb_smear = RealField(null=True)
    ra = models.FloatField(null=True)
    dec = models.FloatField(null=True)
    mwebv = RealField(null=True)
    galid = models.BigIntegerField(null=True)
    galzphot = RealField(null=True)
    galzphoterr = RealField(null=True)
    galsnsep = RealField(null=True)
    galsnddlr = RealField(null=True)
    rv = RealField(null=True)
    av = RealField(null=True)
    mu = RealField(null=True)
    lensdmu = RealField(null=True)
    peakmjd = models.FloatField(null=True)
    mjd_detect_first = models.FloatField(null=True)
    mjd_detect_last = models.FloatField(null=True)
    dtseason_peak = RealField(null=True)
    peakmag_u = RealField(null=True)
    peakmag_g = RealField(null=True)
    peakmag_r = RealField(null=True)
    peakmag_i = RealField(null=True)
    peakmag_z = RealField(null=True)
    peakmag_y = RealField(null=True)
    snrmax = RealField(null=True)
    snrmax2 = RealField(null=True)
    snrmax3 = RealField(null=True)
    nobs = models.IntegerField(null=True)
    nobs_saturate = models.IntegerField(null=True)

    class Meta:
        db_table = "elasticc_diaobjecttruth"
        indexes = [models.Index(fields=["gentype"], name="elasticc_diaobjecttruth_gt")]

    def __str__(self) -> str:
        return f"truth of object {self.diaobjectid}"


class BrokerClassifier(models.Model):
    """One classifier of one broker version. Registering a new one creates its
    partition of `elasticc_brokerclassification` in the same transaction (an
    AFTER INSERT trigger, so every code path gets it).

    Its metrics are computed in one taxonomy, `evaluatedtaxonomy`: the one an
    admin (`manage.py set_classifier_taxonomy`, the classifier page) or its
    brokerpoll source chose (`taxonomy`; null = none chose), else the default
    decided when it was registered from the schema version and classIds of
    its first messages (`defaulttaxonomy`, see
    `elasticc.taxonomy.taxonomies.default_taxonomy`). A generated column, so
    SQL users read the answer rather than re-implementing the rule."""

    classifierid = models.AutoField(primary_key=True)
    brokername = models.TextField()
    brokerversion = models.TextField()
    classifiername = models.TextField()
    classifierparams = models.TextField()
    modified = models.DateTimeField(db_default=Now())
    taxonomy = models.TextField(choices=taxonomies.CHOICES, null=True, blank=True)
    defaulttaxonomy = models.TextField(choices=taxonomies.CHOICES, db_default=taxonomies.ELASTICC)
    evaluatedtaxonomy = models.GeneratedField(
        expression=Coalesce("taxonomy", "defaulttaxonomy"), output_field=models.TextField(), db_persist=True
    )
    # The broker account whose REST PUT registered it (null: brokerpoll or
    # before this was recorded): what BROKER_MAX_CLASSIFIERS_PER_ACCOUNT counts.
    registeredby = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_column="registeredby",
        related_name="+",
    )

    class Meta:
        db_table = "elasticc_brokerclassifier"
        constraints = [
            models.UniqueConstraint(
                fields=["brokername", "brokerversion", "classifiername", "classifierparams"],
                name="elasticc_brokerclassifier_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.brokername} {self.brokerversion} {self.classifiername} {self.classifierparams}"


class BrokerMessage(models.Model):
    """One message from one broker about one alert.

    `messagekey` is the message's natural identity (Kafka: topic, partition
    and offset; REST: a digest of the canonical message); its unique
    constraint makes every ingest path idempotent. `alertid`/`diasourceid` are
    not foreign keys: brokers may classify alerts this database has not loaded.
    """

    brokermessageid = models.BigAutoField(primary_key=True)
    messagekey = models.TextField(unique=True)
    streammessageid = models.BigIntegerField(null=True, help_text="Kafka offset; null for REST.")
    topicname = models.TextField(null=True, help_text="Kafka topic, or REST_push.")
    kafkapartition = models.IntegerField(null=True)
    alertid = models.BigIntegerField()
    diasourceid = models.BigIntegerField()
    msghdrtimestamp = models.DateTimeField(null=True)
    elasticcpublishtimestamp = models.DateTimeField(null=True)
    brokeringesttimestamp = models.DateTimeField(null=True)
    descingesttimestamp = models.DateTimeField(db_default=Now())

    class Meta:
        db_table = "elasticc_brokermessage"
        indexes = [
            models.Index(fields=["alertid"], name="elasticc_brokermessage_alert"),
            models.Index(fields=["diasourceid"], name="elasticc_brokermessage_src"),
            models.Index(fields=["descingesttimestamp"], name="elasticc_brokermessage_ingest"),
        ]

    def __str__(self) -> str:
        return f"brokerMessage {self.brokermessageid}"


class BrokerClassification(models.Model):
    """One (classId, probability) of one classifier in one broker message.

    Partitioned LIST by `classifierid` (one partition per classifier plus a
    DEFAULT); the PostgreSQL primary key is the natural identity
    (`brokermessageid`, `classifierid`, `classid`), the one index, which
    every read uses (migration 0016). The foreign keys are not enforced by PostgreSQL (bulk
    ingest writes message and classifications in one statement batch).
    """

    classificationid = models.BigAutoField(primary_key=True)
    brokermessage = models.ForeignKey(
        BrokerMessage, on_delete=models.DO_NOTHING, db_column="brokermessageid", db_constraint=False
    )
    classifier = models.ForeignKey(
        BrokerClassifier, on_delete=models.DO_NOTHING, db_column="classifierid", db_constraint=False
    )
    classid = models.IntegerField()
    probability = RealField()

    class Meta:
        db_table = "elasticc_brokerclassification"

    def __str__(self) -> str:
        return f"classification {self.classificationid}"


class ClassId(models.Model):
    """The two class taxonomies (`elasticc.taxonomy.taxonomies`), keyed by
    taxonomy and classId: ELAsTiCC (1 digit broad class, 2 category, 3
    exact) and ELAsTiCC2 (levels 1 broad, 2 general, 3 category, 4 exact)."""

    pk = models.CompositePrimaryKey("taxonomy", "classid")
    taxonomy = models.TextField(choices=taxonomies.CHOICES)
    classid = models.IntegerField()
    name = models.TextField()
    parent = models.IntegerField(null=True)
    level = models.SmallIntegerField()

    class Meta:
        db_table = "elasticc_classid"

    def __str__(self) -> str:
        return f"{self.taxonomy} {self.classid} {self.name}"


class GentypeOfClassId(models.Model):
    """For a classId, the SNANA gentypes that are exactly that class (null
    where no model exists): which classId a perfect broker gives an object."""

    taxonomy = models.TextField(choices=taxonomies.CHOICES)
    classid = models.IntegerField()
    gentype = models.IntegerField(null=True)
    description = models.TextField()

    class Meta:
        db_table = "elasticc_gentypeofclassid"
        indexes = [models.Index(fields=["gentype"], name="elasticc_gtoc_gentype")]

    def __str__(self) -> str:
        return f"classId {self.classid} <- gentype {self.gentype}"


class ClassIdOfGentype(models.Model):
    """For a classId at any level, every gentype it covers, with whether it is
    the exact class, the category, the general class or the broad class of that
    gentype. ELAsTiCC has no general level: its rows have `generalmatch` null."""

    taxonomy = models.TextField(choices=taxonomies.CHOICES)
    classid = models.IntegerField()
    gentype = models.IntegerField()
    exactmatch = models.BooleanField()
    categorymatch = models.BooleanField()
    generalmatch = models.BooleanField(null=True)
    broadmatch = models.BooleanField()
    description = models.TextField()

    class Meta:
        db_table = "elasticc_classidofgentype"
        indexes = [models.Index(fields=["gentype"], name="elasticc_cogt_gentype")]

    def __str__(self) -> str:
        return f"gentype {self.gentype} -> classId {self.classid}"


class RowCountDelta(models.Model):
    """Row-count bookkeeping kept by statement-level triggers.

    Each INSERT/DELETE statement on a counted table appends one row with its
    net change, so writers never contend on a shared counter row; reading a
    count sums the deltas of one key (see `elasticc.read.counts.row_count`) and
    `elasticc_compact_rowcounts()` folds them periodically.
    """

    key = models.TextField()
    delta = models.BigIntegerField()

    class Meta:
        db_table = "elasticc_rowcountdelta"
        indexes = [models.Index(fields=["key"], name="elasticc_rowcountdelta_key")]

    def __str__(self) -> str:
        return f"{self.key} {self.delta:+d}"


# How users see the table names (loader summaries, the front page, the summary).
TABLE_LABELS: dict[str, str] = {
    "elasticc_diaobject": "objects",
    "elasticc_diasource": "sources",
    "elasticc_diaforcedsource": "forced sources",
    "elasticc_diaalert": "alerts",
    "elasticc_diatruth": "truth",
    "elasticc_diaobjecttruth": "object truth",
    "elasticc_brokermessage": "broker messages",
    "elasticc_brokerclassification": "classifications",
}


class MetricsRefreshLock(models.Model):
    """One row that a running metrics refresh holds `FOR UPDATE` on a connection
    of its own (`elasticc.metrics.refresh`), so refreshes never overlap.

    A row lock rather than an advisory lock, because any database user can take
    an advisory lock on any key (and so could starve the refresh), while
    locking this row needs UPDATE on it, which the SQL roles never have.
    """

    id = models.SmallIntegerField(primary_key=True)

    class Meta:
        db_table = "elasticc_metricsrefreshlock"

    def __str__(self) -> str:
        return "metrics refresh lock"


# --- follow-up coordination (elasticc/followup/) --------------------------------------------
# Decisions of people about objects, not simulation truth: both SQL roles read
# them (elasticc/access/sql_roles.py). Objects are real foreign keys, so a
# request about an unknown object cannot be stored.


class WantedSpectrum(models.Model):
    """A requester (a program such as RESSPECT) wants a spectrum of an object.

    One row per (object, requester): asking again replaces priority, user and time."""

    wantedspectrumid = models.BigAutoField(primary_key=True)
    # No index of its own: the unique (object, requester) leads with it.
    diaobject = models.ForeignKey(DiaObject, on_delete=models.CASCADE, db_column="diaobjectid", db_index=False)
    requester = models.TextField()
    priority = models.SmallIntegerField(help_text="0..5, 5 the most urgent.")
    user = models.ForeignKey("auth.User", on_delete=models.SET_NULL, null=True, db_column="userid")
    wanttime = models.DateTimeField(db_default=Now())

    class Meta:
        db_table = "elasticc_wantedspectrum"
        constraints = [
            models.UniqueConstraint(fields=["diaobject", "requester"], name="elasticc_wantedspectrum_unique"),
            models.CheckConstraint(
                condition=models.Q(priority__gte=0, priority__lte=5), name="elasticc_wantedspectrum_priority"
            ),
        ]
        indexes = [models.Index(fields=["wanttime"], name="elasticc_wantedspectrum_t")]

    def __str__(self) -> str:
        return f"{self.requester} wants {self.diaobject_id} (priority {self.priority})"


class PlannedSpectrum(models.Model):
    """A facility plans to take a spectrum of an object; one plan per (object, facility)."""

    plannedspectrumid = models.BigAutoField(primary_key=True)
    # No index of its own: the unique (object, facility) leads with it.
    diaobject = models.ForeignKey(DiaObject, on_delete=models.CASCADE, db_column="diaobjectid", db_index=False)
    facility = models.TextField()
    plantime = models.DateTimeField()
    comment = models.TextField(blank=True, default="")
    user = models.ForeignKey("auth.User", on_delete=models.SET_NULL, null=True, db_column="userid")
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        db_table = "elasticc_plannedspectrum"
        constraints = [
            models.UniqueConstraint(fields=["diaobject", "facility"], name="elasticc_plannedspectrum_unique")
        ]
        indexes = [models.Index(fields=["created_at"], name="elasticc_plannedspectrum_t")]

    def __str__(self) -> str:
        return f"{self.facility} plans {self.diaobject_id} at {self.plantime:%Y-%m-%d %H:%M}"


class SpectrumInfo(models.Model):
    """What a spectrum of an object showed: redshift (null when unknown) and
    ELAsTiCC2 classId, as reported by a facility."""

    spectruminfoid = models.BigAutoField(primary_key=True)
    # No index of its own: the `elasticc_spectruminfo_obj` leads with it.
    diaobject = models.ForeignKey(DiaObject, on_delete=models.CASCADE, db_column="diaobjectid", db_index=False)
    facility = models.TextField()
    mjd = models.FloatField()
    z = models.FloatField(null=True)
    classid = models.IntegerField(help_text="ELAsTiCC2 taxonomy; 300 = NotClassified.")
    user = models.ForeignKey("auth.User", on_delete=models.SET_NULL, null=True, db_column="userid")
    reportedat = models.DateTimeField(db_default=Now())

    class Meta:
        db_table = "elasticc_spectruminfo"
        indexes = [
            models.Index(fields=["diaobject", "mjd"], name="elasticc_spectruminfo_obj"),
            models.Index(fields=["mjd"], name="elasticc_spectruminfo_mjd"),
        ]

    def __str__(self) -> str:
        return f"{self.facility} spectrum of {self.diaobject_id} at MJD {self.mjd}"


class LatestMagnitudes(models.Model):
    """Kept for spectrawanted: an object's latest forced point with S/N > 3
    in each band up to `horizon` (its latest sent detection when computed),
    as the JSON text spectrawanted answers (band -> {mjd, mag}). Computing it
    reads every forced point of the object; it only changes when the horizon
    moves or the photometry is reloaded (elasticc/followup/services.py)."""

    # The foreign key is ON DELETE CASCADE in the database (migration 0019):
    # whoever deletes objects, in SQL or not, takes their kept magnitudes along.
    diaobject = models.OneToOneField(
        DiaObject, on_delete=models.CASCADE, db_column="diaobjectid", primary_key=True, db_constraint=False
    )
    horizon = models.FloatField()
    latest = models.TextField()

    class Meta:
        db_table = "elasticc_latestmagnitudes"

    def __str__(self) -> str:
        return f"latest magnitudes of {self.diaobject_id} at MJD {self.horizon}"
