"""Settings: everything comes from the environment (see README, "Configuration").

`DJANGO_ENVIRONMENT=development` (the default) runs with nothing set: SQLite under var/,
in-memory channel layer, in-process Dramatiq broker, email to console and var/outbox/,
local Stripe. `production` refuses to start while a required variable is missing or
unsafe (festival/config_check.py names every one of them at once).
"""

from __future__ import annotations

import contextlib
import os
import sys
from datetime import timedelta
from pathlib import Path

import dj_database_url

from festival.config_check import check_production_settings, env_bool, env_int, env_list, prepare_threshold

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("FESTIVAL_VAR_DIR", BASE_DIR / "var"))

ENVIRONMENT = os.environ.get("DJANGO_ENVIRONMENT", "development").strip().lower()
IS_PRODUCTION = ENVIRONMENT == "production"
# Under pytest (or when a test starts a server process with FESTIVAL_TESTING=1).
TESTING = os.environ.get("FESTIVAL_TESTING") == "1" or "pytest" in sys.modules

DEV_SECRET_KEY = "dev-insecure-secret-key-change-me"
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", DEV_SECRET_KEY)
DEBUG = env_bool("DJANGO_DEBUG", default=not IS_PRODUCTION)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", default=[] if IS_PRODUCTION else ["*"])
FRONTEND_URL = os.environ.get("FRONTEND_URL", "http://localhost:3000").rstrip("/")
# Where this API is reachable from outside (signed download links, wallet web service).
PUBLIC_API_URL = os.environ.get("PUBLIC_API_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "channels",
    "strawberry_django",
    "django_dramatiq",
    "domains.common",
    "domains.notifications",
    "domains.accounts",
    "domains.events",
    "domains.tickets",
    "domains.orders",
    "domains.vendors",
    "domains.scanning",
    "domains.wallet",
    "domains.audit",
    "domains.transfers",
    "domains.upgrades",
    "workers",
    "festival",
]

MIDDLEWARE = [
    "festival.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "festival.urls"
ASGI_APPLICATION = "festival.asgi.application"
WSGI_APPLICATION = "festival.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

# --- Database ---------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'festival.sqlite3'}")
if "DATABASE_URL" not in os.environ:
    # The embedded default lives in var/, which a fresh clone does not have (it is ignored by
    # git): SQLite cannot create the file without its directory.
    with contextlib.suppress(OSError):
        VAR_DIR.mkdir(parents=True, exist_ok=True)
_db = dj_database_url.parse(DATABASE_URL)
if _db["ENGINE"] == "django.db.backends.postgresql":
    # Django's psycopg 3 pool: a bounded number of server connections per process
    # however many threads serve requests (persistent per-thread connections under
    # ASGI exhaust PostgreSQL). CONN_MAX_AGE must be 0 with a pool.
    if env_bool("DB_POOL", default=True):
        _db["CONN_MAX_AGE"] = 0
        _db["OPTIONS"] = {
            "pool": {
                "min_size": env_int("DB_POOL_MIN_SIZE", 1),
                "max_size": env_int("DB_POOL_MAX_SIZE", 8),
                "timeout": env_int("DB_POOL_TIMEOUT", 10),
            }
        }
    else:
        # Without a pool (the gate pool's sync workers, deploy/gunicorn_gate.py; an external
        # pooler such as PgBouncer; a benchmark control): DB_CONN_MAX_AGE seconds, -1 for
        # persistent per-thread connections.
        _age = env_int("DB_CONN_MAX_AGE", 0)
        _db["CONN_MAX_AGE"] = None if _age < 0 else _age
        _db["OPTIONS"] = {}
    # A lock held longer than this is a bug or an overload: fail cleanly, retryably.
    _db["OPTIONS"]["options"] = f"-c lock_timeout={env_int('DB_LOCK_TIMEOUT_MS', 3000)}"
    # The gate scan's statements (domains/scanning/services/rows.py, the only cursors binding
    # server-side) are prepared once a connection has run them a few times: planning them was
    # a third of PostgreSQL's CPU per scan (docs/PERFORMANCE.md). On by default only with
    # Django's own pool (PgBouncer in transaction mode keeps prepared statements only from
    # 1.21 with max_prepared_statements).
    _threshold = prepare_threshold(pooled=env_bool("DB_POOL", default=True))
    if _threshold is not None:
        _db["OPTIONS"]["prepare_threshold"] = _threshold
elif _db["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE transactions take SQLite's write lock at BEGIN, so select_for_update-style
    # single-writer guarantees hold in development too.
    _db["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DATABASES = {"default": _db}

# --- Redis, cache, channel layer, broker ----------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
# Tests run in parallel processes against one Redis: each keeps its own keys.
_ns_default = f"festival-test-{os.getpid()}" if TESTING else "festival"
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "festival.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", _ns_default),
            "OPTIONS": {
                "socket_connect_timeout": 1,
                "socket_timeout": 2,
                "pool_class": "festival.cache.SharedConnectionPool",
            },
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # A listening consumer blocks in BZPOPMIN for 5 s at a time; redis-py's default socket
            # timeout is 5 s too, so an idle dashboard's socket was dropped (a TimeoutError in the
            # ASGI application, no close frame) whenever nothing was scanned for a few seconds.
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "socket_timeout": 15}],
                "prefix": os.environ.get("CHANNEL_PREFIX", _ns_default),
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

