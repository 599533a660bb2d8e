"""NusaTrade settings: one module, driven by the environment.

Nothing set -> the *embedded default*: SQLite under ``var/``, eager Celery, local-memory cache,
so ``make demo`` runs on a bare machine. ``DATABASE_URL`` / ``REDIS_URL`` set -> PostgreSQL
(psycopg 3), django-redis, Celery on Redis with the database beat scheduler.
``NUSATRADE_ENV=production`` turns on every hardening and refuses to start when a production
rule is broken (see ``nusatrade/security.py``).
"""

from __future__ import annotations

import contextlib
import os
from datetime import timedelta
from pathlib import Path

import environ

from nusatrade import logconfig, security
from nusatrade.errors import ConfigurationError

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("NUSATRADE_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env")

ENVIRONMENTS = ("development", "test", "production")
NUSATRADE_ENV = env.str("NUSATRADE_ENV", default="development").strip().lower()
if NUSATRADE_ENV not in ENVIRONMENTS:
    raise ConfigurationError(
        f"nusatrade.E000 NUSATRADE_ENV: must be one of {', '.join(ENVIRONMENTS)}"
    )
IS_PRODUCTION = NUSATRADE_ENV == "production"
# Fail-safe: API docs exist only when the environment says development or test explicitly.
API_DOCS_ENABLED = NUSATRADE_ENV in ("development", "test")

DEBUG = env.bool("DEBUG", default=NUSATRADE_ENV == "development")

# Development-only fallbacks. They are known values, so production refuses them (E003).
_DEV_SECRET = "nusatrade-development-only-secret-key-never-use-in-production-0123456789"  # noqa: S105
_DEV_JWT_KEY = "nusatrade-development-only-jwt-signing-key-never-use-in-production-9876"
SECRET_KEY = env.str("SECRET_KEY", default="" if IS_PRODUCTION else _DEV_SECRET)
JWT_SIGNING_KEY = env.str("JWT_SIGNING_KEY", default="" if IS_PRODUCTION else _DEV_JWT_KEY)
# What the operator configured, before the check_production stand-in below: the rules judge these.
_CONFIGURED_SECRET_KEY, _CONFIGURED_JWT_SIGNING_KEY = SECRET_KEY, JWT_SIGNING_KEY
if security.startup_guard_deferred():
    # check_production only: simplejwt reads SECRET_KEY while the URLconf is imported (admin_site
    # -> ratelimit -> api) and Django refuses an empty one with a traceback, before our checks
    # could report E001. A throw-away random value lets the command list every problem; it is
    # never used to sign anything (the command serves nothing and exits non-zero).
    SECRET_KEY = SECRET_KEY or security.throwaway_secret()
    JWT_SIGNING_KEY = JWT_SIGNING_KEY or security.throwaway_secret()

_LOCAL_HOSTS = ["localhost", "127.0.0.1", "[::1]", "testserver"]
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[] if IS_PRODUCTION else _LOCAL_HOSTS)
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_ALLOW_ALL_ORIGINS = False
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "nusatrade.apps.NusaTradeAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "corsheaders",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "django_filters",
    "django_celery_beat",
    "nusatrade.apps.NusaTradeConfig",
    "accounts",
    "trading",
    "trading.paper",
    "marketdata",
    "mlops",
    "backtests",
    "operations",
    "monitoring",
    "readiness",
]

MIDDLEWARE = [
    # First: its latency covers every other middleware, and it sees every response.
    "nusatrade.metrics.middleware.MetricsMiddleware",
    "nusatrade.logs.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files (admin CSS/JS) from STATIC_ROOT, after collectstatic; right after
    # SecurityMiddleware as WhiteNoise documents, so HTTPS redirects and headers still apply.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "nusatrade.urls"
WSGI_APPLICATION = "nusatrade.wsgi.application"
ASGI_APPLICATION = "nusatrade.asgi.application"

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
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------
DATABASE_URL = env.str("DATABASE_URL", default="")
if DATABASE_URL:
    DATABASES = {"default": env.db_url_config(DATABASE_URL)}
    if DATABASES["default"]["ENGINE"] in ("django.db.backends.postgresql",
                                          "django.db.backends.postgresql_psycopg2"):
        DATABASES["default"]["ENGINE"] = "django.db.backends.postgresql"
        DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
        DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env.int(
            "DB_CONNECT_TIMEOUT", default=5)
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "nusatrade.sqlite3",
            "OPTIONS": {"timeout": 20},
        }
    }
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASE_HOST = str(DATABASES["default"].get("HOST") or "")
# Development runs with DEBUG and published keys: never against a database on another machine
# unless a developer says so explicitly (nusatrade.E014).
DEV_ALLOW_REMOTE_DATABASE = env.bool("DEV_ALLOW_REMOTE_DATABASE", default=False)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USES_POSTGRES = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"

