"""'What the world knows', the one definition every follow-up answer uses."""

from __future__ import annotations

import json

import pytest

from elasticc.followup import selectors


def rows(chunks: selectors.LightCurveChunks) -> list[dict]:
    """The rows of a light-curve answer, photometry decoded from its JSON."""
    return [
        {**row, **{key: json.loads(row[key]) for key in selectors.PHOTOMETRY_COLUMNS}}
        for chunk in chunks
        for row in chunk
    ]


def test_known_world_after_sending_through_60578(sent_sample, db):
    assert sent_sample["alerts"] == 545
    assert selectors.known_world() == selectors.KnownWorld(objects=102, detections=545, forced=4242)


def test_mjd_now_limits_the_known_world(sent_sample, db):
    earlier = selectors.known_world(mjd_now=60500.0)
    assert earlier.detections < 545
    assert earlier.objects < 102
    assert earlier.forced < 4242
    assert selectors.known_world(mjd_now=60578.0) == selectors.known_world()


def test_light_curves_end_at_the_latest_sent_alert(sent_sample, db):
    known = rows(selectors.hot_transients(detected_since_mjd=60550.0))
    assert known
    ids = [row["objectid"] for row in known]
    curves = rows(selectors.light_curves(objectids=ids))
    assert [row["objectid"] for row in curves] == ids
    for row in curves:
        assert row["mjd"]
        assert max(row["mjd"]) <= 60578.0
        assert row["mjd"] == sorted(row["mjd"])
        assert len(row["mjd"]) == len(row["band"]) == len(row["flux"]) == len(row["fluxerr"])
        assert row["redshift"] == -99
        assert row["sncode"] == -99


@pytest.mark.parametrize("mjd_now", [None, 60560.0])
def test_hot_transients_sum_to_the_known_world(sent_sample, db, mjd_now):
    curves = rows(selectors.hot_transients(detected_since_mjd=0.0, mjd_now=mjd_now))
    world = selectors.known_world(mjd_now=mjd_now)
    assert len(curves) == world.objects
    assert sum(len(row["mjd"]) for row in curves) == world.forced
