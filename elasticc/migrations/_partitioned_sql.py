"""DDL of the partitioned tables (migration 0001 runs it; Django's state holds
the matching models). Kept apart from the migration so the SQL reads as SQL.

Forced sources and per-epoch truth are HASH partitioned by object, since they
are always read per object (light curves, alert histories); classifications
are LIST partitioned by classifier, since metrics are always per classifier.
"""

HASH_PARTITIONS = 16


def _hash_partitions(table: str) -> str:
    return "\n".join(
        f"CREATE TABLE {table}_p{i:02d} PARTITION OF {table} "
        f"FOR VALUES WITH (MODULUS {HASH_PARTITIONS}, REMAINDER {i});"
        for i in range(HASH_PARTITIONS)
    )


DIAFORCEDSOURCE_SQL = f"""
CREATE TABLE elasticc_diaforcedsource (
    diaforcedsourceid bigint NOT NULL,
    diaobjectid bigint NOT NULL
        REFERENCES elasticc_diaobject (diaobjectid) DEFERRABLE INITIALLY DEFERRED,
    ccdvisitid bigint NULL,
    midpointtai double precision NOT NULL,
    filtername text NOT NULL,
    psflux real NOT NULL,
    psfluxerr real NOT NULL,
    totflux real NULL,
    totfluxerr real NULL,
    PRIMARY KEY (diaobjectid, diaforcedsourceid)
) PARTITION BY HASH (diaobjectid);
{_hash_partitions("elasticc_diaforcedsource")}
CREATE INDEX elasticc_diaforcedsource_id ON elasticc_diaforcedsource (diaforcedsourceid);
"""
DROP_DIAFORCEDSOURCE_SQL = "DROP TABLE elasticc_diaforcedsource;"

DIATRUTH_SQL = f"""
CREATE TABLE elasticc_diatruth (
    diasourceid bigint NOT NULL,
    diaobjectid bigint NOT NULL,
    mjd double precision NOT NULL,
    detect boolean NOT NULL,
    gentype integer NULL,
    genmag real NULL,
    PRIMARY KEY (diaobjectid, diasourceid)
) PARTITION BY HASH (diaobjectid);
{_hash_partitions("elasticc_diatruth")}
CREATE INDEX elasticc_diatruth_id ON elasticc_diatruth (diasourceid);
"""
DROP_DIATRUTH_SQL = "DROP TABLE elasticc_diatruth;"

BROKERCLASSIFICATION_SQL = """
CREATE SEQUENCE elasticc_brokerclassification_classificationid_seq AS bigint;
CREATE TABLE elasticc_brokerclassification (
    classificationid bigint NOT NULL
        DEFAULT nextval('elasticc_brokerclassification_classificationid_seq'),
    brokermessageid bigint NOT NULL,
    classifierid integer NOT NULL,
    classid integer NOT NULL,
    probability real NOT NULL,
    PRIMARY KEY (classificationid, classifierid),
    CONSTRAINT elasticc_brokerclassification_unique UNIQUE (classifierid, brokermessageid, classid)
) PARTITION BY LIST (classifierid);
ALTER SEQUENCE elasticc_brokerclassification_classificationid_seq
    OWNED BY elasticc_brokerclassification.classificationid;
CREATE TABLE elasticc_brokerclassification_default
    PARTITION OF elasticc_brokerclassification DEFAULT;
CREATE INDEX elasticc_brokerclassification_msg ON elasticc_brokerclassification (brokermessageid);
"""
DROP_BROKERCLASSIFICATION_SQL = "DROP TABLE elasticc_brokerclassification;"