# --- Cache and rate limiting --------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
# Connect AND read timeouts on every Redis client: a Redis that accepts connections and never
# answers would otherwise hold a web thread forever (connect timeouts alone do not help).
# Short values keep an outage fast: a cached or limited request fails within a second.
REDIS_CLIENT_OPTIONS = {
    "SOCKET_CONNECT_TIMEOUT": env.float("REDIS_SOCKET_CONNECT_TIMEOUT", default=0.25),
    "SOCKET_TIMEOUT": env.float("REDIS_SOCKET_TIMEOUT", default=0.25),
    # redis-py PINGs a pooled connection idle this long before reusing it, so one that died
    # silently (failover, NAT timeout) is replaced instead of failing the next request.
    "CONNECTION_POOL_KWARGS": {"health_check_interval": 30},
}
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "nt",
            "OPTIONS": {**REDIS_CLIENT_OPTIONS, "IGNORE_EXCEPTIONS": True},
        },
        # Never IGNORE_EXCEPTIONS here: nusatrade.ratelimit must *see* the outage to fail closed.
        "ratelimit": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": env.str("RATELIMIT_REDIS_URL", default=REDIS_URL),
            "KEY_PREFIX": "rl",
            "OPTIONS": dict(REDIS_CLIENT_OPTIONS),
        },
    }
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
else:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                    "LOCATION": "nusatrade-default"},
        "ratelimit": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                      "LOCATION": "nusatrade-ratelimit"},
    }
RATELIMIT_USE_CACHE = "ratelimit"
RATELIMIT_ENABLE = env.bool("RATELIMIT_ENABLE", default=True)
# Production fails closed (503) when the rate-limit store is down; development fails open.
RATELIMIT_FAIL_OPEN = env.bool("RATELIMIT_FAIL_OPEN", default=not IS_PRODUCTION)
RATELIMIT_LOGIN = env.str("RATELIMIT_LOGIN", default="10/m")  # per client IP, every attempt
# Per username, wrong passwords only; clients that logged in as that user before pass
# (nusatrade.ratelimit; trade-off in docs/OPERATIONS.md).
RATELIMIT_LOGIN_FAILURES = env.str("RATELIMIT_LOGIN_FAILURES", default="20/15m")
RATELIMIT_KNOWN_CLIENT_DAYS = env.int("RATELIMIT_KNOWN_CLIENT_DAYS", default=30)
RATELIMIT_TRADING = env.str("RATELIMIT_TRADING", default="60/m")
# /healthz: read and connect timeout of its broker probe (the caches use their own, above).
HEALTHZ_TIMEOUT = env.float("HEALTHZ_TIMEOUT", default=1.0)
# How many reverse proxies we trust to append to X-Forwarded-For (0: use REMOTE_ADDR only).
TRUSTED_PROXY_DEPTH = env.int("TRUSTED_PROXY_DEPTH", default=0)

# --- Celery queues and routes (docs/auto-trading.md, "Queues and workers") ----------------
# Trading on its own queue, so a long training run or backtest never delays a cycle; training
# and backtests share one; alerts, backups and reconciliation go to maintenance; anything else
# to the default queue. Routes match task names in order (the first match wins); an explicit
# apply_async(queue=...) still overrides them (the test worker fixture relies on that).
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_ROUTES = {
    "trading.reconcile*": {"queue": "maintenance"},
    "trading.*": {"queue": "trading"},
    "marketdata.fetch_bars": {"queue": "trading"},  # the cycle's live bars
    "mlops.*": {"queue": "training"},
    "backtests.*": {"queue": "training"},
    "readiness.*": {"queue": "training"},
    "nusatrade.alerts.*": {"queue": "maintenance"},
    "maintenance.*": {"queue": "maintenance"},  # backups and other housekeeping
    "operations.*": {"queue": "maintenance"},  # operations.backup (docs/DISASTER_RECOVERY.md)
}

