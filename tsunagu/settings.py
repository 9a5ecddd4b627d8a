"""Tsunagu settings: one module, driven by the environment.

With no environment set, Tsunagu runs embedded: SQLite under var/, Celery on kombu's
filesystem transport under var/, e-mail written to files under var/. Setting DATABASE_URL
(and CELERY_BROKER_URL, CACHE_URL, EMAIL_URL, SECRET_KEY, ALLOWED_HOSTS) switches to the
production services; nothing exists only in production.
"""

from __future__ import annotations

import base64
import os
import secrets
from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
VAR_DIR = Path(env.str("TSUNAGU_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

# Embedded mode is the absence of an external database: the demo and the default test run.
EMBEDDED = not env.str("DATABASE_URL", default="")


def _embedded_secret_key() -> str:
    """A per-checkout random key, kept under var/, for embedded mode only."""
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not EMBEDDED:
        raise ImproperlyConfigured("SECRET_KEY must be set when DATABASE_URL is set.")
    SECRET_KEY = _embedded_secret_key()

DEBUG = env.bool("DEBUG", default=EMBEDDED)
ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"] if EMBEDDED else []
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Absolute base for links in notifications (never carries personal data, only ids).
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
# Where escalations link a ward coordinator (conferences' coordinator view; never a hop it
# may not open).
TSUNAGU_COORDINATOR_PATH = "/coordinator/"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "django_htmx",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "csp",
    "security",
    "audit",
    "agencies",
    "consent",
    "notifications",
    "duework",
    # Before relay: its load_demo extends relay's with the demo schools.
    "attendance",
    "relay",
    "conferences",
    "api",
    "ops",
    # The web UI for people (screens and template tags).
    "relay.views.apps.WebUIConfig",
]

MIDDLEWARE = [
    # /healthz, /readyz, /metrics: before the host check, HTTPS redirect, sessions and audit.
    "ops.middleware.OpsEndpointsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy with a nonce per response (django-csp), Permissions-Policy, and
    # no-store on every response that may carry personal data (security/headers.py).
    "csp.middleware.CSPMiddleware",
    "security.headers.SecurityHeadersMiddleware",
    # Outermost of ours: every /api/v1/ answer, errors included, is no-store.
    "api.cache_control.NoStoreMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "audit.middleware.RequestContextMiddleware",
    # One JSON log line and the request metrics per request, with the request id.
    "ops.middleware.RequestLogMiddleware",
    # Every error under /api/ as a problem document, and bodies too large refused unread.
    "api.middleware.ApiProblemMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): was this session's sign-in confirmed by a second factor?
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Ends sessions missing their second factor, idle (30 min) or too old (8 h), audited.
    "agencies.middleware.SessionSecurityMiddleware",
    # The site's own 404/403 pages for views' errors, also with DEBUG on (the demo).
    "relay.views.errors.OwnErrorPages",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes requires: turns a lockout into its response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "tsunagu.urls"
WSGI_APPLICATION = "tsunagu.wsgi.application"
ASGI_APPLICATION = "tsunagu.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                # {{ CSP_NONCE }} for the few inline scripts.
                "csp.context_processors.nonce",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
if EMBEDDED:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            # TSUNAGU_DATABASE_PATH: another file, e.g. the test database for a worker that
            # a test starts (its settings must resolve to the file the test process uses).
            "NAME": env.str("TSUNAGU_DATABASE_PATH", default=str(VAR_DIR / "tsunagu.sqlite3")),
            # IMMEDIATE serialises writers, so the audit chain cannot fork on SQLite either.
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
        }
    }
