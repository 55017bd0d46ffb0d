"""A classifier's partition never makes ingest wait behind user reads.

Creating a partition of `elasticc_brokerclassification` needs an ACCESS
EXCLUSIVE lock on it (and on its DEFAULT partition, which is scanned), so
the registering transaction queued behind any open read of the table (a
user's `SELECT count(*) ...; SELECT pg_sleep(25)` in one transaction), and
every later reader and writer queued behind it. Now the trigger tries for
`lock_timeout` (200 ms) only; if the lock is not free the classifier's rows
go to the DEFAULT partition, and `elasticc_attach_classifier_partition`
(called by `elasticc.brokers.partitions.attach_pending_partitions` from
brokerpoll's housekeeping and the metrics refresh command) moves them into
their own partition later, in one transaction, again only if its locks are
free at once.
"""

from django.db import migrations

GRANTS_SQL = """
CREATE FUNCTION elasticc_grant_partition_readers(part text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    reader record;
BEGIN
    -- The read access the parent has (so the SQL endpoint roles see it too).
    FOR reader IN
        SELECT DISTINCT grantee FROM information_schema.role_table_grants
        WHERE table_name = 'elasticc_brokerclassification' AND privilege_type = 'SELECT'
          AND grantee <> current_user AND grantee <> 'PUBLIC'
    LOOP
        EXECUTE format('GRANT SELECT ON %I TO %I', part, reader.grantee);
    END LOOP;
END $$;
"""

TRIGGER_SQL = """
CREATE OR REPLACE FUNCTION elasticc_create_classifier_partition() RETURNS trigger
LANGUAGE plpgsql SET lock_timeout = '200ms' AS $$
DECLARE
    part text := 'elasticc_brokerclassification_c' || NEW.classifierid;
BEGIN
    BEGIN
        EXECUTE format(
            'CREATE TABLE IF NOT EXISTS %I PARTITION OF elasticc_brokerclassification FOR VALUES IN (%s)',
            part, NEW.classifierid);
        PERFORM elasticc_grant_partition_readers(part);
    EXCEPTION WHEN lock_not_available THEN
        -- Someone is reading the table: the rows wait in DEFAULT.
        NULL;
    END;
    RETURN NULL;
END $$;
"""

ATTACH_SQL = """
CREATE FUNCTION elasticc_attach_classifier_partition(cid integer) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    part text := 'elasticc_brokerclassification_c' || cid;
BEGIN
    IF to_regclass(part) IS NOT NULL THEN
        RETURN false;
    END IF;
    -- First, so that no row of cid can arrive in DEFAULT between the move
    -- and the attach (which scans DEFAULT for such rows).
    LOCK TABLE elasticc_brokerclassification_default IN ACCESS EXCLUSIVE MODE;
    EXECUTE format('CREATE TABLE %I (LIKE elasticc_brokerclassification INCLUDING DEFAULTS)', part);
    -- Straight between the partitions: the parent's row-count triggers do
    -- not fire, and the counts stay right (the rows only move).
    EXECUTE format(
        'WITH moved AS (DELETE FROM elasticc_brokerclassification_default WHERE classifierid = %s RETURNING *) '
        'INSERT INTO %I SELECT * FROM moved', cid, part);
    EXECUTE format('ALTER TABLE elasticc_brokerclassification ATTACH PARTITION %I FOR VALUES IN (%s)', part, cid);
    PERFORM elasticc_grant_partition_readers(part);
    RETURN true;
END $$;
"""

# The function as 0003 created it.
OLD_TRIGGER_SQL = """
DROP FUNCTION elasticc_attach_classifier_partition(integer);
CREATE OR REPLACE FUNCTION elasticc_create_classifier_partition() RETURNS trigger
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
"""


class Migration(migrations.Migration):
    dependencies = [
        ("elasticc", "0010_metrics_refresh_lock"),
    ]

    operations = [
        migrations.RunSQL(GRANTS_SQL, "DROP FUNCTION elasticc_grant_partition_readers(text);"),
        migrations.RunSQL(TRIGGER_SQL + ATTACH_SQL, OLD_TRIGGER_SQL),
    ]