DRAMATIQ_NAMESPACE = os.environ.get("DRAMATIQ_NAMESPACE", _ns_default)
_dramatiq_middleware = [
    "dramatiq.middleware.AgeLimit",
    "dramatiq.middleware.TimeLimit",
    "dramatiq.middleware.Callbacks",
    "dramatiq.middleware.Retries",
    "django_dramatiq.middleware.DbConnectionsMiddleware",
    "workers.middleware.JobLogContext",  # actor name and message id in job logs
]
if REDIS_URL:
    DRAMATIQ_BROKER = {
        "BROKER": "dramatiq.brokers.redis.RedisBroker",
        "OPTIONS": {
            "url": REDIS_URL,
            "namespace": DRAMATIQ_NAMESPACE,
            # A worker silent this long is dead; its unacknowledged messages go back to the queue
            # (checked by other workers' "maintenance", on about maintenance_chance per million fetches).
            "heartbeat_timeout": env_int("DRAMATIQ_HEARTBEAT_TIMEOUT_MS", 60_000),
            "maintenance_chance": env_int("DRAMATIQ_MAINTENANCE_CHANCE", 1000),
        },
        "MIDDLEWARE": _dramatiq_middleware,
    }
else:
    # Development: messages stay in this process; `manage.py serve` starts a worker in it.
    DRAMATIQ_BROKER = {"BROKER": "dramatiq.brokers.stub.StubBroker", "OPTIONS": {}, "MIDDLEWARE": _dramatiq_middleware}
DRAMATIQ_AUTODISCOVER_MODULES = ["tasks"]
# Run a Dramatiq worker inside the web process (development default without Redis).
DRAMATIQ_IN_PROCESS_WORKER = env_bool("DRAMATIQ_IN_PROCESS_WORKER", default=not REDIS_URL and not IS_PRODUCTION)
# Periodic jobs (workers/periodic.py: expired checkout and upgrade holds, pending emails):
# `manage.py run_periodic` ticks this often; `manage.py serve` runs them in a thread unless off.
PERIODIC_EVERY_SECONDS = env_int("PERIODIC_EVERY_SECONDS", 60)
PERIODIC_EMAIL_RESEND_AFTER_SECONDS = env_int("PERIODIC_EMAIL_RESEND_AFTER_SECONDS", 120)
PERIODIC_IN_PROCESS = env_bool("PERIODIC_IN_PROCESS", default=not IS_PRODUCTION)

# --- Email ------------------------------------------------------------------
SENDGRID_API_KEY = os.environ.get("SENDGRID_API_KEY", "")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "tickets@festival.example")
ORGANISER_EMAIL = os.environ.get("ORGANISER_EMAIL", "organisers@festival.example")
EMAIL_OUTBOX_DIR = VAR_DIR / "outbox"
if SENDGRID_API_KEY:
    EMAIL_BACKEND = "workers.email_backends.SendGridBackend"
else:
    EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "workers.email_backends.OutboxBackend")

# --- Stripe -----------------------------------------------------------------
STRIPE_SECRET_KEY = os.environ.get("STRIPE_SECRET_KEY", "sk_test_local")
STRIPE_WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET", "whsec_local_development")
# Empty means Stripe itself; development and tests point this at localstripe.
STRIPE_API_BASE = os.environ.get("STRIPE_API_BASE", "")
STRIPE_WEBHOOK_TOLERANCE = env_int("STRIPE_WEBHOOK_TOLERANCE", 300)
STRIPE_TIMEOUT_SECONDS = env_int("STRIPE_TIMEOUT_SECONDS", 10)