else:
    DATABASES = {"default": env.db_url("DATABASE_URL")}
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# On SQLite the test database is a file, so worker processes started by tests can share it.
DATABASES["default"]["TEST"] = {
    "NAME": env.str("TEST_DATABASE_NAME", default="")
    or (str(VAR_DIR / "test.sqlite3") if EMBEDDED else None)
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (rate limits, idempotency keys): shared across processes in both modes ----------
CACHES = {"default": env.cache_url("CACHE_URL", default=f"filecache://{VAR_DIR / 'cache'}")}
if "redis" in CACHES["default"]["BACKEND"].lower():
    # A Redis that hangs must cost a request a second, not a worker: the rate limit then falls
    # back to a per-process counter (api/throttling.py).
    _cache_timeout = env.float("CACHE_TIMEOUT_SECONDS", default=1.0)
    CACHES["default"].setdefault("OPTIONS", {}).update(
        {"socket_connect_timeout": _cache_timeout, "socket_timeout": _cache_timeout}
    )

# --- Auth -----------------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out username before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
# Passwords: at least 12 characters, not like the username, not all digits, and not one of
# the 20,000 passwords most common in breach corpora (Django's list, checked locally: no
# password or hash of one ever leaves the server).
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": env.int("PASSWORD_MIN_LENGTH", default=12)},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"
# Lockout (django-axes): 5 failed logins for a username *from one address* lock that pair for
# 15 minutes. By the pair, so an attacker elsewhere cannot lock the owner out, and one
# person's typos do not lock out the colleagues behind the same office NAT; the per-IP
# limit below bounds guessing across usernames.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "relay/auth/locked_out.html"
# REMOTE_ADDR only, as the audit middleware: X-Forwarded-For can be forged by clients.
AXES_IPWARE_META_PRECEDENCE_ORDER = ["REMOTE_ADDR"]
CSRF_FAILURE_VIEW = "relay.views.errors.csrf_failure"
GUARDIAN_RAISE_403 = False
# Second factors (django-otp): the issuer shown in authenticator apps.
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="Tsunagu")
TSUNAGU_SECURITY = {
    # A signed-in session ends after this long without a request, and this long after sign-in.
    "IDLE_SECONDS": env.int("SESSION_IDLE_TIMEOUT", default=30 * 60),
    "ABSOLUTE_SECONDS": env.int("SESSION_ABSOLUTE_TIMEOUT", default=8 * 3600),
    # Sensitive actions (lawful basis decisions, exports, role changes) need the password
    # confirmed within this long.
    "REAUTH_SECONDS": env.int("REAUTH_TIMEOUT", default=10 * 60),
    # Between the password and the code.
    "SECOND_STEP_SECONDS": env.int("SECOND_STEP_TIMEOUT", default=5 * 60),
    # Failed passwords or codes from one address (all usernames) before it must wait for
    # the next window.
    "SIGNIN_IP_FAILURE_LIMIT": env.int("SIGNIN_IP_FAILURE_LIMIT", default=30),
    "SIGNIN_IP_WINDOW_SECONDS": env.int("SIGNIN_IP_WINDOW_SECONDS", default=15 * 60),
}
ANONYMOUS_USER_NAME = None  # no guardian anonymous user: anonymous sees nothing

