"""One index on `elasticc_brokerclassification` instead of three, and none
for LIKE on `elasticc_brokermessage.messagekey`.

Every row COPYed by brokerpoll paid for three b-tree insertions: the primary
key (classificationid, classifierid), the unique (classifierid,
brokermessageid, classid) and (brokermessageid). Index maintenance was most
of PostgreSQL's CPU per message (bench/kafka_poll.py: 33 us with three, 23
with one, 16 with none). No query looks a classification up by
`classificationid`, and with classifierid constant in each partition the
unique index's leading column selects nothing, so the reads (metrics chunks
by brokermessageid range, a page's classifications by brokermessageid =
ANY, the first-time-classified and classifierId-filter semi-joins by
brokermessageid and classifierid) all use the brokermessageid index. One
index leading with brokermessageid serves them all and, as the primary key
on the natural identity, still refuses a classId twice per classifier and
message. `classificationid` keeps its sequence default: it is the Django
model's identity.

Django gives a unique text column a second, `text_pattern_ops` index for
LIKE 'prefix%'; nothing searches message keys by prefix (only equality, which
the unique index serves), and it cost each message another b-tree insertion
(~2 of the remaining 24 us) and 70 bytes.

Rebuilding the index takes an ACCESS EXCLUSIVE lock for as long as it reads
the table: run it when ingest and readers can wait.
"""

from django.db import migrations

FORWARD_SQL = """
DROP INDEX elasticc_brokerclassification_msg;
ALTER TABLE elasticc_brokerclassification DROP CONSTRAINT elasticc_brokerclassification_pkey;
ALTER TABLE elasticc_brokerclassification DROP CONSTRAINT elasticc_brokerclassification_unique;
ALTER TABLE elasticc_brokerclassification
    ADD CONSTRAINT elasticc_brokerclassification_pkey PRIMARY KEY (brokermessageid, classifierid, classid);
DROP INDEX elasticc_brokermessage_messagekey_3a6137bd_like;
"""

REVERSE_SQL = """
CREATE INDEX elasticc_brokermessage_messagekey_3a6137bd_like ON elasticc_brokermessage (messagekey text_pattern_ops);
ALTER TABLE elasticc_brokerclassification DROP CONSTRAINT elasticc_brokerclassification_pkey;
ALTER TABLE elasticc_brokerclassification ADD PRIMARY KEY (classificationid, classifierid);
ALTER TABLE elasticc_brokerclassification
    ADD CONSTRAINT elasticc_brokerclassification_unique UNIQUE (classifierid, brokermessageid, classid);
CREATE INDEX elasticc_brokerclassification_msg ON elasticc_brokerclassification (brokermessageid);
"""


class Migration(migrations.Migration):
    dependencies = [("elasticc", "0015_metrics_stream_and_object_browser")]

    operations = [migrations.RunSQL(FORWARD_SQL, REVERSE_SQL)]