# --- Celery -------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=REDIS_URL or "cache+memory://")
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER",
                                    default=CELERY_BROKER_URL.startswith("memory://"))
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# Longest task (a 21-year training run) stays well under this; a task that outlives it is
# delivered again, which our idempotent services tolerate but which wastes a worker.
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=3 * 3600)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 300
# A hung broker or result store must not hang the web thread that enqueues a task: kombu's and
# redis-py's defaults wait forever on a socket read. With these, enqueuing against a Redis that
# accepts and never answers fails within a few seconds (measured: 1 s for the broker publish,
# 2 s with the result backend first; docs/OPERATIONS.md). Workers are unaffected in normal
# operation: BRPOP answers within kombu's brpop_timeout (1 s) and its replies are only read once
# the socket is readable.
_CELERY_SOCKET_CONNECT_TIMEOUT = env.float("CELERY_SOCKET_CONNECT_TIMEOUT", default=1.0)
_CELERY_SOCKET_TIMEOUT = env.float("CELERY_SOCKET_TIMEOUT", default=1.0)
CELERY_BROKER_IS_AMQP = CELERY_BROKER_URL.startswith(("amqp://", "amqps://", "pyamqp://"))
if CELERY_BROKER_IS_AMQP:
    # RabbitMQ (py-amqp): kombu hands these to amqp.Connection, which silently ignores the
    # Redis names above, so they are spelled its way. A read/write timeout bounds a publish to
    # a RabbitMQ that accepts and never answers; publisher confirms make delay() return only
    # once the broker has the task (an order-path task must not vanish in a socket buffer).
    # No visibility_timeout: RabbitMQ redelivers an unacked task only when the consumer's
    # connection or channel goes away, or after the SERVER's consumer_timeout (30 min by
    # default, shorter than our longest task: raise it, docs/DEPLOYMENT.md, "RabbitMQ").
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "read_timeout": _CELERY_SOCKET_TIMEOUT,
        "write_timeout": _CELERY_SOCKET_TIMEOUT,
        "confirm_publish": True,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": CELERY_TASK_TIME_LIMIT + 3600,
        "socket_connect_timeout": _CELERY_SOCKET_CONNECT_TIMEOUT,
        "socket_timeout": _CELERY_SOCKET_TIMEOUT,
    }
CELERY_BROKER_CONNECTION_TIMEOUT = _CELERY_SOCKET_CONNECT_TIMEOUT  # AMQP connect timeout
# AMQP heartbeats detect a dead broker connection (the prefork parent answers them while a
# child runs a long task). With acks_late, a connection lost mid-task means redelivery:
# cancel the running copy instead of letting both run (Celery's recommended setting).
CELERY_BROKER_HEARTBEAT = env.int("CELERY_BROKER_HEARTBEAT", default=60)
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
# Publishing: one retry after 0.2 s, then the caller gets kombu's OperationalError.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": env.int("CELERY_PUBLISH_MAX_RETRIES", default=1),
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
# Redis result backend: its own client, its own timeouts (Celery's read timeout default: 120 s)
# and a bounded reconnect (default: 20 retries, about 40 s against a hung Redis).
CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = _CELERY_SOCKET_CONNECT_TIMEOUT
CELERY_REDIS_SOCKET_TIMEOUT = _CELERY_SOCKET_TIMEOUT
CELERY_REDIS_BACKEND_HEALTH_CHECK_INTERVAL = 30  # as the caches; kombu's broker default: 25 s
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {
    "retry_policy": {"max_retries": 0, "interval_start": 0, "interval_step": 0.2,
                     "interval_max": 0.2},
}
CELERY_RESULT_EXPIRES = timedelta(days=1)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# --- Auth, API ----------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"

# Request bodies (Django's defaults, stated): over the size -> JSON 413 on the API, over the
# field count (query string, form, or keys of a JSON body) -> JSON 400 (nusatrade.parsers/api).
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2_621_440)
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1000

