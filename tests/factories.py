"""Builders of test payloads shared by several test modules."""

from __future__ import annotations

T0 = 1_700_000_000_000  # ms


def broker_message_v0_9_1(
    alert: int,
    *,
    source: int | None = None,
    classifier: str = "NugentClassifier",
    probs=((111, 0.75), (112, 0.25)),
) -> dict:
    """A v0_9_1 brokerClassification message (JSON form) about `alert`;
    its diaSourceId is `source`, by default alert * 10."""
    return {
        "alertId": alert,
        "diaSourceId": alert * 10 if source is None else source,
        "elasticcPublishTimestamp": T0 + alert,
        "brokerIngestTimestamp": T0 + alert + 500,
        "brokerName": "FakeBroker",
        "brokerVersion": "v1.0",
        "classifierName": classifier,
        "classifierParams": "100%",
        "classifications": [{"classId": c, "probability": p} for c, p in probs],
    }