# --- Ticket lifecycle (domains/transfers, domains/orders/resends) --------------------------------
TRANSFER_TOKEN_TTL_HOURS = env_int("TRANSFER_TOKEN_TTL_HOURS", 72)  # life of a transfer's accept link
# Accepted transfers per ticket when the festival sets no limit of its own (empty: unlimited).
TRANSFER_MAX_PER_TICKET = os.environ.get("TRANSFER_MAX_PER_TICKET") or None
RESEND_LIMIT_PER_ORDER = env_int("RESEND_LIMIT_PER_ORDER", 3)  # resendTickets/resendInvoice per order ...
RESEND_WINDOW_SECONDS = env_int("RESEND_WINDOW_SECONDS", 3600)  # ... per this many seconds
# localstripe ignores Idempotency-Key; the gateway then looks objects up by our key itself.
# None: emulate whenever STRIPE_API_BASE points away from Stripe (read when the gateway is built).
STRIPE_EMULATE_IDEMPOTENCY = (
    env_bool("STRIPE_EMULATE_IDEMPOTENCY", default=False) if "STRIPE_EMULATE_IDEMPOTENCY" in os.environ else None
)

# --- Signing ----------------------------------------------------------------
QR_SIGNING_SECRET = os.environ.get("QR_SIGNING_SECRET", "dev-insecure-qr-secret")
# Earlier QR secrets, comma-separated: codes they signed still verify (and scanners are given
# their public keys) while new codes are signed with QR_SIGNING_SECRET. Drop one to refuse its codes.
QR_SIGNING_PREVIOUS_SECRETS = env_list("QR_SIGNING_PREVIOUS_SECRETS", default=[])
DOWNLOAD_URL_TTL = env_int("DOWNLOAD_URL_TTL", 3600)

# --- Wallet passes (domains/wallet) --------------------------------------------
# PEM contents or file paths. Unset in production: the wallet operations answer
# WALLET_NOT_CONFIGURED; unset in development/tests: generated dev credentials under WALLET_DEV_DIR.
APPLE_PASS_CERTIFICATE = os.environ.get("APPLE_PASS_CERTIFICATE", "")
APPLE_PASS_KEY = os.environ.get("APPLE_PASS_KEY", "")
APPLE_PASS_KEY_PASSWORD = os.environ.get("APPLE_PASS_KEY_PASSWORD", "")
APPLE_WWDR_CERTIFICATE = os.environ.get("APPLE_WWDR_CERTIFICATE", "")
APPLE_PASS_TYPE_ID = os.environ.get("APPLE_PASS_TYPE_ID", "")  # default: the certificate's UID
APPLE_TEAM_ID = os.environ.get("APPLE_TEAM_ID", "")  # default: the certificate's OU
GOOGLE_WALLET_ISSUER_ID = os.environ.get("GOOGLE_WALLET_ISSUER_ID", "")
GOOGLE_WALLET_SERVICE_ACCOUNT = os.environ.get("GOOGLE_WALLET_SERVICE_ACCOUNT", "")  # JSON or path
WALLET_DEV_CREDENTIALS = env_bool("WALLET_DEV_CREDENTIALS", default=not IS_PRODUCTION) and not IS_PRODUCTION
WALLET_DEV_DIR = Path(os.environ.get("WALLET_DEV_DIR", VAR_DIR / "wallet-dev"))
WALLET_DEV_GOOGLE_ISSUER_ID = "3388000000000000000"
# Secret from which each pass's PassKit authenticationToken is derived (never stored).
# Set it apart from DJANGO_SECRET_KEY so rotating that key does not orphan installed passes.
WALLET_PASS_TOKEN_SECRET = os.environ.get("WALLET_PASS_TOKEN_SECRET", "") or SECRET_KEY
WALLET_ORGANIZATION_NAME = os.environ.get("WALLET_ORGANIZATION_NAME", "")  # default: festival name
# "apns" (HTTP/2 to Apple), "log" (development: log only), or a dotted path to a transport factory.
WALLET_APNS_TRANSPORT = os.environ.get("WALLET_APNS_TRANSPORT", "apns" if IS_PRODUCTION else "log")
WALLET_APNS_PRODUCTION = env_bool("WALLET_APNS_PRODUCTION", default=True)
# "http" (Google Wallet REST API), "log", or a dotted path to a transport factory.
WALLET_GOOGLE_TRANSPORT = os.environ.get("WALLET_GOOGLE_TRANSPORT", "http" if IS_PRODUCTION else "log")
WALLET_HTTP_TIMEOUT = env_int("WALLET_HTTP_TIMEOUT", 10)

