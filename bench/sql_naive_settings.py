"""Settings for bench/sql.py's server: the project's, plus the fetch-everything
endpoint it is compared with (bench/sql_naive_urls.py)."""

from tom_desc.settings import *  # noqa: F403

ROOT_URLCONF = "bench.sql_naive_urls"

# The comparison endpoint authenticates like /db/ (API token), so TOM's
# LOCKED strategy must not send it to the login page.
OPEN_URLS = [*OPEN_URLS, "/bench*"]  # noqa: F405
