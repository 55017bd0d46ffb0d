"""Settings for bench/sql.py's server: the project's, plus the fetch-everything
endpoint it is compared with (bench/sql_naive_urls.py)."""

from tom_desc.settings import *  # noqa: F403

ROOT_URLCONF = "bench.sql_naive_urls"