REST_FRAMEWORK = {
    "DEFAULT_PARSER_CLASSES": ["nusatrade.parsers.StrictJSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.VersionedJWTAuthentication",  # refuses revoked sessions
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "nusatrade.api.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    # JSON only: "?format=" is not a hidden switch (and an unknown query parameter -> 400).
    "URL_FORMAT_OVERRIDE": None,
    "PAGE_SIZE": 50,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
}
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=5)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=1)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "ALGORITHM": "HS256",
    "SIGNING_KEY": JWT_SIGNING_KEY,
    "AUTH_HEADER_TYPES": ("Bearer",),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "NusaTrade API",
    "DESCRIPTION": "ML auto-trading for forex and gold: accounts, models, backtests.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Several models have a "status" field with different choices: name each enum explicitly.
    "ENUM_NAME_OVERRIDES": {
        "AccountStatusEnum": "accounts.models.AccountStatus",
        "BacktestRunStatusEnum": "backtests.models.RunStatus",
    },
}

# --- Security headers (all on in production; check --deploy must print nothing) -----------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
if IS_PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    # A load balancer probing gunicorn directly over plain HTTP must get the health answer,
    # not a 301 (patterns match the path without its leading slash).
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SESSION_COOKIE_AGE = 8 * 3600

# --- Files, i18n --------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "static")))
with contextlib.suppress(OSError):  # read-only installs collect it at build time instead
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# WhiteNoise serves STATIC_ROOT (``manage.py collectstatic``). Production uses hashed, compressed
# names (cacheable forever); elsewhere plain names, so tests and runserver need no manifest.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
                    if IS_PRODUCTION else
                    "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MEDIA_ROOT = VAR_DIR / "media"
ARTIFACTS_DIR = Path(env.str("ARTIFACTS_DIR", default=str(VAR_DIR / "artifacts")))
REPORTS_DIR = Path(env.str("REPORTS_DIR", default=str(VAR_DIR / "reports")))
# The readiness verdict's thresholds (docs/readiness.md); the defaults are the seed's.
READINESS_THRESHOLDS = {
    "min_win_rate": env.float("READINESS_MIN_WIN_RATE", default=0.50),
    "min_profit_factor": env.float("READINESS_MIN_PROFIT_FACTOR", default=1.5),
    "max_drawdown_pct": env.float("READINESS_MAX_DRAWDOWN_PCT", default=20.0),
    "min_trades": env.int("READINESS_MIN_TRADES", default=30),
    "max_stop_conditions": env.int("READINESS_MAX_STOP_CONDITIONS", default=0),
    "min_agreement": env.float("READINESS_MIN_AGREEMENT", default=1.0),
    "min_deflated_sharpe": env.float("READINESS_MIN_DEFLATED_SHARPE", default=0.95),
    "max_pbo": env.float("READINESS_MAX_PBO", default=0.5),
}
# numba's on-disk cache of the compiled backtest kernels. Its default (__pycache__ beside the
# source) fails on a read-only install; numba reads the variable when it is first imported,
# which is after settings in every Django process (web, worker, commands, pytest).
NUMBA_CACHE_DIR = Path(env.str("NUMBA_CACHE_DIR", default=str(VAR_DIR / "numba-cache")))
os.environ["NUMBA_CACHE_DIR"] = str(NUMBA_CACHE_DIR)
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Market data and brokers ------------------------------------------------------------
# Whole trading days closed (ISO dates); the forex-week weekend is built in (marketdata.calendar).
MARKET_HOLIDAYS = env.list("MARKET_HOLIDAYS", default=[])
# MetaTrader 5: off unless configured. The MetaTrader5 package is Windows-only; tests never
# import it (they use trading.brokers.mt5sim).
MT5_ENABLED = env.bool("MT5_ENABLED", default=False)
MT5_MODULE = env.str("MT5_MODULE", default="MetaTrader5")
MT5_TERMINAL_PATH = env.str("MT5_TERMINAL_PATH", default="")
MT5_SERVER_TIMEZONE = env.str("MT5_SERVER_TIMEZONE", default="UTC")  # UTC, IANA, or "NY+7"
MT5_TIMEOUT_MS = env.int("MT5_TIMEOUT_MS", default=60000)
# The magic number every order of this deployment carries (one per deployment: two NusaTrade
# installations trading one MT5 account must never share it). Orders are found again by it.
TRADING_MAGIC = env.int("TRADING_MAGIC", default=7_402_611)
# The "repeated critical errors" kill switch (trading.services.stops): this many errors in the
# trading path of one account within this many minutes engage the account's switch.
KILL_SWITCH_ERRORS_MAX = env.int("KILL_SWITCH_ERRORS_MAX", default=5)
KILL_SWITCH_ERRORS_WINDOW_MINUTES = env.int("KILL_SWITCH_ERRORS_WINDOW_MINUTES", default=15)

