"""Static-file storage for production: WhiteNoise's compressed, hashed files.

Django's manifest storage rewrites every `sourceMappingURL` comment to the
hashed name of the map and refuses to finish `collectstatic` when the map is
missing. The vendored Bootstrap bundles and allauth's webauthn-json refer to
source maps that are not shipped, so the image build (which runs
`collectstatic`) would fail. Source maps only matter to browser developer
tools, so their comments are left as they are; every other reference (CSS
`url()`, `@import`) is still hashed and checked.
"""

from whitenoise.storage import CompressedManifestStaticFilesStorage


def _without_source_maps(patterns: tuple) -> tuple:
    def keep(pattern) -> bool:
        regex = pattern[0] if isinstance(pattern, tuple) else pattern
        return "sourceMappingURL" not in regex

    return tuple((glob, tuple(filter(keep, rules))) for glob, rules in patterns)


class ManifestStaticFilesStorage(CompressedManifestStaticFilesStorage):
    patterns = _without_source_maps(CompressedManifestStaticFilesStorage.patterns)
