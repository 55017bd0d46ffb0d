"""The two ELAsTiCC Avro schema versions: v0_9 (ELAsTiCC, 2022-23) and v0_9_1 (ELAsTiCC2, 2023)."""

SCHEMA_VERSIONS: tuple[str, ...] = ("v0_9", "v0_9_1")
DEFAULT_SCHEMA_VERSION = "v0_9_1"


class UnknownSchemaError(ValueError):
    """A schema version (or record name) that the project does not have."""


def check_schema_version(version: str) -> str:
    """`version` itself when it is one of `SCHEMA_VERSIONS`, else UnknownSchemaError."""
    if version not in SCHEMA_VERSIONS:
        raise UnknownSchemaError(f"unknown schema version {version!r} (expected one of {', '.join(SCHEMA_VERSIONS)})")
    return version