# Reconciliation (trading.reconciliation): a P/L difference above this (account currency) is a
# mismatch; the broker's deal history is read this many days back; in-flight orders younger
# than this are left to their sender.
RECONCILE_PNL_TOLERANCE = env.str("RECONCILE_PNL_TOLERANCE", default="0.10")
RECONCILE_LOOKBACK_DAYS = env.int("RECONCILE_LOOKBACK_DAYS", default=7)
RECONCILE_ORDER_MIN_AGE_SECONDS = env.int("RECONCILE_ORDER_MIN_AGE_SECONDS", default=120)

# --- Backups (operations app, docs/DISASTER_RECOVERY.md) ---------------------------------
# Local copies live under BACKUP_DIR; with BACKUP_S3_BUCKET set, ``backup --upload`` (and the
# beat task) also copies them to S3-compatible storage. Credentials fall back to boto3's own
# chain (environment, instance role) when the two keys are empty.
BACKUP_DIR = Path(env.str("BACKUP_DIR", default=str(VAR_DIR / "backups")))
BACKUP_KEEP_DAILY = env.int("BACKUP_KEEP_DAILY", default=7)
BACKUP_KEEP_WEEKLY = env.int("BACKUP_KEEP_WEEKLY", default=4)
BACKUP_UPLOAD = env.bool("BACKUP_UPLOAD", default=False)  # the beat task uploads when true
BACKUP_S3_BUCKET = env.str("BACKUP_S3_BUCKET", default="")
BACKUP_S3_PREFIX = env.str("BACKUP_S3_PREFIX", default="nusatrade/backups")
BACKUP_S3_ENDPOINT_URL = env.str("BACKUP_S3_ENDPOINT_URL", default="")  # empty: AWS
BACKUP_S3_REGION = env.str("BACKUP_S3_REGION", default="us-east-1")
BACKUP_S3_ACCESS_KEY_ID = env.str("BACKUP_S3_ACCESS_KEY_ID", default="")
BACKUP_S3_SECRET_ACCESS_KEY = env.str("BACKUP_S3_SECRET_ACCESS_KEY", default="")
BACKUP_S3_MULTIPART_THRESHOLD = env.int("BACKUP_S3_MULTIPART_THRESHOLD", default=16 * 2**20)
BACKUP_S3_MULTIPART_CHUNKSIZE = env.int("BACKUP_S3_MULTIPART_CHUNKSIZE", default=16 * 2**20)
BACKUP_S3_CONNECT_TIMEOUT = env.float("BACKUP_S3_CONNECT_TIMEOUT", default=5.0)
BACKUP_S3_READ_TIMEOUT = env.float("BACKUP_S3_READ_TIMEOUT", default=60.0)
# Scratch databases (restore verification) are created and dropped under this prefix.
BACKUP_SCRATCH_DB_PREFIX = env.str("BACKUP_SCRATCH_DB_PREFIX", default="nusatrade_scratch_")
# A restore waits at most this long for a lock held by another session, then fails unchanged.
BACKUP_RESTORE_LOCK_TIMEOUT_MS = env.int("BACKUP_RESTORE_LOCK_TIMEOUT_MS", default=10000)

# --- Email and alerts ---------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="nusatrade@localhost")
ALERT_EMAILS = env.list("ALERT_EMAILS", default=[])
ALERT_WEBHOOK_URL = env.str("ALERT_WEBHOOK_URL", default="")
# Alert delivery (nusatrade/alerts): bounded retries and timeouts, so a hung mail server or
# webhook cannot hang a caller; at most one alert per kind and key per window (the next one
# says how many were held back).
ALERT_RATE_LIMIT_SECONDS = env.int("ALERT_RATE_LIMIT_SECONDS", default=15 * 60)
ALERT_ATTEMPTS = env.int("ALERT_ATTEMPTS", default=3)
ALERT_RETRY_BACKOFF_SECONDS = env.float("ALERT_RETRY_BACKOFF_SECONDS", default=1.0)
ALERT_WEBHOOK_CONNECT_TIMEOUT = env.float("ALERT_WEBHOOK_CONNECT_TIMEOUT", default=3.0)
ALERT_WEBHOOK_READ_TIMEOUT = env.float("ALERT_WEBHOOK_READ_TIMEOUT", default=5.0)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT",  # Django's SMTP default is no timeout at all
                        default=EMAIL_CONFIG.get("EMAIL_TIMEOUT") or 10)

