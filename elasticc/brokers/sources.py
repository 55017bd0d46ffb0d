"""The broker sources `brokerpoll` consumes, read from a YAML or JSON file.

`settings.BROKERPOLL_CONFIG` (env `BROKERPOLL_CONFIG`) names the file; the
command's `--config` overrides it. Format (YAML; JSON is valid YAML too):

    sources:
      - name: pitt                        # used in logs and counts
        bootstrap.servers: kafka.example.org:9092
        topics: [elasticc-brokers]        # list; an entry starting with ^ is a
                                          # regular expression re-evaluated every
                                          # topic.metadata.refresh.interval.ms
        schema: v0_9_1                    # v0_9 or v0_9_1
        taxonomy: elasticc2               # optional: elasticc or elasticc2, the
                                          # taxonomy its new classifiers are
                                          # evaluated in (default: by schema
                                          # version and classIds); see below
        group.id: desc-tom-pitt
        settings:                         # extra librdkafka settings (optional)
          security.protocol: SASL_SSL
          sasl.mechanism: SCRAM-SHA-512
          sasl.username: {env: PITT_KAFKA_USER}
          sasl.password: {file: /run/secrets/pitt-kafka-password}

`taxonomy` is applied when a classifier is first registered. A classifier
keeps its taxonomy after that, as an admin may have chosen it and changing it
means rebuilding its metrics: `manage.py set_classifier_taxonomy ID
elasticc|elasticc2|default` (or the classifier's admin page) changes it.
brokerpoll logs, once per classifier, a classifier of a source that is
evaluated in another taxonomy than the source's, with that command.

Secrets never live in the file or the repository: any value of
`bootstrap.servers` or `settings` may be `{env: NAME}` (an environment
variable) or `{file: PATH}` (the stripped content of a file, e.g. a mounted
Kubernetes secret). `topics` may also be a single string.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from elasticc.avro.versions import SCHEMA_VERSIONS
from elasticc.taxonomy.taxonomies import LABELS as TAXONOMY_LABELS

# librdkafka settings brokerpoll owns: offsets are committed by hand after the
# database commit, and the source's own keys set the rest.
RESERVED_SETTINGS = frozenset({"enable.auto.commit", "group.id", "bootstrap.servers"})
_SOURCE_KEYS = frozenset({"name", "bootstrap.servers", "topics", "schema", "taxonomy", "group.id", "settings"})


class BrokerpollConfigError(ValueError):
    """The source configuration is unusable; the message says where and why."""


@dataclass(frozen=True)
class Source:
    """One broker source: one consumer (one thread) in brokerpoll."""

    name: str
    servers: str
    topics: tuple[str, ...]
    schema: str
    group: str
    settings: dict[str, str] = field(default_factory=dict)
    taxonomy: str | None = None


def _resolve(value: Any, where: str) -> str:
    """A setting value, with `{env: NAME}` / `{file: PATH}` references read."""
    if isinstance(value, dict):
        if set(value) == {"env"}:
            name = str(value["env"])
            if name not in os.environ:
                raise BrokerpollConfigError(f"{where}: environment variable {name} is not set")
            return os.environ[name]
        if set(value) == {"file"}:
            path = Path(str(value["file"]))
            try:
                return path.read_text().strip()
            except OSError as exc:
                raise BrokerpollConfigError(f"{where}: cannot read {path}: {exc.strerror}") from None
        raise BrokerpollConfigError(f"{where}: a reference must be {{env: NAME}} or {{file: PATH}}")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise BrokerpollConfigError(f"{where}: must be a string, number, boolean or reference")


def make_source(
    *,
    name: str,
    servers: str,
    topics: list[str] | tuple[str, ...] | str,
    schema: str,
    group: str,
    settings: dict[str, Any] | None = None,
    taxonomy: str | None = None,
) -> Source:
    """A validated source (from the config file or the command line)."""
    where = f"source {name!r}"
    if not name:
        raise BrokerpollConfigError("a source needs a non-empty name")
    if not servers:
        raise BrokerpollConfigError(f"{where}: bootstrap.servers is empty")
    topic_list = (topics,) if isinstance(topics, str) else tuple(topics)
    if not topic_list or not all(isinstance(t, str) and t for t in topic_list):
        raise BrokerpollConfigError(f"{where}: topics must be a non-empty list of names or ^patterns")
    for topic in topic_list:
        if topic.startswith("^"):
            try:
                re.compile(topic)
            except re.error as exc:
                raise BrokerpollConfigError(f"{where}: bad topic pattern {topic!r}: {exc}") from None
    if schema not in SCHEMA_VERSIONS:
        raise BrokerpollConfigError(f"{where}: schema must be v0_9 or v0_9_1, not {schema!r}")
    if not group:
        raise BrokerpollConfigError(f"{where}: group.id is empty")
    if taxonomy is not None and taxonomy not in TAXONOMY_LABELS:
        raise BrokerpollConfigError(f"{where}: taxonomy must be one of {sorted(TAXONOMY_LABELS)}, not {taxonomy!r}")
    resolved = {}
    for key, value in (settings or {}).items():
        if key in RESERVED_SETTINGS:
            raise BrokerpollConfigError(f"{where}: settings.{key} is set by brokerpoll itself")
        resolved[str(key)] = _resolve(value, f"{where}: settings.{key}")
    return Source(
        name=name, servers=servers, topics=topic_list, schema=schema, group=group, settings=resolved, taxonomy=taxonomy
    )


def load_sources(path: str | Path) -> list[Source]:
    """The sources listed in a YAML/JSON config file."""
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise BrokerpollConfigError(f"cannot read brokerpoll config {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise BrokerpollConfigError(f"brokerpoll config {path} is not valid YAML/JSON: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("sources"), list):
        raise BrokerpollConfigError(f"brokerpoll config {path} must hold a 'sources' list")
    sources = []
    for i, entry in enumerate(document["sources"]):
        if not isinstance(entry, dict):
            raise BrokerpollConfigError(f"{path}: sources[{i}] must be a mapping")
        unknown = set(entry) - _SOURCE_KEYS
        if unknown:
            raise BrokerpollConfigError(f"{path}: sources[{i}] has unknown keys {sorted(unknown)}")
        missing = {"name", "bootstrap.servers", "topics", "schema", "group.id"} - set(entry)
        if missing:
            raise BrokerpollConfigError(f"{path}: sources[{i}] lacks {sorted(missing)}")
        settings = entry.get("settings") or {}
        if not isinstance(settings, dict):
            raise BrokerpollConfigError(f"{path}: sources[{i}].settings must be a mapping")
        sources.append(
            make_source(
                name=str(entry["name"]),
                servers=_resolve(entry["bootstrap.servers"], f"{path}: sources[{i}].bootstrap.servers"),
                topics=entry["topics"],
                schema=str(entry["schema"]),
                group=_resolve(entry["group.id"], f"{path}: sources[{i}].group.id"),
                settings=settings,
                taxonomy=None if entry.get("taxonomy") is None else str(entry["taxonomy"]),
            )
        )
    names = [s.name for s in sources]
    if len(set(names)) != len(names):
        raise BrokerpollConfigError(f"{path}: source names must be unique")
    return sources
