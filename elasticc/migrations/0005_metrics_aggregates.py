"""Aggregate tables behind the ELAsTiCC pages (see elasticc/metrics/refresh.py).

The pages must render in well under a second with 10^8 classifications, so
they read only these small tables. `elasticc.metrics.refresh.refresh_metrics` folds
newly stored broker messages into them incrementally (watermark on
brokermessageid, kept in `elasticc_metricsstate`). Truth counts per gentype are
kept by statement-level triggers on `elasticc_diaobjecttruth` instead, like the
row counts of migration 0003, because truth has no monotonic id to watermark.

Tables (all small except `elasticc_metricsobject`, one row per classifier and
object, which holds the per-object prediction state the confusion matrices
need to stay exact when a later alert changes an object's prediction):
- metricsstate: the single watermark row;
- metricsclassifier: messages, alerts classified, first/last ingest time;
- metricsobject: latest and best prediction per (classifier, object);
- metricsconfusion: object counts per (classifier, mode 0 latest / 1 best,
  true classid, predicted classid);
- metricsdelay: message counts per (classifier, ingest day, kind 0 broker /
  1 ours / 2 total, log10-seconds bin of width 0.1);
- metricsclassified / metricsalertsday: sent alerts classified per
  (classifier, sent day), and sent alerts per day (completeness);
- metricstrueprob: n, sum p, sum p^2 of the true class's probability per
  (classifier, true classid, whole days since first detection);
- metricstruthcount: objects per truth gentype (trigger-maintained).
"""

from django.db import migrations

TABLES_SQL = """
CREATE TABLE elasticc_metricsstate (
    id smallint PRIMARY KEY CHECK (id = 1),
    messages_upto bigint NOT NULL DEFAULT 0,
    alerts_sent_upto timestamptz NULL,
    refreshed_at timestamptz NULL
);
INSERT INTO elasticc_metricsstate (id) VALUES (1);

CREATE TABLE elasticc_metricsclassifier (
    classifierid integer PRIMARY KEY,
    nmessages bigint NOT NULL DEFAULT 0,
    nalerts bigint NOT NULL DEFAULT 0,
    firstingest timestamptz NULL,
    lastingest timestamptz NULL
);

CREATE TABLE elasticc_metricsobject (
    classifierid integer NOT NULL,
    diaobjectid bigint NOT NULL,
    trueclassid integer NULL,
    latest_at timestamptz NOT NULL,
    latest_msgid bigint NOT NULL,
    latest_classid integer NOT NULL,
    latest_prob real NOT NULL,
    best_msgid bigint NOT NULL,
    best_classid integer NOT NULL,
    best_prob real NOT NULL,
    PRIMARY KEY (classifierid, diaobjectid)
);

CREATE TABLE elasticc_metricsconfusion (
    classifierid integer NOT NULL,
    mode smallint NOT NULL,
    trueclassid integer NOT NULL,
    predclassid integer NOT NULL,
    n bigint NOT NULL,
    PRIMARY KEY (classifierid, mode, trueclassid, predclassid)
);

CREATE TABLE elasticc_metricsdelay (
    classifierid integer NOT NULL,
    day date NOT NULL,
    kind smallint NOT NULL,
    bin smallint NOT NULL,
    n bigint NOT NULL,
    PRIMARY KEY (classifierid, day, kind, bin)
);

CREATE TABLE elasticc_metricsclassified (
    classifierid integer NOT NULL,
    day date NOT NULL,
    nalerts bigint NOT NULL,
    PRIMARY KEY (classifierid, day)
);

CREATE TABLE elasticc_metricsalertsday (
    day date PRIMARY KEY,
    nsent bigint NOT NULL
);

CREATE TABLE elasticc_metricstrueprob (
    classifierid integer NOT NULL,
    trueclassid integer NOT NULL,
    days integer NOT NULL,
    n bigint NOT NULL,
    sump double precision NOT NULL,
    sump2 double precision NOT NULL,
    PRIMARY KEY (classifierid, trueclassid, days)
);

CREATE TABLE elasticc_metricstruthcount (
    gentype integer PRIMARY KEY,
    n bigint NOT NULL
);
INSERT INTO elasticc_metricstruthcount (gentype, n)
    SELECT gentype, count(*) FROM elasticc_diaobjecttruth GROUP BY gentype;
"""

