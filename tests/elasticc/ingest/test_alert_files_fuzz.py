"""Property-based fuzzing of the Avro alert loader: whatever bytes a file
holds (mutations and truncations of a real alert, compressed or not, or
noise), the loader names the file with a reason or loads it; it never raises
and never hangs. Bounded (max_examples) so CI stays fast."""

from __future__ import annotations

import gzip
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from elasticc.ingest.alert_files import load_alert_files

pytestmark = pytest.mark.django_db
SAMPLE_ALERT = "alert_with_forced_155218500010.schemaless.avro"
FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def real_alert(shared_dir: Path) -> bytes:
    return (
        shared_dir / "elasticc" / "sample" / "alerts" / "alert_with_forced_155218500010.schemaless.avro"
    ).read_bytes()


def _loads_cleanly(data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"fuzzed{suffix}"
        path.write_bytes(data)
        report = load_alert_files(paths=[path], dry_run=True, max_alert_bytes=1 << 20)
    if report.files_failed:
        assert [name for name, _ in report.files_failed] == [str(path)]
        assert all(reason.strip() for _, reason in report.files_failed)
    else:
        assert report.files_loaded == [str(path)]


@FUZZ
@given(data=st.data())
def test_mutated_real_alerts(real_alert, data):
    alert = bytearray(real_alert)
    for _ in range(data.draw(st.integers(0, 8))):
        index = data.draw(st.integers(0, len(alert) - 1))
        alert[index] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(alert)))
    payload = bytes(alert[:cut])
    if data.draw(st.booleans()):
        _loads_cleanly(gzip.compress(payload), ".avro.gz")
    else:
        _loads_cleanly(payload, ".avro")


@FUZZ
@given(noise=st.binary(max_size=4096), suffix=st.sampled_from([".avro", ".avro.gz", ".tar", ".tar.gz"]))
def test_noise(noise, suffix):
    _loads_cleanly(noise, suffix)
