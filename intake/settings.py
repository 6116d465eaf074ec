"""The one settings file. Everything comes from the environment, with defaults that run locally
with nothing configured: SQLite under var/, Redis on localhost, and the Gemini emulator."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


INSECURE_SECRET_KEY = "django-insecure-local-development-key-change-me"  # noqa: S105
SECRET_KEY = env_str("SECRET_KEY", INSECURE_SECRET_KEY)
DEBUG = env_bool("DEBUG", True)
# Production mode (DEBUG off) must never run with the published development key.
if not DEBUG and SECRET_KEY == INSECURE_SECRET_KEY:
    raise ImproperlyConfigured("DEBUG is off but SECRET_KEY is the insecure default: set SECRET_KEY.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "intake.apps.ClinicAdminConfig",  # django.contrib.admin with the MFA-aware site (intake/adminsite.py)
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "servestatic.runserver_nostatic",
    "django.contrib.staticfiles",
    "simple_history",
    "csp",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "ninja",  # serves the API docs (Swagger UI) from static files, as the CSP requires
    "pgtrigger",  # append-only tables refuse UPDATE/DELETE in PostgreSQL itself
    "patients",
    "agents",
    "intake",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Async-native (WhiteNoise is sync-only: a thread hop per request on the chat's async path).
    "servestatic.middleware.ServeStaticMiddleware",
    "intake.busy.DatabaseBusyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    # A request id on every request, and an audit row for every look at patient data.
    "intake.audit.AuditMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "intake.middleware.StaffSessionLimitMiddleware",
    "intake.middleware.LoginRateLimitMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as django-axes requires: it turns a lockout raised during login into its response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "intake.urls"
WSGI_APPLICATION = "intake.wsgi.application"
ASGI_APPLICATION = "intake.asgi.application"

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

VAR_DIR.mkdir(exist_ok=True)
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'intake.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool("DB_POOL", True):
    # A streamed turn borrows a connection only for each short batch of ORM work (patients/db.py) and
    # gives it back before the model call, so a small pool per web process serves any number of
    # waiting patients. Past DB_POOL_TIMEOUT seconds without a free connection, the request answers
    # 503 (intake/busy.py). Keep processes x DB_POOL_MAX below PostgreSQL's max_connections.
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env_int("DB_POOL_MIN", 2),
        "max_size": env_int("DB_POOL_MAX", 20),
        "timeout": env_int("DB_POOL_TIMEOUT", 10),
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the web process, the worker and tests share one file.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Tests use a file, not :memory:, so worker processes and threads share it with real locking.
    # SQLITE_TEST_NAME lets two test runs on one checkout use separate files.
    DATABASES["default"]["TEST"] = {"NAME": env_str("SQLITE_TEST_NAME", str(VAR_DIR / "test.sqlite3"))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
SERVESTATIC_USE_FINDERS = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "servestatic.storage.CompressedStaticFilesStorage"},
}

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/staff/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

# --- Accounts (docs/security.md) ------------------------------------------------------------------
# django-axes checks every login first and locks a username out after repeated failures.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15))
# Either one locks: a username (an attacker rotating addresses gets no fresh tries) and an address
# (one password tried on many usernames). A success from an address clears its count, so a clinic
# sharing one address behind its router is locked only by a run of failures.
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "intake.account_views.lockout_response"
AXES_VERBOSE = False  # axes' own log lines would carry usernames and addresses
# TOTP second factor (django-otp) for every staff account. Off by default only with DEBUG, so the
# demo logins of `make run` work with one command; a user who enrolled a device is always asked.
OTP_REQUIRED = env_bool("OTP_REQUIRED", not DEBUG)
OTP_TOTP_ISSUER = env_str("OTP_TOTP_ISSUER", "Clinic intake")
OTP_ADMIN_HIDE_SENSITIVE_DATA = True  # the admin never shows a device's secret; users enrol at /accounts/mfa/
# Staff sessions end after 30 idle minutes and 12 hours after sign-in, whatever happens.
STAFF_IDLE_TIMEOUT_SECONDS = env_int("STAFF_IDLE_TIMEOUT_SECONDS", 30 * 60)
STAFF_SESSION_MAX_SECONDS = env_int("STAFF_SESSION_MAX_SECONDS", 12 * 3600)
SESSION_COOKIE_AGE = STAFF_SESSION_MAX_SECONDS
# API tokens: a default and a maximum life; a password change or deactivation ends them earlier.
API_TOKEN_DAYS = env_int("API_TOKEN_DAYS", 90)
API_TOKEN_MAX_DAYS = env_int("API_TOKEN_MAX_DAYS", 365)
# Rate limits (per minute; 0 turns one off). A patient message costs one to three model calls.
RATE_LIMIT_LOGIN_PER_MINUTE = env_int("RATE_LIMIT_LOGIN_PER_MINUTE", 10)  # login posts per client address
RATE_LIMIT_CHAT_MESSAGES_PER_MINUTE = env_int("RATE_LIMIT_CHAT_MESSAGES_PER_MINUTE", 20)  # per intake
RATE_LIMIT_CHAT_PAGE_PER_MINUTE = env_int("RATE_LIMIT_CHAT_PAGE_PER_MINUTE", 30)  # chat page loads per link
RATE_LIMIT_API_PER_MINUTE = env_int("RATE_LIMIT_API_PER_MINUTE", 240)  # per API token or chat link

# --- Transport security: on whenever DEBUG is off (`check --deploy --fail-level WARNING` passes) ------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
# Load balancers probe over plain HTTP; the health check answers them without a redirect.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
# Behind a TLS-terminating proxy, name the header it sets (e.g. X-Forwarded-Proto) so Django
# knows the request was HTTPS; never set this without such a proxy.
if env_str("SECURE_PROXY_SSL_HEADER", ""):
    SECURE_PROXY_SSL_HEADER = (
        "HTTP_" + env_str("SECURE_PROXY_SSL_HEADER", "").upper().replace("-", "_"),
        "https",
    )
# A 10 MB attachment is about 13.4 MB as base64 inside JSON; anything past this is refused with 413.
DATA_UPLOAD_MAX_MEMORY_SIZE = 15 * 1024 * 1024
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- Content-Security-Policy (django-csp 4) ---------------------------------------------------------
# No inline scripts or styles anywhere: every page loads its CSS and JS from /static/. Patient text
# and model output are escaped in templates and inserted with textContent, and this policy is the
# second line of defence if an escape is ever missed. The Django admin (5.2) works under it too:
# its scripts are static files and its inline data is JSON in <script type="application/json">.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", "blob:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    },
}

# --- Gemini -------------------------------------------------------------------------------------
# With a key the SDK talks to Google; without one it talks to the local emulator. The app never
# branches on which: only the base URL and the key differ.
GEMINI_API_KEY = env_str("GEMINI_API_KEY", "")
# The emulator's port under `make run` (Procfile); moving it moves the app's default address too.
EMULATOR_PORT = env_int("EMULATOR_PORT", 8765)
GEMINI_BASE_URL = env_str("GEMINI_BASE_URL", "" if GEMINI_API_KEY else f"http://127.0.0.1:{EMULATOR_PORT}")
GEMINI_EMULATOR_KEY = "emulator-local-key"
GEMINI_MODEL = env_str("GEMINI_MODEL", "gemini-3-flash-preview")
GEMINI_RESEARCH_AGENT = env_str("GEMINI_RESEARCH_AGENT", "deep-research-preview-04-2026")
GEMINI_TIMEOUT_SECONDS = env_int("GEMINI_TIMEOUT_SECONDS", 60)
GEMINI_RETRY_ATTEMPTS = env_int("GEMINI_RETRY_ATTEMPTS", 3)
# The patient chat: a reply or a friendly error within the budget; an attempt that shows nothing for
# this long (to the first byte, or between streamed chunks) is abandoned and retried.
GEMINI_CHAT_BUDGET_SECONDS = env_int("GEMINI_CHAT_BUDGET_SECONDS", 15)
GEMINI_CHAT_ATTEMPT_SECONDS = env_int("GEMINI_CHAT_ATTEMPT_SECONDS", 7)
# Concurrent model connections per web process. httpx's default (100) queues the 101st streamed reply
# behind the others until its attempt times out: a crowd of patients then gets errors, not replies.
GEMINI_MAX_CONNECTIONS = env_int("GEMINI_MAX_CONNECTIONS", 2000)
# Chat turns one web process carries at once; beyond it a new message is answered 503 at once (the
# page keeps it, to send again) instead of making every turn late (intake/busy.py). Size: turns a
# core finishes per second (1 / CPU per turn) x seconds a turn lasts, with headroom; 0 = no cap.
CHAT_MAX_TURNS_IN_FLIGHT = env_int("CHAT_MAX_TURNS_IN_FLIGHT", 100)
INTERACTIONS_STORE = env_bool("INTERACTIONS_STORE", True)
# Interactions older than this are not trusted to still exist remotely (free tier keeps 1 day).
INTERACTIONS_RETENTION_SECONDS = env_int("INTERACTIONS_RETENTION_SECONDS", 23 * 3600)

# --- Patient chat links and turns (docs/security.md) ------------------------------------------------
# A turn holds a lease this long and renews it every third of it while the model works; a worker
# that died frees the intake within this many seconds, so the patient's retry can take over.
INTAKE_LEASE_SECONDS = env_int("INTAKE_LEASE_SECONDS", 15)
# A chat link stops working this long after the intake was opened (and at once when it finishes).
INTAKE_LINK_TTL_HOURS = env_int("INTAKE_LINK_TTL_HOURS", 72)

# Estimated cost shown to staff, in US dollars per million tokens. Defaults: the list price of
# gemini-3-flash-preview (paid tier, text) when this was written: $0.50 input, $3.00 output,
# $0.05 cached input. Set your contract's prices; this is an estimate, not a bill.
GEMINI_PRICE_INPUT_PER_MTOK = float(env_str("GEMINI_PRICE_INPUT_PER_MTOK", "0.50"))
GEMINI_PRICE_OUTPUT_PER_MTOK = float(env_str("GEMINI_PRICE_OUTPUT_PER_MTOK", "3.00"))
GEMINI_PRICE_CACHED_PER_MTOK = float(env_str("GEMINI_PRICE_CACHED_PER_MTOK", "0.05"))

# --- EHR ------------------------------------------------------------------------------------------
FHIR_BASE_URL = env_str("FHIR_BASE_URL", "")  # empty: the local chart store in the database
FHIR_TIMEOUT_SECONDS = env_int("FHIR_TIMEOUT_SECONDS", 5)

# --- Celery -----------------------------------------------------------------------------------------
# See docs/celery.md for why each of these is set the way it is.
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
# The rate-limit counters live in the cache: Redis whenever DEBUG is off, so all processes share them.
CACHE_REDIS = env_bool("CACHE_REDIS", not DEBUG)
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": env_str("CACHE_URL", REDIS_URL)}
        if CACHE_REDIS
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "intake"}
    )
}
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = None  # tasks write their outcome to the database, never to a result store
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
# One message at a time per process: a slow task never sits on work another process could take.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Workers log through LOGGING below (and its filter that keeps exception messages out of logs).
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 300)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 240)
# acks_late is opted into per task, only where a redelivery is harmless (see agents/tasks.py).
CELERY_TASK_ACKS_LATE = False
CELERY_TASK_REJECT_ON_WORKER_LOST = False
# Unacknowledged messages come back after this; every countdown stays far below it.
BROKER_VISIBILITY_TIMEOUT = env_int("CELERY_VISIBILITY_TIMEOUT", 3600)
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {"visibility_timeout": BROKER_VISIBILITY_TIMEOUT}
# A key prefix lets separate runs (e.g. concurrent test runs) share one Redis db without ever
# seeing each other's queues.
if env_str("CELERY_BROKER_KEYPREFIX", ""):
    CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"] = env_str("CELERY_BROKER_KEYPREFIX", "")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE = {
    # A lost broker message (or a worker killed mid-task) cannot strand a research job.
    "research-jobs-reconcile": {
        "task": "agents.tasks.research_jobs_reconcile",
        "schedule": float(env_int("RESEARCH_RECONCILE_EVERY_SECONDS", 60)),
    },
}

# --- Deep Research jobs (docs/research.md) ---------------------------------------------------------
RESEARCH_DEADLINE_MINUTES = env_int("RESEARCH_DEADLINE_MINUTES", 65)
# Poll backoff: first countdown, growth factor 1.5, capped. Floats so tests can poll every 0.5 s.
RESEARCH_POLL_INITIAL_SECONDS = float(env_str("RESEARCH_POLL_INITIAL_SECONDS", "5"))
RESEARCH_POLL_MAX_SECONDS = float(env_str("RESEARCH_POLL_MAX_SECONDS", "60"))
# How long one poll may hold the job while it calls Gemini (the lease a crashed poll leaves behind).
RESEARCH_CALL_LEASE_SECONDS = env_int("RESEARCH_CALL_LEASE_SECONDS", 240)
# The reconciler re-queues a job whose next step is overdue by this much.
RESEARCH_STALE_SECONDS = env_int("RESEARCH_STALE_SECONDS", 120)
# A start claimed this long ago without a remote id is presumed lost with its worker.
RESEARCH_START_GRACE_SECONDS = env_int("RESEARCH_START_GRACE_SECONDS", 300)
# Typical run length, only for the progress bar shown to staff.
RESEARCH_EXPECTED_SECONDS = env_int("RESEARCH_EXPECTED_SECONDS", 600)
if BROKER_VISIBILITY_TIMEOUT < RESEARCH_POLL_MAX_SECONDS * 10:
    raise ImproperlyConfigured("Research poll countdowns must stay far below the broker visibility timeout.")

# --- Logging: no PHI goes to logs; log ids, never names or free text. ---------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {
        "no_exception_messages": {"()": "intake.logfilters.ExceptionMessageFilter"},
        "no_chat_tokens": {"()": "intake.logfilters.ChatTokenFilter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["no_exception_messages", "no_chat_tokens"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # Request lines can carry tokens in paths; Django's own request logger stays at WARNING.
        "django.request": {"level": "ERROR"},
        "httpx": {"level": "WARNING"},
        "httpx2": {"level": "WARNING"},
        "google_genai": {"level": "WARNING"},
        "axes": {"level": "WARNING"},  # per-login INFO lines add nothing the audit trail lacks
    },
}