TRUTH_TRIGGERS_SQL = """
CREATE FUNCTION elasticc_truthcount_ins() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO elasticc_metricstruthcount AS t (gentype, n)
        SELECT gentype, count(*) FROM newrows GROUP BY gentype
        ON CONFLICT (gentype) DO UPDATE SET n = t.n + EXCLUDED.n;
    RETURN NULL;
END $$;

CREATE FUNCTION elasticc_truthcount_del() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO elasticc_metricstruthcount AS t (gentype, n)
        SELECT gentype, -count(*) FROM oldrows GROUP BY gentype
        ON CONFLICT (gentype) DO UPDATE SET n = t.n + EXCLUDED.n;
    RETURN NULL;
END $$;

CREATE FUNCTION elasticc_truthcount_upd() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO elasticc_metricstruthcount AS t (gentype, n)
        SELECT gentype, sum(d) FROM (
            SELECT gentype, 1 AS d FROM newrows
            UNION ALL
            SELECT gentype, -1 FROM oldrows
        ) x GROUP BY gentype HAVING sum(d) <> 0
        ON CONFLICT (gentype) DO UPDATE SET n = t.n + EXCLUDED.n;
    RETURN NULL;
END $$;

CREATE FUNCTION elasticc_truthcount_trunc() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM elasticc_metricstruthcount;
    RETURN NULL;
END $$;

CREATE TRIGGER elasticc_diaobjecttruth_gentype_ins AFTER INSERT ON elasticc_diaobjecttruth
    REFERENCING NEW TABLE AS newrows FOR EACH STATEMENT EXECUTE FUNCTION elasticc_truthcount_ins();
CREATE TRIGGER elasticc_diaobjecttruth_gentype_del AFTER DELETE ON elasticc_diaobjecttruth
    REFERENCING OLD TABLE AS oldrows FOR EACH STATEMENT EXECUTE FUNCTION elasticc_truthcount_del();
CREATE TRIGGER elasticc_diaobjecttruth_gentype_upd AFTER UPDATE ON elasticc_diaobjecttruth
    REFERENCING OLD TABLE AS oldrows NEW TABLE AS newrows
    FOR EACH STATEMENT EXECUTE FUNCTION elasticc_truthcount_upd();
CREATE TRIGGER elasticc_diaobjecttruth_gentype_trunc AFTER TRUNCATE ON elasticc_diaobjecttruth
    FOR EACH STATEMENT EXECUTE FUNCTION elasticc_truthcount_trunc();
"""

DROP_SQL = """
DROP TRIGGER elasticc_diaobjecttruth_gentype_ins ON elasticc_diaobjecttruth;
DROP TRIGGER elasticc_diaobjecttruth_gentype_del ON elasticc_diaobjecttruth;
DROP TRIGGER elasticc_diaobjecttruth_gentype_upd ON elasticc_diaobjecttruth;
DROP TRIGGER elasticc_diaobjecttruth_gentype_trunc ON elasticc_diaobjecttruth;
DROP FUNCTION elasticc_truthcount_ins(), elasticc_truthcount_del(), elasticc_truthcount_upd(),
    elasticc_truthcount_trunc();
DROP TABLE elasticc_metricsstate, elasticc_metricsclassifier, elasticc_metricsobject,
    elasticc_metricsconfusion, elasticc_metricsdelay, elasticc_metricsclassified,
    elasticc_metricsalertsday, elasticc_metricstrueprob, elasticc_metricstruthcount;
"""


class Migration(migrations.Migration):
    dependencies = [("elasticc", "0004_groups_and_sql_roles")]

    operations = [migrations.RunSQL(TABLES_SQL + TRUTH_TRIGGERS_SQL, DROP_SQL)]
