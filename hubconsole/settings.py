"""Django settings, read from environment variables (documented in README.md and .env.example).

HUBCONSOLE_MODE selects the defaults: ``development`` and ``demo`` are convenient and local;
``production`` refuses to start without a secret key, allowed hosts and a database URL, and
turns on every transport-security setting.
"""

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from hubconsole.env import env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
# Embedded databases, logs and demo folders of the two README commands.
DATA_DIR = Path(env_str("HUBCONSOLE_DATA_DIR", str(BASE_DIR / "var")))

MODE = env_str("HUBCONSOLE_MODE", "development")
if MODE not in {"development", "demo", "production", "test"}:
    raise ImproperlyConfigured(
        f"HUBCONSOLE_MODE must be development, demo, production or test, not {MODE!r}."
    )
PRODUCTION = MODE == "production"
# Which process this is: "web" (the console and inbound endpoints) or "sandbox" (the simulated
# systems, served by their own process so product URLs never include them).
PROCESS = env_str("HUBCONSOLE_PROCESS", "web")

if PRODUCTION:
    SECRET_KEY = env_str("DJANGO_SECRET_KEY", required=True)
    if len(SECRET_KEY) < 50:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be at least 50 characters long.")
else:
    SECRET_KEY = env_str(
        "DJANGO_SECRET_KEY", "insecure-development-key-" + "x" * 40 + "-do-not-use-in-production"
    )

DEBUG = env_bool("DJANGO_DEBUG", MODE == "development")
ALLOWED_HOSTS = env_list(
    "DJANGO_ALLOWED_HOSTS", [] if PRODUCTION else ["localhost", "127.0.0.1", "[::1]"]
)
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS must list the host names HubConsole serves.")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])
# Addresses of reverse proxies whose X-Forwarded-For is believed (login throttling, audit).
TRUSTED_PROXIES = frozenset(env_list("HUBCONSOLE_TRUSTED_PROXIES", []))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django_htmx",
    "django_filters",
    "rest_framework",
    "drf_spectacular",
    # Swagger UI's files, served as our own static files: the API docs load nothing from a CDN.
    "drf_spectacular_sidecar",
    "auditlog",
    "import_export",
    "apps.core",
    "apps.accounts",
    "apps.exceptions",
    "apps.alerts",
    "apps.connectors",
    "apps.pipeline",
    "apps.masterdata",
    "apps.p2p",
    "apps.console",
    "apps.edi",
    "apps.replays",
    "apps.dashboards",
    # The simulated ERP/billing/supplier systems. Installed so their tables migrate with the
    # rest, but served only by the sandbox process and only when HUBCONSOLE_SANDBOX_ENABLED.
    "apps.sandbox",
]

MIDDLEWARE = [
    "apps.core.middleware.RequestIdMiddleware",
    # Probes often address the pod by IP: answer them before host validation.
    "apps.core.middleware.HealthCheckMiddleware",
    "apps.core.middleware.TrustedProxyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "auditlog.middleware.AuditlogMiddleware",
]

if PROCESS == "sandbox":
    # The simulated systems are machine-facing test doubles: no sessions, users or CSRF, and
    # no work spent on them on a machine they share with the product.
    MIDDLEWARE = [
        "apps.core.middleware.RequestIdMiddleware",
        "django.middleware.common.CommonMiddleware",
    ]
ROOT_URLCONF = "apps.sandbox.urls" if PROCESS == "sandbox" else "hubconsole.urls"
WSGI_APPLICATION = "hubconsole.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", required=True)
if not DATABASE_URL.startswith(("postgres://", "postgresql://")):
    raise ImproperlyConfigured("DATABASE_URL must point at PostgreSQL (postgres://...).")
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL,
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        # Off by default, as in Django: a check costs a round trip on every request; without
        # it, a connection broken by a database restart fails one request and is replaced.
        conn_health_checks=env_bool("DATABASE_CONN_HEALTH_CHECKS", False),
    )
}
DATABASES["default"].setdefault("OPTIONS", {})
DATABASES["default"]["OPTIONS"]["application_name"] = f"hubconsole-{PROCESS}"
DATABASES["default"]["TEST"] = {"NAME": env_str("DATABASE_TEST_NAME", None)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: Celery broker (a doorbell only) and the cache ------------------------------------
REDIS_URL = env_str("REDIS_URL", required=True)
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "hubconsole",
        "TIMEOUT": 300,
    }
}