# --- Internationalisation ---------------------------------------------------------------------
LANGUAGE_CODE = "ja"
LANGUAGES = [("ja", _("日本語")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Tokyo"
USE_I18N = True
USE_TZ = True

# --- Static and private files ---------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=VAR_DIR / "static")
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        # Private: never under STATIC_ROOT, never served by the web server directly.
        "OPTIONS": {"location": str(env.path("PRIVATE_MEDIA_ROOT", default=VAR_DIR / "private"))},
    },
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if EMBEDDED
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
# A routing desk's public intake form (relay/views/public.py): submissions per address per
# hour, and the largest body it reads.
PUBLIC_INTAKE_PER_HOUR = env.int("PUBLIC_INTAKE_PER_HOUR", default=5)
PUBLIC_INTAKE_MAX_BYTES = env.int("PUBLIC_INTAKE_MAX_BYTES", default=32 * 1024)

# --- E-mail ---------------------------------------------------------------------------------
if env.str("EMAIL_URL", default=""):
    vars().update(env.email_url("EMAIL_URL"))
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(VAR_DIR / "mail"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="tsunagu@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Celery ---------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue_dir = VAR_DIR / "celery" / "queue"
    _processed_dir = VAR_DIR / "celery" / "processed"
    _queue_dir.mkdir(parents=True, exist_ok=True)
    _processed_dir.mkdir(parents=True, exist_ok=True)
    _control_dir = VAR_DIR / "celery" / "control"  # kombu's default is ./control in the cwd
    _control_dir.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "control_folder": str(_control_dir),
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "processed_folder": str(_processed_dir),
        "store_processed": False,
        # kombu polls the folder, once a second by default, and a worker with prefetch 1 then
        # takes at most one message a second: too slow even for the demo's sweeps.
        "polling_interval": env.float("CELERY_POLLING_INTERVAL", default=0.1),
    }
else:
    # Retry times live in the database; the broker only carries "do this row now".
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="tsunagu")
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Never give up on the broker (Celery's default stops after 100 reconnects and the worker
# exits); compose and the systemd units also restart a worker that exits.
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Celery's Django fixup closes every database connection before and after each task unless
# told to reuse them; tsunagu.celery closes them as Django does per request instead (failed or
# older than CONN_MAX_AGE), so a worker thread keeps its connection between deliveries.
CELERY_DB_REUSE_MAX = 1_000_000_000

# --- REST framework -------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "api.schema.TsunaguAutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.APIKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",  # enforces CSRF
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # Refuses bodies over API_MAX_BODY_BYTES (413) or nested past API_JSON_MAX_DEPTH (400).
    "DEFAULT_PARSER_CLASSES": ["api.parsers.BoundedJSONParser"],
    "EXCEPTION_HANDLER": "api.problems.problem_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.APIKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api_key": env.str("API_RATE_LIMIT", default="600/min")},
    "UNAUTHENTICATED_USER": None,
}
# Idempotency-Key records are kept 24 hours (api/idempotency.py).
SPECTACULAR_SETTINGS = {
    "TITLE": "Tsunagu partner API",
    "DESCRIPTION": "Handoffs of referral sheets between agencies, under recorded consent. "
    "Errors are RFC 9457 problem documents (application/problem+json); their titles follow "
    "Accept-Language, their `type` URIs never change.",
    "VERSION": "1.0.0",
    "CONTACT": {"name": "Tsunagu maintainers", "url": f"{SITE_URL}/"},
    "LICENSE": {
        "name": "AGPL-3.0-or-later",
        "url": "https://www.gnu.org/licenses/agpl-3.0.html",
    },
    "SERVERS": [{"url": SITE_URL, "description": "This Tsunagu installation (SITE_URL)."}],
    "TAGS": [
        {"name": "handoffs", "description": "Hops of referral sheets: inbox, outbox, actions."},
        {"name": "sheets", "description": "The sections of a sheet the caller may see."},
        {"name": "agencies", "description": "The agency directory."},
        {"name": "hsds", "description": "The agency directory in Open Referral HSDS 3.0 shape."},
        {"name": "fhir", "description": "Read-only HL7 FHIR R4 views of hops, referrals, "
         "consents and agencies (closed-loop referral)."},
        {"name": "webhook", "description": "The caller's webhook endpoint."},
        {"name": "whoami", "description": "Who the API sees for these credentials."},
        {"name": "consents", "description": "Consent the caller's agency obtained for a sheet "
         "it owns or holds, and its withdrawal."},
        {"name": "intake-records", "description": "A routing desk's requests from its public "
         "intake form."},
        {"name": "meetings", "description": "Case-meeting records the caller's agency takes "
         "part in (snapshots)."},
        {"name": "services", "description": "The agencies' programs, with their eligibility."},
    ],
    # Tags are the first path segment after /api/v1/ (handoffs, sheets, agencies, ...).
    "SCHEMA_PATH_PREFIX": r"/api/v[0-9]+",
    "DEFAULT_GENERATOR_CLASS": "api.schema.TsunaguSchemaGenerator",
    # A nullable choice is oneOf its enum or NullEnum; a blank choice is never answered (an
    # empty value is null, api/fields.py), so no BlankEnum appears.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.postprocess_nullable_types",
        "api.schema.postprocess_query_text",
    ],
    "SERVE_INCLUDE_SCHEMA": False,
    # `kind` names both an agency's kind and a note's kind: each keeps its own component.
    "ENUM_NAME_OVERRIDES": {
        "KindEnum": "agencies.models.AgencyKind",
        "NoteKindEnum": "relay.models.provisions.NoteKind",
        "GradeEnum": "agencies.grades.Grade",
        "ProgressStatusEnum": "relay.models.progress.ProgressStatus",
        "PurposeEnum": "consent.vocabulary.Purpose",
        "ConsentStatusEnum": "consent.models.ConsentStatus",
        "IntakeStatusEnum": "relay.models.intake.IntakeStatus",
        "StatusEnum": "relay.states.Status",
    },
    # Swagger UI and Redoc from our static files (drf-spectacular-sidecar), never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Security (production values by default; the embedded demo runs on plain http) ----------
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not EMBEDDED)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not EMBEDDED)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not EMBEDDED)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if EMBEDDED else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not EMBEDDED)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not EMBEDDED)
if env.bool("BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
# The cookie outlives neither timeout (agencies.middleware enforces both on the server).
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 3600)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Content-Security-Policy (django-csp 4): our own scripts and styles only, inline scripts by
# nonce, no inline styles or event handlers, never framed, forms post to us only.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [NONE],
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "manifest-src": [SELF],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "object-src": [NONE],
        "worker-src": [SELF, "blob:"],
    },
}
# Browser features no page of ours uses.
PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), display-capture=(), geolocation=(), gyroscope=(), "
    "magnetometer=(), microphone=(), payment=(), usb=(), fullscreen=(self)"
)
# /api/docs/ and /api/schema/ need a signed-in person or an API key, unless opened up here
# (the embedded demo opens them).
API_DOCS_PUBLIC = env.bool("API_DOCS_PUBLIC", default=EMBEDDED)