# --- Auth -------------------------------------------------------------------
JWT_ISSUER = os.environ.get("JWT_ISSUER", "festival-backend")
JWT_ACCESS_TTL = timedelta(seconds=env_int("JWT_ACCESS_TTL", 300))
JWT_REFRESH_TTL = timedelta(seconds=env_int("JWT_REFRESH_TTL", 30 * 24 * 3600))
# Longest life of a per-process cached authentication look-up (domains/common/authcache.py;
# revocations reach it at once through versions in Redis). 0 = no cache.
AUTH_CACHE_SECONDS = env_int("AUTH_CACHE_SECONDS", 60)
PASSWORD_RESET_TTL = timedelta(seconds=env_int("PASSWORD_RESET_TTL", 3600))
PASSWORD_RESET_EMAIL_INTERVAL = env_int("PASSWORD_RESET_EMAIL_INTERVAL", 15 * 60)
PASSWORD_RESET_REQUEST_MAX_AGE = 3600  # a reset request queued longer than this (an outage) is dropped
LOGIN_THROTTLE_FREE_FAILURES = env_int("LOGIN_THROTTLE_FREE_FAILURES", 3)
LOGIN_THROTTLE_FREE_IP_FAILURES = env_int("LOGIN_THROTTLE_FREE_IP_FAILURES", 20)
LOGIN_THROTTLE_MAX_DELAY = env_int("LOGIN_THROTTLE_MAX_DELAY", 15 * 60)
CONTACT_FORM_PER_HOUR = env_int("CONTACT_FORM_PER_HOUR", 5)
# Public catalogue reads (festival, ticketTypes) cached per process, invalidated on writes
# through a version in the cache (domains/common/readcache.py). The suite runs without it
# (tests change rows behind the services' back); tests/perf switch it on.
PUBLIC_READ_CACHE_SECONDS = env_int("PUBLIC_READ_CACHE_SECONDS", 0 if TESTING else 5)
# After a write, the public catalogue may still be answered from the previous value until it
# is this old (one recomputation per process per interval however fast writes come: an
# on-sale changes availability with every checkout hold). 0: every write shows at once.
PUBLIC_READ_MAX_STALE_MS = env_int("PUBLIC_READ_MAX_STALE_MS", 1000)
# The same for a ticket type's entry rule, read on every scan (invalidated by its changes).
ENTRY_RULE_CACHE_SECONDS = env_int("ENTRY_RULE_CACHE_SECONDS", 0 if TESTING else 60)
# How old a scanStats answer may be: each process reads the figures at most this often, however
# many dashboards poll (domains/scanning/selectors.scan_stats_recent). 0: read on every poll.
SCAN_STATS_MAX_AGE_MS = env_int("SCAN_STATS_MAX_AGE_MS", 0 if TESTING else 1000)

# --- Abuse limits (README, "Abuse limits") ----------------------------------------
# Fixed windows counted in the cache (Redis in production, so every process agrees).
# Each is "<count>/<seconds>", overridable as RATE_LIMIT_<ACTION>_<IP|ACCOUNT>, "off" to disable.
# A refusal is the RATE_LIMITED payload error with retryAfter and an HTTP Retry-After header.
# Per-IP ceilings are generous: a festival's Wi-Fi or a mobile carrier puts many honest
# people behind one address; per-account ones stop one person or bot hammering.
# Login has its own growing-delay throttle (LOGIN_THROTTLE_*); the contact form's per-IP
# limit is CONTACT_FORM_PER_HOUR; scans: env SCAN_RATE_PER_DEVICE (60) / SCAN_RATE_PER_STAFF (120)
# per 10 s (domains/scanning/services/commit.py).
def _rate(name: str, default: str) -> tuple[int, int] | None:
    raw = os.environ.get(name, default).strip().lower()
    if raw in ("off", "none", "0"):
        return None
    count, _, seconds = raw.partition("/")
    try:
        return int(count), int(seconds or 60)
    except ValueError:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(f"{name} must look like 10/3600 (count/seconds), not {raw!r}") from None


