"""Settings read from the environment, and their defaults."""

from __future__ import annotations

import runpy

from tom_desc.local_services import BASE_DIR

ALERT_TOPIC_SETTINGS = ("ALERT_TOPIC", "ALERT_DDF_TOPIC", "ALERT_DDF_LIMITED_TOPIC")


def settings_with(monkeypatch, **env: str) -> dict:
    """The values settings.py gives with the alert-topic variables unset but for `env`."""
    for name in ALERT_TOPIC_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(BASE_DIR / "tom_desc" / "settings.py"))


def test_deep_drilling_alerts_have_two_topics_by_default(monkeypatch):
    """The alert cycle (README): DDF alerts go to a DDF-full and a DDF-limited topic, so
    neither may default to none (which sent them once, to the WFD topic)."""
    values = settings_with(monkeypatch)
    assert [values[name] for name in ALERT_TOPIC_SETTINGS] == [
        "elasticc-alerts",
        "elasticc-alerts-ddf-full",
        "elasticc-alerts-ddf-limited",
    ]
    # From the environment like every other Kafka setting; empty means none.
    values = settings_with(monkeypatch, ALERT_DDF_TOPIC="deep", ALERT_DDF_LIMITED_TOPIC="")
    assert (values["ALERT_DDF_TOPIC"], values["ALERT_DDF_LIMITED_TOPIC"]) == ("deep", "")