# --- Logging: ids only, never personal data ---------------------------------------------------
# LOG_FORMAT=json (production default): one JSON object a line with the request id, route,
# status, duration, actor kind and agency id (ops/middleware.py); plain for the embedded demo.
LOG_FORMAT = env.str("LOG_FORMAT", default="plain" if EMBEDDED else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "ops.jsonlog.RequestIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {
            "()": "ops.jsonlog.TsunaguJsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # The per-request line is INFO; set LOG_REQUESTS=false to keep only warnings and errors.
    "loggers": {
        "tsunagu.request": {
            "level": "INFO" if env.bool("LOG_REQUESTS", default=not EMBEDDED) else "WARNING"
        }
    },
}

# --- Tsunagu ----------------------------------------------------------------------------------
TSUNAGU = {
    # load_demo creates users with a published password: embedded mode only, unless asked.
    "DEMO_ALLOWED": env.bool("TSUNAGU_DEMO_ALLOWED", default=EMBEDDED),
    # Webhook delivery: SSRF guard (private/loopback/link-local targets) and https-only.
    "WEBHOOK_ALLOW_PRIVATE": env.bool("WEBHOOK_ALLOW_PRIVATE", default=EMBEDDED),
    "WEBHOOK_ALLOW_HTTP": env.bool("WEBHOOK_ALLOW_HTTP", default=EMBEDDED),
    "WEBHOOK_TIMEOUT_SECONDS": env.float("WEBHOOK_TIMEOUT_SECONDS", default=10.0),
    # Seconds before attempt n+1 (about 1.5 days in all); jitter is added on top.
    "RETRY_SCHEDULE": env.list(
        "NOTIFICATION_RETRY_SCHEDULE",
        cast=int,
        default=[0, 5, 300, 1800, 7200, 18000, 36000, 36000],
    ),
    # A claimed delivery is retried by the sweeper if its worker died, after this lease.
    # Keep it well above WEBHOOK_TIMEOUT_SECONDS (and the SMTP timeout).
    "DELIVERY_LEASE_SECONDS": env.int("DELIVERY_LEASE_SECONDS", default=60),
    # The sweeper leaves rows younger than this to the task enqueued on commit, so a busy
    # queue is not flooded with duplicates (which would find nothing to claim anyway).
    "SWEEP_GRACE_SECONDS": env.int("NOTIFICATION_SWEEP_GRACE_SECONDS", default=10),
    # Retries due sooner than this are also handed to the broker with a countdown; later
    # ones wait for the sweeper (long broker countdowns are redelivered by Redis).
    "SHORT_RETRY_SECONDS": env.int("NOTIFICATION_SHORT_RETRY_SECONDS", default=60),
    # An Idempotency-Key whose request died (killed worker) is free again after this lease;
    # keep it above gunicorn's --timeout.
    "IDEMPOTENCY_LEASE_SECONDS": env.int("IDEMPOTENCY_LEASE_SECONDS", default=60),
    # The partner API's request bodies: larger ones get 413, deeper JSON 400, before parsing.
    "API_MAX_BODY_BYTES": env.int("API_MAX_BODY_BYTES", default=1024 * 1024),
    "API_JSON_MAX_DEPTH": env.int("API_JSON_MAX_DEPTH", default=32),
    # /metrics answers a bearer of this token (Prometheus' `authorization` setting); unset,
    # /metrics is 404.
    "METRICS_TOKEN": env.str("METRICS_TOKEN", default=""),
    # After a secret rotation the previous secret keeps signing (second signature) this long.
    "WEBHOOK_SECRET_OVERLAP_HOURS": env.int("WEBHOOK_SECRET_OVERLAP_HOURS", default=24),
    # Threads that share a large escalation backlog (PostgreSQL; SKIP LOCKED keeps them apart).
    "ESCALATION_SWEEP_WORKERS": env.int("ESCALATION_SWEEP_WORKERS", default=2),
    "ESCALATION": {
        "coordinator_agency": env.str("ESCALATION_COORDINATOR_AGENCY", default=""),
    },
}