# --- Monitoring (nusatrade/metrics; docs/OPERATIONS.md, "Monitoring") --------------------
# /metrics answers a bearer token (METRICS_TOKEN) or a client inside METRICS_ALLOWED_NETWORKS;
# anyone else gets 404. Production allows no network by default (behind nginx every client
# is 127.0.0.1 unless TRUSTED_PROXY_DEPTH says otherwise).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_NETWORKS = env.list(
    "METRICS_ALLOWED_NETWORKS", default=[] if IS_PRODUCTION else ["127.0.0.1/32", "::1/128"])
# prometheus-client's multiprocess mode: every gunicorn and Celery process of this machine
# writes its counters here and /metrics merges them. Empty: one in-process registry (dev,
# tests). prometheus-client reads the variable when first imported, which is after settings.
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default="")
if PROMETHEUS_MULTIPROC_DIR:
    Path(PROMETHEUS_MULTIPROC_DIR).mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = PROMETHEUS_MULTIPROC_DIR

# --- Launch checklist (manage.py check_production) ----------------------------------------
# Periodic tasks that must have an enabled beat schedule, how recent the last verified backup
# and the last delivered test alert must be.
LAUNCH_REQUIRED_SCHEDULES = env.list("LAUNCH_REQUIRED_SCHEDULES", default=[
    "trading.run_cycles", "trading.expire_kill_switches", "trading.reconcile",
    "operations.backup"])
LAUNCH_BACKUP_MAX_AGE_HOURS = env.int("LAUNCH_BACKUP_MAX_AGE_HOURS", default=26)
LAUNCH_TEST_ALERT_MAX_AGE_DAYS = env.int("LAUNCH_TEST_ALERT_MAX_AGE_DAYS", default=7)

# --- Logging ------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
# json: one JSON object a line (production default) for the log shipper; plain for people.
# Both carry the request id (web) or task id (workers) on every line (nusatrade/logs.py).
LOG_FORMAT = env.str("LOG_FORMAT", default="json" if IS_PRODUCTION else "plain")
if LOG_FORMAT not in ("json", "plain"):
    raise ConfigurationError("nusatrade.E000 LOG_FORMAT: must be json or plain")
LOGGING = logconfig.logging_config(LOG_FORMAT, LOG_LEVEL)
# Celery workers keep Django's logging (with the task id) instead of installing their own.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- Sentry: on only when configured --------------------------------------------------------
SENTRY_DSN = env.str("SENTRY_DSN", default="")
if SENTRY_DSN:
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=SENTRY_DSN,
        environment=NUSATRADE_ENV,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
        send_default_pii=False,
    )

# --- Production start-up guard ------------------------------------------------------------
PRODUCTION_PROBLEMS = (
    security.production_problems(
        secret_key=_CONFIGURED_SECRET_KEY,
        jwt_signing_key=_CONFIGURED_JWT_SIGNING_KEY,
        debug=DEBUG,
        allowed_hosts=ALLOWED_HOSTS,
        cors_allowed_origins=CORS_ALLOWED_ORIGINS,
        cors_allow_all=CORS_ALLOW_ALL_ORIGINS,
        database_engine=DATABASES["default"]["ENGINE"],
        redis_url=REDIS_URL,
        ratelimit_enable=RATELIMIT_ENABLE,
        ratelimit_fail_open=RATELIMIT_FAIL_OPEN,
        celery_eager=CELERY_TASK_ALWAYS_EAGER,
    )
    if IS_PRODUCTION
    else []
)
if PRODUCTION_PROBLEMS and not security.startup_guard_deferred():
    raise ConfigurationError(security.format_problems(PRODUCTION_PROBLEMS))
if NUSATRADE_ENV == "development":
    _DEVELOPMENT_PROBLEMS = security.development_problems(
        database_engine=DATABASES["default"]["ENGINE"], database_host=DATABASE_HOST,
        allow_remote_database=DEV_ALLOW_REMOTE_DATABASE)
    if _DEVELOPMENT_PROBLEMS:
        raise ConfigurationError(security.format_problems(_DEVELOPMENT_PROBLEMS, "development"))
