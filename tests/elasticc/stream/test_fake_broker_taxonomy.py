"""The fake broker answers in the taxonomy of its schema version (README, "Taxonomies")."""

from __future__ import annotations

import random

import pytest

from elasticc.stream.fake_broker import classify

ELASTICC2_LISTED = {*range(2222, 2227), *range(2232, 2236), *range(2243, 2247), *range(2322, 2327), 2332}


def answers(schema_version: str, seed: int = 3) -> list[dict]:
    return classify(
        alert_id=1, source_id=10, publish_ms=0, ingest_ms=1, schema_version=schema_version, rng=random.Random(seed)
    )


def test_v0_9_1_speaks_elasticc2():
    nugent, random_sn = answers("v0_9_1")
    assert nugent["classifierName"] == "NugentClassifier"
    assert nugent["classifications"] == [{"classId": 2222, "probability": 1.0}]
    ids = [c["classId"] for c in random_sn["classifications"]]
    assert len(ids) == 20
    assert len(ELASTICC2_LISTED) == 19
    assert set(ids[:-1]) == ELASTICC2_LISTED
    assert ids[-1] == 2242
    assert sum(c["probability"] for c in random_sn["classifications"]) == pytest.approx(1.0)


def test_v0_9_1_lists_the_classes_in_random_order():
    orders = {tuple(c["classId"] for c in answers("v0_9_1", seed)[1]["classifications"]) for seed in range(5)}
    assert len(orders) > 1


def test_v0_9_speaks_elasticc_one_message_per_classifier():
    nugent, random_sn = answers("v0_9")
    for message, (name, params) in ((nugent, ("NugentClassifier", "100%")), (random_sn, ("RandomSNType", "Perfect"))):
        assert {(c["classifierName"], c["classifierParams"]) for c in message["classifications"]} == {(name, params)}
    assert nugent["classifications"] == [
        {"classifierName": "NugentClassifier", "classifierParams": "100%", "classId": 111, "probability": 1.0}
    ]
    assert [c["classId"] for c in random_sn["classifications"]] == [111, 112, 113, 114, 115, 135, 131]
    assert sum(c["probability"] for c in random_sn["classifications"]) == pytest.approx(1.0)


def test_unknown_schema_is_refused():
    with pytest.raises(ValueError, match="unknown schema version"):
        answers("v9")