# --- Encryption at rest of the sensitive (要配慮) sections (security/fieldcrypt.py) ------------
def _embedded_field_keys() -> str:
    """A per-checkout field encryption key under var/, for embedded mode only."""
    path = VAR_DIR / "field_encryption_keys"
    if not path.exists():
        raw = secrets.token_bytes(32)
        path.write_text("k1:" + base64.urlsafe_b64encode(raw).decode("ascii"))
        path.chmod(0o600)
    return path.read_text().strip()


# "<id>:<base64 32 bytes>,<id>:<...>": the first encrypts, all decrypt (rotation:
# manage.py rotate_field_keys). Keep them out of the database and its backups. Outside
# embedded mode there is no default: `manage.py check` (security.E001) and every read or write
# of an encrypted field refuse to run without one.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[]) or (
    [_embedded_field_keys()] if EMBEDDED else []
)


# --- Audit trail ------------------------------------------------------------------------------
def _embedded_anchor_key() -> str:
    """A per-checkout anchor key under var/, for embedded mode only (production sets one)."""
    path = VAR_DIR / "audit_anchor_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


# Signs the checkpoints (HMAC-SHA256). Keep it out of the database and out of its backups.
AUDIT_ANCHOR_KEY = env.str("AUDIT_ANCHOR_KEY", default="") or (
    _embedded_anchor_key() if EMBEDDED else ""
)
# Where signed checkpoints are appended (one file per month, opened O_APPEND; see
# docs/operations.md for chattr +a, syslog and write-once buckets).
AUDIT_ANCHOR_PATH = env.str("AUDIT_ANCHOR_PATH", default=str(VAR_DIR / "audit-anchors"))
# Where `manage.py audit_archive` writes the export of a month it detaches (docs/operations.md).
AUDIT_ARCHIVE_PATH = env.str("AUDIT_ARCHIVE_PATH", default=str(VAR_DIR / "audit-archive"))
# Optional copy of every checkpoint to syslog: "/dev/log" or "host:port" (UDP).
AUDIT_ANCHOR_SYSLOG = env.str("AUDIT_ANCHOR_SYSLOG", default="")
# Parallel chains appenders spread over on PostgreSQL (1 to 64); SQLite uses one.
AUDIT_CHAINS = env.int("AUDIT_CHAINS", default=16)
# Processes `manage.py verify_audit --full` splits the walk over on PostgreSQL (0: one per
# core; 1 walks in the command's own process).
AUDIT_VERIFY_WORKERS = env.int("AUDIT_VERIFY_WORKERS", default=0) or os.cpu_count() or 1
# Months are kept in the live table at least this long (never below the APPI's 3 years).
AUDIT_RETENTION_YEARS = max(3, env.int("AUDIT_RETENTION_YEARS", default=5))
# Refusals by one actor in one minute at which the agency's supervisors are told.
AUDIT_REFUSAL_BURST = env.int("AUDIT_REFUSAL_BURST", default=20)
# The role the application connects as in production (manage.py db_roles).
DATABASE_APP_ROLE = env.str("DATABASE_APP_ROLE", default="tsunagu_app")

CELERY_BEAT_SCHEDULE = {
    # Verify the events appended since the last run; every 5 minutes also sign a checkpoint.
    "audit-verify": {"task": "audit.tasks.verify_new_events", "schedule": 60.0},
    "audit-checkpoint": {"task": "audit.tasks.checkpoint", "schedule": 300.0},
    "audit-flush-refusals": {"task": "audit.tasks.flush_refusals", "schedule": 30.0},
    "sweep-outbox": {"task": "notifications.tasks.sweep_outbox", "schedule": 15.0},
    # The one due-work sweep: every clock (acknowledgment, decision, approval, outcome,
    # consent expiry, plan actions, reviews) is a duework row fired from here.
    "sweep-due-work": {"task": "duework.tasks.sweep_due_work", "schedule": 60.0},
    "api-purge-idempotency-records": {
        "task": "api.tasks.purge_idempotency_records",
        "schedule": 3600.0,
    },
    "overdue-digest": {
        "task": "relay.tasks.send_overdue_digests",
        "schedule": crontab(hour=8, minute=30),
    },
    "expire-consents": {
        "task": "relay.tasks.expire_consents",
        "schedule": crontab(minute=5),
    },
    # Re-evaluate every school's early-response rules at night (a calendar or rule change,
    # a correction nobody re-evaluated); idempotent, so a second run changes nothing.
    "attendance-evaluate": {
        "task": "attendance.tasks.evaluate_schools",
        "schedule": crontab(hour=2, minute=15),
    },
}
