"""Triggers the data model relies on.

1. Registering a classifier creates its partition of
   `elasticc_brokerclassification` in the same transaction, granting it the
   read access the parent table has (so the SQL endpoint roles see it too).
2. Exact row counts without COUNT(*): statement-level triggers with transition
   tables append one (key, delta) row per INSERT/DELETE/COPY statement to
   `elasticc_rowcountdelta`; keys are table names, plus
   `elasticc_diaalert.sent` (alerts with a sent timestamp) and
   `elasticc_brokerclassification.<classifierid>`. Statement level keeps the
   cost to one tiny insert per bulk statement; appending (rather than updating
   one counter row) means concurrent writers never wait on each other.
   `elasticc_compact_rowcounts()` folds the deltas; call it periodically.
"""

from django.db import migrations

COUNTED_PLAIN = [
    "elasticc_diaobject",
    "elasticc_diasource",
    "elasticc_diaforcedsource",
    "elasticc_diatruth",
    "elasticc_diaobjecttruth",
    "elasticc_brokermessage",
]

PARTITION_SQL = """
CREATE FUNCTION elasticc_create_classifier_partition() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    part text := 'elasticc_brokerclassification_c' || NEW.classifierid;
    reader record;
BEGIN
    EXECUTE format(
        'CREATE TABLE IF NOT EXISTS %I PARTITION OF elasticc_brokerclassification FOR VALUES IN (%s)',
        part, NEW.classifierid);
    FOR reader IN
        SELECT DISTINCT grantee FROM information_schema.role_table_grants
        WHERE table_name = 'elasticc_brokerclassification' AND privilege_type = 'SELECT'
          AND grantee <> current_user AND grantee <> 'PUBLIC'
    LOOP
        EXECUTE format('GRANT SELECT ON %I TO %I', part, reader.grantee);
    END LOOP;
    RETURN NULL;
END $$;

CREATE TRIGGER elasticc_brokerclassifier_partition
    AFTER INSERT ON elasticc_brokerclassifier
    FOR EACH ROW EXECUTE FUNCTION elasticc_create_classifier_partition();
"""

COUNT_FUNCTIONS_SQL = """
CREATE FUNCTION elasticc_count_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO elasticc_rowcountdelta (key, delta)
        SELECT TG_TABLE_NAME, count(*) FROM newrows HAVING count(*) > 0;
    RETURN NULL;
END $$;

CREATE FUNCTION elasticc_count_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO elasticc_rowcountdelta (key, delta)
        SELECT TG_TABLE_NAME, -count(*) FROM oldrows HAVING count(*) > 0;
    RETURN NULL;
END $$;

CREATE FUNCTION elasticc_count_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM elasticc_rowcountdelta
        WHERE key = TG_TABLE_NAME OR key LIKE TG_TABLE_NAME || '.%';
    RETURN NULL;
END $$;

CREATE FUNCTION elasticc_count_alerts_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO elasticc_rowcountdelta (key, delta)
        SELECT k, n FROM (
            SELECT 'elasticc_diaalert' AS k, count(*) AS n FROM newrows
            UNION ALL
            SELECT 'elasticc_diaalert.sent', count(*) FROM newrows
                WHERE alertsenttimestamp IS NOT NULL
        ) d WHERE n > 0;
    RETURN NULL;
END $$;

CREATE FUNCTION elasticc_count_alerts_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO elasticc_rowcountdelta (key, delta)
        SELECT k, -n FROM (
            SELECT 'elasticc_diaalert' AS k, count(*) AS n FROM oldrows
            UNION ALL
            SELECT 'elasticc_diaalert.sent', count(*) FROM oldrows
                WHERE alertsenttimestamp IS NOT NULL
        ) d WHERE n > 0;
    RETURN NULL;
END $$;

CREATE FUNCTION elasticc_count_alerts_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO elasticc_rowcountdelta (key, delta)
        SELECT 'elasticc_diaalert.sent', d FROM (
            SELECT (SELECT count(*) FROM newrows WHERE alertsenttimestamp IS NOT NULL)
                 - (SELECT count(*) FROM oldrows WHERE alertsenttimestamp IS NOT NULL) AS d
        ) x WHERE d <> 0;
    RETURN NULL;
END $$;

CREATE FUNCTION elasticc_count_classifications_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO elasticc_rowcountdelta (key, delta)
        SELECT 'elasticc_brokerclassification', count(*) FROM newrows HAVING count(*) > 0
        UNION ALL
        SELECT 'elasticc_brokerclassification.' || classifierid, count(*)
            FROM newrows GROUP BY classifierid;
    RETURN NULL;
END $$;

CREATE FUNCTION elasticc_count_classifications_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO elasticc_rowcountdelta (key, delta)
        SELECT 'elasticc_brokerclassification', -count(*) FROM oldrows HAVING count(*) > 0
        UNION ALL
        SELECT 'elasticc_brokerclassification.' || classifierid, -count(*)
            FROM oldrows GROUP BY classifierid;
    RETURN NULL;
END $$;

CREATE FUNCTION elasticc_compact_rowcounts() RETURNS void LANGUAGE sql AS $$
    WITH gone AS (DELETE FROM elasticc_rowcountdelta RETURNING key, delta)
    INSERT INTO elasticc_rowcountdelta (key, delta)
        SELECT key, sum(delta) FROM gone GROUP BY key HAVING sum(delta) <> 0;
$$;
"""