RATE_LIMITS = {
    "register": {"ip": _rate("RATE_LIMIT_REGISTER_IP", "30/3600"), "account": _rate("RATE_LIMIT_REGISTER_ACCOUNT", "5/3600")},
    "password_reset": {
        "ip": _rate("RATE_LIMIT_PASSWORD_RESET_IP", "30/3600"),
        "account": _rate("RATE_LIMIT_PASSWORD_RESET_ACCOUNT", "5/3600"),
    },
    "contact": {"account": _rate("RATE_LIMIT_CONTACT_ACCOUNT", "5/3600")},
    "checkout": {"ip": _rate("RATE_LIMIT_CHECKOUT_IP", "1200/60"), "account": _rate("RATE_LIMIT_CHECKOUT_ACCOUNT", "10/60")},
    "login": {"ip": _rate("RATE_LIMIT_LOGIN_IP", "600/60")},
}
# Peers whose X-Forwarded-For we believe (a load balancer); nobody else chooses their address.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", default=[])
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    # Hashing dominates test time; the production hasher is covered by Django itself.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# --- GraphQL ----------------------------------------------------------------
GRAPHQL_MAX_DEPTH = env_int("GRAPHQL_MAX_DEPTH", 6)
GRAPHQL_MAX_ALIASES = env_int("GRAPHQL_MAX_ALIASES", 15)
GRAPHQL_MAX_TOKENS = env_int("GRAPHQL_MAX_TOKENS", 1000)
GRAPHQL_MAX_DIRECTIVES = env_int("GRAPHQL_MAX_DIRECTIVES", 50)
GRAPHQL_MAX_PAGE_SIZE = env_int("GRAPHQL_MAX_PAGE_SIZE", 100)
# Fields a document may select once its fragments are expanded (checked before validation,
# which would otherwise walk a fragment fan-out for minutes). Our largest client query: ~100.
GRAPHQL_MAX_FIELDS = env_int("GRAPHQL_MAX_FIELDS", 2000)
# Estimated cost: each field 1, times the page size of every list above it (first/limit, or
# GRAPHQL_COST_DEFAULT_LIST for an unbounded list). Refused before execution above the maximum.
GRAPHQL_MAX_COST = env_int("GRAPHQL_MAX_COST", 10000)  # our clients' largest (myOrders, first: 20) is ~3,800
GRAPHQL_COST_DEFAULT_LIST = env_int("GRAPHQL_COST_DEFAULT_LIST", 20)
GRAPHQL_INTROSPECTION = env_bool("GRAPHQL_INTROSPECTION", default=not IS_PRODUCTION)
GRAPHQL_GRAPHIQL = env_bool("GRAPHQL_GRAPHIQL", default=not IS_PRODUCTION)
# A WebSocket that has not sent connection_init (and so is not authenticated yet) is closed
# (4408) after this many seconds: strawberry's default of a minute lets anyone hold idle sockets.
WS_CONNECTION_INIT_TIMEOUT = env_int("WS_CONNECTION_INIT_TIMEOUT", 10)
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("MAX_BODY_SIZE", 256 * 1024)
STRAWBERRY_DJANGO = {"MUTATIONS_DEFAULT_HANDLE_ERRORS": False, "PAGINATION_DEFAULT_LIMIT": 50}

# --- HTTP security ------------------------------------------------------------
CORS_ALLOWED_ORIGINS = [FRONTEND_URL, *env_list("CORS_EXTRA_ORIGINS", default=[])]
CORS_ALLOW_CREDENTIALS = True
CSRF_TRUSTED_ORIGINS = CORS_ALLOWED_ORIGINS
SESSION_COOKIE_HTTPONLY = True
if IS_PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^api/health/$"]
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    CSRF_COOKIE_HTTPONLY = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    if TRUSTED_PROXIES:
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
MEDIA_ROOT = VAR_DIR / "media"
SENTRY_DSN = os.environ.get("SENTRY_DSN", "")
SENTRY_ENVIRONMENT = os.environ.get("SENTRY_ENVIRONMENT", ENVIRONMENT)
SENTRY_TRACES_SAMPLE_RATE = float(os.environ.get("SENTRY_TRACES_SAMPLE_RATE", "0") or 0)
# GET /api/metrics/ (Prometheus): `Authorization: Bearer <METRICS_TOKEN>`; open in development
# when unset, refused in production when unset. Several worker processes: set
# PROMETHEUS_MULTIPROC_DIR to an empty directory shared by them (prometheus-client multiprocess).
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "festival.logging.JsonFormatter"}},
    "filters": {"request": {"()": "festival.logging.RequestContextFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["request"]}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.request": {"level": "ERROR"},
        # HTTP client libraries log what they send: httpx the APNs URL at INFO (it ends in the
        # device's push token); at DEBUG the SendGrid client the whole email and its API key,
        # stripe the PaymentIntent's client secret. Only their warnings and errors are kept.
        **{name: {"level": "WARNING"} for name in ("httpx", "httpcore", "urllib3", "stripe", "python_http_client")},
    },
}

if IS_PRODUCTION:
    check_production_settings(globals())

if SENTRY_DSN:
    from festival.sentry import init_sentry

    init_sentry(SENTRY_DSN, environment=SENTRY_ENVIRONMENT, traces_sample_rate=SENTRY_TRACES_SAMPLE_RATE)