# Redis by default; RabbitMQ (amqp://...) works as well. Doorbell debounce keys and the cache
# stay in Redis either way.
CELERY_BROKER_URL = env_str("HUBCONSOLE_BROKER_URL", REDIS_URL)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Tasks only ring a doorbell; the work itself is claimed from PostgreSQL. Visibility timeout
# stays well above every task's hard time limit so Redis never re-delivers a running task.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_IGNORE_RESULT = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TASK_DEFAULT_QUEUE = "maintenance"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TASK_ROUTES = {
    "pipeline.process_pending": {"queue": "processing"},
    "pipeline.deliver_pending": {"queue": "delivery"},
    # The pickup scheduler is quick and must not wait behind long pickups.
    "connectors.pickup_due": {"queue": "maintenance"},
    "masterdata.*": {"queue": "maintenance"},
    "connectors.*": {"queue": "connectors"},
    "pipeline.sweep": {"queue": "maintenance"},
    "pipeline.vacuum_queue": {"queue": "maintenance"},
    "p2p.reconcile": {"queue": "maintenance"},
    # Bulk replay jobs only write to PostgreSQL and pace themselves; on maintenance they never
    # hold a delivery or processing slot that the deliveries they re-queue need (docs/replay.md).
    "replays.*": {"queue": "maintenance"},
    # Its own queue and worker, so a slow ERP or a long reconciliation never delays an alert.
    "alerts.*": {"queue": "alerts"},
}
CELERY_BEAT_SCHEDULE = {
    "pipeline-sweep": {
        "task": "pipeline.sweep",
        "schedule": env_float("HUBCONSOLE_SWEEP_SECONDS", 5.0),
        "options": {"expires": 30},
    },
    "pipeline-vacuum-queue": {
        "task": "pipeline.vacuum_queue",
        "schedule": env_float("HUBCONSOLE_QUEUE_VACUUM_SECONDS", 10.0),
        "options": {"expires": 30},
    },
    "masterdata-duplicate-scan": {
        "task": "masterdata.scan_duplicates",
        "schedule": env_float("HUBCONSOLE_DUPLICATE_SCAN_SECONDS", 3600.0),
        "options": {"expires": 600},
    },
    "connectors-pickup": {
        "task": "connectors.pickup_due",
        "schedule": env_float("HUBCONSOLE_PICKUP_SECONDS", 10.0),
        "options": {"expires": 60},
    },
    "p2p-reconcile": {
        "task": "p2p.reconcile",
        "schedule": env_float("HUBCONSOLE_RECON_SECONDS", 3600.0),
        "options": {"expires": 600},
    },
    # The SLA scan, and the sender for retries that came due (the scan rings it for new ones).
    "alerts-scan": {
        "task": "alerts.scan",
        "schedule": env_float("HUBCONSOLE_ALERT_SCAN_SECONDS", 60.0),
        "options": {"expires": 50},
    },
    "replays-redrive": {
        "task": "replays.redrive",
        "schedule": 60.0,
        "options": {"expires": 50},
    },
    "alerts-send": {
        "task": "alerts.send",
        "schedule": env_float("HUBCONSOLE_ALERT_SCAN_SECONDS", 60.0),
        "options": {"expires": 50},
    },
}

# --- Authentication -------------------------------------------------------------------------
if MODE == "test":
    # Tests create many users; the default hasher's deliberate slowness buys nothing there.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "console:home"
