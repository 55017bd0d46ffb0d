"""elasticc.brokers.sources: the brokerpoll source configuration file."""

from __future__ import annotations

import pytest

from elasticc.brokers.sources import BrokerpollConfigError, load_sources


def test_config_file_validation(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_USER", "alice")
    secret = tmp_path / "password"
    secret.write_text("s3cret\n")
    path = tmp_path / "c.yaml"
    path.write_text(
        "sources:\n"
        "  - name: a\n"
        "    bootstrap.servers: host:9092\n"
        "    topics: '^elasticc-.*'\n"
        "    schema: v0_9\n"
        "    taxonomy: elasticc2\n"
        "    group.id: g\n"
        "    settings:\n"
        "      sasl.username: {env: SECRET_USER}\n"
        f"      sasl.password: {{file: {secret}}}\n"
        "      enable.partition.eof: false\n"
    )
    (source,) = load_sources(path)
    assert source.topics == ("^elasticc-.*",)
    assert (source.schema, source.taxonomy) == ("v0_9", "elasticc2")
    assert source.settings == {"sasl.username": "alice", "sasl.password": "s3cret", "enable.partition.eof": "false"}

    bad = {
        "schema: v0_9\n": ("schema: v2\n", "schema must be v0_9 or v0_9_1"),
        "group.id: g\n": ("group.id: g\n    colour: red\n", "unknown keys ['colour']"),
        "{env: SECRET_USER}": ("{env: NOT_SET_ANYWHERE}", "NOT_SET_ANYWHERE is not set"),
        "      enable.partition.eof: false\n": ("      enable.auto.commit: true\n", "set by brokerpoll itself"),
        "'^elasticc-.*'": ("'^elasticc-(['", "bad topic pattern"),
        "taxonomy: elasticc2": ("taxonomy: elasticc3", "taxonomy must be one of"),
    }
    text = path.read_text()
    for old, (new, message) in bad.items():
        path.write_text(text.replace(old, new))
        with pytest.raises(BrokerpollConfigError, match=message.replace("[", r"\[").replace("(", r"\(")):
            load_sources(path)
