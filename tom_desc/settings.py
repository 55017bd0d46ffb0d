"""Django settings for the DESC TOM.

Every deployment-specific value comes from the environment (or, for secrets,
from a file whose path is in the environment), so the same code runs on a
laptop, in docker-compose and on NERSC Spin. `env_secret` is the one place a
secret is read.
"""

import os
from pathlib import Path

import dj_database_url
from csp.constants import NONCE, NONE, SELF, UNSAFE_EVAL, UNSAFE_INLINE
from tom_common.default_settings import *  # noqa: F403  (TOM Toolkit defaults)
from tom_common.default_settings import (
    TOMTOOLKIT_INSTALLED_APPS,
    TOMTOOLKIT_MIDDLEWARE,
)

from elasticc.avro.versions import DEFAULT_SCHEMA_VERSION  # a constant only: no Django import

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("DESC_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_secret(name: str, default: str | None = None) -> str | None:
    """Return secret `name` from `$NAME_FILE` (a path, as Kubernetes and Docker
    secrets mount them) or from `$NAME`; the file wins so a secret never has to
    live in the process environment."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        return Path(path).read_text().strip()
    return os.environ.get(name, default)


DEBUG = env_bool("DEBUG")

SECRET_KEY = env_secret("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    # A per-checkout key kept outside git, so a local run needs no configuration
    # while nothing secret is ever committed.
    _key_file = VAR_DIR / "secret_key"
    if not _key_file.exists():
        import secrets as _secrets

        _key_file.parent.mkdir(parents=True, exist_ok=True)
        _key_file.write_text(_secrets.token_urlsafe(50))
        _key_file.chmod(0o600)
    SECRET_KEY = _key_file.read_text().strip()

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
if env_bool("BEHIND_TLS_PROXY"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

INSTALLED_APPS = [
    "whitenoise.runserver_nostatic",
    *TOMTOOLKIT_INSTALLED_APPS,
    "django.contrib.humanize",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "pgtrigger",
    "tom_desc",
    "elasticc",
    "db",
]

MIDDLEWARE = [
    TOMTOOLKIT_MIDDLEWARE[0],
    "whitenoise.middleware.WhiteNoiseMiddleware",
    *TOMTOOLKIT_MIDDLEWARE[1:],
]
# API clients get JSON 403s, not TOM's redirect to the login page (see the module).
MIDDLEWARE = [
    "tom_desc.api.middleware.Raise403Middleware" if name == "tom_common.middleware.Raise403Middleware" else name
    for name in MIDDLEWARE
]

MIDDLEWARE.insert(MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1, "csp.middleware.CSPMiddleware")
MIDDLEWARE.insert(MIDDLEWARE.index("csp.middleware.CSPMiddleware") + 1, "tom_desc.tom_pages_csp.TomPagesCspMiddleware")

# Content-Security-Policy (django-csp): every asset is vendored, so only this
# site. Inline <script> blocks run only with the per-response nonce
# (`{{ request.csp_nonce }}`), so injected markup cannot run script.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        # Alpine's standard build compiles its x-* expressions with Function().
        "script-src": [SELF, NONCE, UNSAFE_EVAL],
        # Plotly and Bootstrap set element styles, and Plotly adds <style> rules.
        "style-src": [SELF, UNSAFE_INLINE],
        # Plotly's toolbar icons and PNG download are data:/blob: images.
        "img-src": [SELF, "data:", "blob:"],
        "font-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

ROOT_URLCONF = "tom_desc.urls"
WSGI_APPLICATION = "tom_desc.wsgi.application"
SITE_ID = 1

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "tom_desc" / "templates", BASE_DIR / "elasticc" / "pages" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------
# DATABASE_URL wins; otherwise DB_HOST/DB_PORT/DB_NAME/DB_USER/DB_PASS, whose
# defaults match the project-local cluster that tom_desc/local_services.py starts.
if os.environ.get("DATABASE_URL"):
    _db = dj_database_url.parse(os.environ["DATABASE_URL"])
else:
    _db = {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": os.environ.get("DB_HOST", "127.0.0.1"),
        # The local cluster's port when it was moved with DESC_PG_PORT.
        "PORT": os.environ.get("DB_PORT") or os.environ.get("DESC_PG_PORT") or "55432",
        "NAME": os.environ.get("DB_NAME", "tom_desc"),
        "USER": os.environ.get("DB_USER", "postgres"),
        "PASSWORD": env_secret("DB_PASS", "") or "",
    }
_db["ENGINE"] = "django.db.backends.postgresql"
_db.setdefault("OPTIONS", {})
_db["CONN_MAX_AGE"] = int(os.environ.get("DB_CONN_MAX_AGE", "60"))
_db["CONN_HEALTH_CHECKS"] = True
if os.environ.get("DB_TEST_NAME"):
    # Lets several test runs share one PostgreSQL cluster without colliding.
    _db["TEST"] = {"NAME": os.environ["DB_TEST_NAME"]}
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"  # what TOM Toolkit's apps were migrated with

# PostgreSQL roles the SQL endpoint connects as (created by elasticc migrations).
SQL_ADMIN_ROLE = os.environ.get("SQL_ADMIN_ROLE", "elasticc_ro_admin")
SQL_BROKER_ROLE = os.environ.get("SQL_BROKER_ROLE", "elasticc_ro_broker")
SQL_ADMIN_ROLE_PASSWORD = env_secret("SQL_ADMIN_ROLE_PASSWORD")
SQL_BROKER_ROLE_PASSWORD = env_secret("SQL_BROKER_ROLE_PASSWORD")
# Limits of /db/runsqlquery/ (SECURITY.md): the timeout covers the whole request.
SQL_STATEMENT_TIMEOUT_MS = int(os.environ.get("SQL_STATEMENT_TIMEOUT_MS", "60000"))
SQL_MAX_ROWS = int(os.environ.get("SQL_MAX_ROWS", "1000000"))
SQL_MAX_STATEMENTS = int(os.environ.get("SQL_MAX_STATEMENTS", "100"))
# UTF-8 bytes of a request's SQL text (also of a long query); long value lists go in subdict.
SQL_MAX_QUERY_BYTES = int(os.environ.get("SQL_MAX_QUERY_BYTES", str(100 * 1024)))
SQL_MAX_RESPONSE_BYTES = int(os.environ.get("SQL_MAX_RESPONSE_BYTES", str(2 * 1024**3)))
SQL_MAX_CONCURRENT_PER_USER = int(os.environ.get("SQL_MAX_CONCURRENT_PER_USER", "4"))
SQL_MAX_CONCURRENT_TOTAL = int(os.environ.get("SQL_MAX_CONCURRENT_TOTAL", "8"))
# Web threads of one process that may run SQL at once (the rest keep serving pages).
SQL_MAX_CONCURRENT_PER_PROCESS = int(os.environ.get("SQL_MAX_CONCURRENT_PER_PROCESS", "2"))
# Non-admins run SQL as a login role of their own (member of SQL_BROKER_ROLE),
# so no user sees or signals another's queries; needs CREATEROLE (SECURITY.md).
SQL_PER_USER_ROLES = env_bool("SQL_PER_USER_ROLES", True)
LONG_QUERY_DIR = Path(os.environ.get("LONG_QUERY_DIR", VAR_DIR / "long_queries"))
LONG_QUERY_TIMEOUT_MS = int(os.environ.get("LONG_QUERY_TIMEOUT_MS", str(6 * 3600 * 1000)))
LONG_QUERY_RETENTION_DAYS = int(os.environ.get("LONG_QUERY_RETENTION_DAYS", "7"))
LONG_QUERY_MAX_PENDING_PER_USER = int(os.environ.get("LONG_QUERY_MAX_PENDING_PER_USER", "10"))
LONG_QUERY_MAX_ROWS = int(os.environ.get("LONG_QUERY_MAX_ROWS", str(500_000_000)))
LONG_QUERY_MAX_BYTES = int(os.environ.get("LONG_QUERY_MAX_BYTES", str(20 * 1024**3)))
# The pandas format holds the whole result in memory (one DataFrame): its own, smaller cap.
LONG_QUERY_PANDAS_MAX_BYTES = int(os.environ.get("LONG_QUERY_PANDAS_MAX_BYTES", str(256 * 1024**2)))

# Truth-derived pages (confusion matrices, probability of the true class, the
# truth summary) are for elasticc_admin members during a challenge; 1 opens
# them to every logged-in user afterwards (SECURITY.md).
ELASTICC_TRUTH_PUBLIC = env_bool("ELASTICC_TRUTH_PUBLIC")

# --- Kafka ----------------------------------------------------------------
KAFKA_BOOTSTRAP_SERVERS = (
    os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or f"127.0.0.1:{os.environ.get('DESC_KAFKA_PORT') or 9092}"
)
# Wide-fast-deep alerts; deep-drilling alerts go to both DDF topics (365 and
# 30 days of history), as ELAsTiCC streamed them. An empty DDF name means
# none: DDF-full alerts then go to ALERT_TOPIC, no DDF-limited copy is sent.
ALERT_TOPIC = os.environ.get("ALERT_TOPIC", "elasticc-alerts")
ALERT_DDF_TOPIC = os.environ.get("ALERT_DDF_TOPIC", "elasticc-alerts-ddf-full")
ALERT_DDF_LIMITED_TOPIC = os.environ.get("ALERT_DDF_LIMITED_TOPIC", "elasticc-alerts-ddf-limited")
ALERT_SCHEMA_VERSION = os.environ.get("ALERT_SCHEMA_VERSION", DEFAULT_SCHEMA_VERSION)
# brokerpoll sources: a JSON/YAML file path; see elasticc/brokers/sources.py.
BROKERPOLL_CONFIG = os.environ.get("BROKERPOLL_CONFIG", "")
# Classifiers one broker account may register over REST PUT (abuse bound:
# each is a partition of elasticc_brokerclassification).
BROKER_MAX_CLASSIFIERS_PER_ACCOUNT = int(os.environ.get("BROKER_MAX_CLASSIFIERS_PER_ACCOUNT", "50"))

# --- Auth -----------------------------------------------------------------
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/elasticc/"
LOGOUT_REDIRECT_URL = "/"
ACCOUNT_ADAPTER = "tom_desc.accounts.DescAccountAdapter"
ACCOUNT_FORMS = {"login": "tom_desc.accounts.DescLoginForm"}
ACCOUNT_LOGOUT_ON_GET = False
TOM_REGISTRATION_STRATEGY = None

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

# --- REST framework -------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
        "tom_desc.api.auth.RateLimitedBasicAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": [
        "tom_desc.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "tom_desc.api.schema.PublicDescriptionSchema",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "EXCEPTION_HANDLER": "tom_desc.api.errors.json_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "DESC TOM API",
    "DESCRIPTION": "ELAsTiCC alerts, truth, broker messages and SQL over HTTP.",
    "VERSION": "1.0.0",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "PREPROCESSING_HOOKS": ["tom_desc.api.openapi.project_endpoints"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "tom_desc.api.openapi.add_plain_django_endpoints",
    ],
}

# --- i18n, static ---------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "static"))
STATICFILES_DIRS = [BASE_DIR / "tom_desc" / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "tom_desc.staticfiles_storage.ManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "/media/"
DATA_ROOT = MEDIA_ROOT / "data"

# Bootstrap comes from our own static files, never a CDN (sites may be offline).
BOOTSTRAP5 = {
    "css_url": {"url": STATIC_URL + "vendor/bootstrap/bootstrap.min.css"},
    "javascript_url": {"url": STATIC_URL + "vendor/bootstrap/bootstrap.bundle.min.js"},
}

# --- TOM Toolkit ----------------------------------------------------------
CRISPY_TEMPLATE_PACK = "bootstrap5"  # as TOM's settings template; the browsable API's filter forms need it
TOM_NAME = "DESC TOM"
TARGET_TYPE = "SIDEREAL"
FACILITIES = {}
TOM_FACILITY_CLASSES = []
TOM_ALERT_CLASSES = []
HOOKS = {}
# Nothing of TOM Toolkit (targets, data services, user pages) is served to
# anonymous users: they get a 403, which the JSON-403 middleware turns into the
# login page. Our API prefixes stay open here because their views check the
# login themselves: DRF authenticates tokens and Basic (which this middleware,
# seeing only sessions, cannot) and answers anonymous clients with a JSON 403,
# and our pages redirect to the login page. ('/elasticc*' covers '/elasticc2/';
# browsers fetch /favicon.ico on the login page too.)
AUTH_STRATEGY = "LOCKED"
OPEN_URLS = ["/elasticc*", "/db*", "/api/*", "/favicon.ico"]
TARGET_PERMISSIONS_ONLY = True
HINTS_ENABLED = False
EXTRA_FIELDS = []
DATA_PRODUCT_TYPES = {}
DATA_PROCESSORS = {}
TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