LOGOUT_REDIRECT_URL = "accounts:login"
LOGIN_THROTTLE_ATTEMPTS = env_int("HUBCONSOLE_LOGIN_THROTTLE_ATTEMPTS", 5, minimum=1)
LOGIN_THROTTLE_WINDOW_SECONDS = env_int("HUBCONSOLE_LOGIN_THROTTLE_SECONDS", 300, minimum=1)

# --- Internationalisation -------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("HUBCONSOLE_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("HUBCONSOLE_STATIC_ROOT", str(BASE_DIR / "var" / "static")))
# Outside production, serve static files straight from the source folders (no collectstatic).
WHITENOISE_USE_FINDERS = not PRODUCTION
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# --- Security -------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_CSP = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "connect-src": ["'self'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
    "base-uri": ["'self'"],
    "object-src": ["'none'"],
}
if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("HUBCONSOLE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("HUBCONSOLE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# --- Email (SLA alerts) -----------------------------------------------------------------------
MAILERS = {
    "default": {
        "BACKEND": env_str("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend"),
        "OPTIONS": {
            "host": env_str("EMAIL_HOST", "localhost"),
            "port": env_int("EMAIL_PORT", 25),
            "username": env_str("EMAIL_HOST_USER", ""),
            "password": env_str("EMAIL_HOST_PASSWORD", ""),
            "use_tls": env_bool("EMAIL_USE_TLS", False),
            "timeout": env_int("EMAIL_TIMEOUT_SECONDS", 10),
        },
    }
}
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "hubconsole@localhost")

# --- REST framework: the status API, /api/v1 (docs/api.md) -------------------------------------
REST_FRAMEWORK = {
    # Bearer API tokens first: their scheme is what a 401 announces (WWW-Authenticate).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.accounts.api_auth.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Each view names its Django permissions; a view that names none is refused to everyone.
    "DEFAULT_PERMISSION_CLASSES": ["apps.core.api.ApiPermission"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "apps.core.api.ApiCursorPagination",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_THROTTLE_CLASSES": ["apps.core.api.ApiRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "api_read": env_str("HUBCONSOLE_API_THROTTLE_READ", "600/min"),
        "api_replay": env_str("HUBCONSOLE_API_THROTTLE_REPLAY", "60/min"),
    },
    "EXCEPTION_HANDLER": "apps.core.api.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "apps.core.api_schema.ApiAutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "HubConsole status API",
    "DESCRIPTION": (
        "Read-only status of transactions, business documents and exceptions, and replay. "
        "Authenticate with `Authorization: Bearer hc_...` (docs/api.md)."
    ),
    "VERSION": "1",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "apps.core.api_schema.add_header_components",
    ],
    "ENUM_NAME_OVERRIDES": {
        "TransactionStatusEnum": "apps.pipeline.choices.TransactionStatusChoices",
        "ExceptionStatusEnum": "apps.exceptions.choices.BusinessExceptionStatusChoices",
        "PurchaseOrderStatusEnum": "apps.p2p.choices.PurchaseOrderStatusChoices",
        "InvoiceStatusEnum": "apps.p2p.choices.InvoiceStatusChoices",
        "VoucherStatusEnum": "apps.p2p.choices.VoucherStatusChoices",
        "TransactionEventKindEnum": "apps.pipeline.choices.TransactionEventKindChoices",
        "ExceptionActivityKindEnum": "apps.exceptions.choices.ExceptionActivityKindChoices",
        "InvoiceKindEnum": "apps.p2p.choices.InvoiceKindChoices",
    },
}

# --- Audit ------------------------------------------------------------------------------------
AUDITLOG_DISABLE_REMOTE_ADDR = False