def _triggers(table: str, insert_fn: str, delete_fn: str) -> str:
    return f"""
CREATE TRIGGER {table}_count_ins AFTER INSERT ON {table}
    REFERENCING NEW TABLE AS newrows FOR EACH STATEMENT EXECUTE FUNCTION {insert_fn}();
CREATE TRIGGER {table}_count_del AFTER DELETE ON {table}
    REFERENCING OLD TABLE AS oldrows FOR EACH STATEMENT EXECUTE FUNCTION {delete_fn}();
CREATE TRIGGER {table}_count_trunc AFTER TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION elasticc_count_truncated();
"""


TRIGGERS_SQL = (
    "".join(_triggers(t, "elasticc_count_inserted", "elasticc_count_deleted") for t in COUNTED_PLAIN)
    + _triggers("elasticc_diaalert", "elasticc_count_alerts_inserted", "elasticc_count_alerts_deleted")
    + """
CREATE TRIGGER elasticc_diaalert_count_upd AFTER UPDATE ON elasticc_diaalert
    REFERENCING OLD TABLE AS oldrows NEW TABLE AS newrows
    FOR EACH STATEMENT EXECUTE FUNCTION elasticc_count_alerts_updated();
"""
    + _triggers(
        "elasticc_brokerclassification",
        "elasticc_count_classifications_inserted",
        "elasticc_count_classifications_deleted",
    )
)

DROP_SQL = """
DROP TRIGGER elasticc_brokerclassifier_partition ON elasticc_brokerclassifier;
DROP FUNCTION elasticc_create_classifier_partition() CASCADE;
DROP FUNCTION elasticc_count_inserted() CASCADE;
DROP FUNCTION elasticc_count_deleted() CASCADE;
DROP FUNCTION elasticc_count_truncated() CASCADE;
DROP FUNCTION elasticc_count_alerts_inserted() CASCADE;
DROP FUNCTION elasticc_count_alerts_deleted() CASCADE;
DROP FUNCTION elasticc_count_alerts_updated() CASCADE;
DROP FUNCTION elasticc_count_classifications_inserted() CASCADE;
DROP FUNCTION elasticc_count_classifications_deleted() CASCADE;
DROP FUNCTION elasticc_compact_rowcounts();
"""


class Migration(migrations.Migration):
    dependencies = [("elasticc", "0002_taxonomy")]

    operations = [
        migrations.RunSQL(PARTITION_SQL + COUNT_FUNCTIONS_SQL + TRIGGERS_SQL, DROP_SQL),
    ]
