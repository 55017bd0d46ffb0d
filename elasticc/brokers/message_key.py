"""The natural identity (`messagekey`) of a broker message: what makes every ingest path idempotent.

`elasticc_brokermessage.messagekey` is unique, so a replay inserts nothing:
- Kafka: `kafka:<topic>:<partition>:<offset>`;
- REST: `rest:` + sha256 of the normalised message content. The digest leaves
  out `brokerPublishTimestamp`, because a client retrying a PUT naturally
  re-stamps its publish time while the message is the same; it is computed
  from the normalised content, so the v0_9 and v0_9_1 spellings of one
  message have one identity.
"""

import hashlib
import json
from collections.abc import Iterable


def kafka_message_key(*, topic: str, partition: int, offset: int) -> str:
    """Identity of a Kafka message: it is stored once per topic/partition/offset."""
    return f"kafka:{topic}:{partition}:{offset}"


def rest_message_key(
    *,
    alertid: int,
    diasourceid: int,
    published_ms: int | None,
    ingested_ms: int | None,
    brokername: str,
    brokerversion: str,
    classifications: Iterable[tuple[str, str, int, float]],
) -> str:
    """Identity of a REST message from its normalised content; `classifications`
    are (classifierName, classifierParams, classId, probability), classifier
    named per classification, timestamps in ms."""
    canonical = json.dumps(
        [
            alertid,
            diasourceid,
            published_ms,
            ingested_ms,
            brokername,
            brokerversion,
            [list(c) for c in classifications],
        ],
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return "rest:" + hashlib.sha256(canonical.encode()).hexdigest()