# --- The pipeline -----------------------------------------------------------------------------
HUBCONSOLE = {
    # Inbound HTTP: largest accepted body and how old a signature timestamp may be.
    "WEBHOOK_MAX_BYTES": env_int("HUBCONSOLE_WEBHOOK_MAX_BYTES", 10 * 1024 * 1024, minimum=1024),
    "WEBHOOK_TOLERANCE_SECONDS": env_int("HUBCONSOLE_WEBHOOK_TOLERANCE_SECONDS", 300, minimum=1),
    # Work claiming: how long a claim holds, how many items one claim takes, how many
    # unfinished claims (worker crashes) make a message poison.
    "LEASE_SECONDS": env_int("HUBCONSOLE_LEASE_SECONDS", 120, minimum=1),
    "CLAIM_BATCH": env_int("HUBCONSOLE_CLAIM_BATCH", 200, minimum=1),
    "MAX_CRASHES": env_int("HUBCONSOLE_MAX_CRASHES", 3, minimum=1),
    # A doorbell task drains its queue for at most this long, then hands over to a new task.
    "DRAIN_SECONDS": env_int("HUBCONSOLE_DRAIN_SECONDS", 20, minimum=1),
    # After a batch smaller than a quarter of CLAIM_BATCH, wait this long before claiming
    # again, so steady traffic is handled in fewer, larger commits (a few ms of latency).
    "BATCH_LINGER_MS": env_int("HUBCONSOLE_BATCH_LINGER_MS", 25, minimum=0),
    # Largest file accepted by file and SFTP pickup.
    "FILE_MAX_BYTES": env_int("HUBCONSOLE_FILE_MAX_BYTES", 100 * 1024 * 1024, minimum=1024),
    # Largest CSV or Excel file a steward may import into master data.
    "IMPORT_MAX_BYTES": env_int("HUBCONSOLE_IMPORT_MAX_BYTES", 5 * 1024 * 1024, minimum=1024),
    "BASE_URL": env_str("HUBCONSOLE_BASE_URL", "http://127.0.0.1:8000"),
    # Procure-to-pay reconciliation: days before goods received but not invoiced, an invoice
    # waiting for its receipt, and an acknowledged PO with nothing shipped become exceptions.
    "RECON_RECEIPT_DAYS": env_int("HUBCONSOLE_RECON_RECEIPT_DAYS", 14, minimum=1),
    "RECON_GR_WAIT_DAYS": env_int("HUBCONSOLE_RECON_GR_WAIT_DAYS", 3, minimum=1),
    "RECON_SHIP_DAYS": env_int("HUBCONSOLE_RECON_SHIP_DAYS", 10, minimum=1),
    # SLA alerts: more than this many alerts waiting for one team in one scan go out as one
    # digest e-mail; a failing alert is tried this many times, the first retry after
    # ALERT_RETRY_SECONDS and then twice as long each time (capped at 30 minutes).
    "ALERT_DIGEST_THRESHOLD": env_int("HUBCONSOLE_ALERT_DIGEST_THRESHOLD", 10, minimum=1),
    "ALERT_MAX_ATTEMPTS": env_int("HUBCONSOLE_ALERT_MAX_ATTEMPTS", 5, minimum=1),
    "ALERT_RETRY_SECONDS": env_int("HUBCONSOLE_ALERT_RETRY_SECONDS", 60, minimum=1),
}
# Django refuses larger bodies before any view reads them; webhooks are the largest we take.
DATA_UPLOAD_MAX_MEMORY_SIZE = HUBCONSOLE["WEBHOOK_MAX_BYTES"]
# The broker must never hand a running drain task to a second worker: its visibility timeout
# has to exceed the drain tasks' hard time limit (derived from these settings).
if (
    HUBCONSOLE["DRAIN_SECONDS"] + HUBCONSOLE["LEASE_SECONDS"] * 0.75 + 90
    >= (CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"])
):
    raise ImproperlyConfigured(
        "HUBCONSOLE_LEASE_SECONDS and HUBCONSOLE_DRAIN_SECONDS are too large for the broker's "
        "one-hour visibility timeout."
    )
SANDBOX_ENABLED = env_bool("HUBCONSOLE_SANDBOX_ENABLED", False)

# --- Logging: one line per event, each carrying the request or correlation id ------------------
LOG_LEVEL = env_str("HUBCONSOLE_LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "apps.core.logging.RequestIdFilter"}},
    "formatters": {
        "line": {
            "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "line",
            "filters": ["request_id"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "asyncssh": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}
