"""elasticc.avro.row_encoder: the alert builder's Avro encoder, against fastavro."""

from __future__ import annotations

import math
import random

import pytest

from elasticc.avro import codec as avro_codec
from elasticc.avro import row_encoder as avro_rows
from elasticc.avro.columns import DIAOBJECT_AVRO_FIELDS, DIASOURCE_AVRO_FIELDS, avro_fields


def _f32(x: float) -> float:
    return avro_codec.decode(
        avro_codec.encode(
            {"ccdVisitId": 1, "midPointTai": 0.0, "filterName": "g", "diaNoise": x}, "diaNondetectionLimit", "v0_9"
        ),
        "diaNondetectionLimit",
        "v0_9",
    )["diaNoise"]


@pytest.mark.parametrize("version", ["v0_9_1", "v0_9"])
def test_row_encoder_matches_fastavro_with_nulls(version):
    rng = random.Random(7)
    obj_fields = avro_fields(DIAOBJECT_AVRO_FIELDS, version)
    src_fields = avro_fields(DIASOURCE_AVRO_FIELDS, version)
    for trial in range(200):
        obj = {name: (None if rng.random() < 0.3 else _f32(rng.uniform(-1e4, 1e4))) for name in obj_fields}
        obj.update(
            diaObjectId=rng.choice([0, 1, -5, 2**62, rng.randrange(10**12)]), ra=rng.random(), decl=-rng.random()
        )
        obj["simVersion"] = None if trial % 2 else "é-2023"
        if trial == 0:
            obj.update({name: math.nan for name in obj_fields[4:]})
        src = {
            "diaSourceId": rng.randrange(-(2**63), 2**63),
            "ccdVisitId": rng.randrange(10**6),
            "diaObjectId": None if trial % 3 == 0 else rng.randrange(10**9),
            "parentDiaSourceId": None if trial % 2 else -rng.randrange(10**9),
            "midPointTai": rng.uniform(59000, 62000),
            "filterName": rng.choice(["u", "g", "Y", "a-long-filter-name-" * 3]),
            "ra": rng.random(),
            "decl": rng.random(),
            "psFlux": _f32(rng.gauss(0, 1e3)),
            "psFluxErr": _f32(rng.random()),
            "snr": float("inf") if trial == 1 else _f32(rng.random()),
            "nobs": None if trial % 4 else 3.0,
        }
        src = {k: src[k] for k in src_fields}
        for name, record in (("diaObject", obj), ("diaSource", src)):
            row = tuple(record[k] for k in avro_rows.field_names(name, version))
            expected = avro_codec.encode(record, name, version)
            assert avro_rows.row_encoder(name, version)(row) == expected, (name, trial)


def test_row_encoder_rejects_unsupported_types():
    with pytest.raises(ValueError, match="cannot encode"):
        avro_rows.compile_row_encoder([{"type": "array", "items": "long"}])
    with pytest.raises(ValueError, match="cannot encode"):
        avro_rows.compile_row_encoder(["fixed"])
