"""The one settings file. Everything comes from the environment, with defaults that run locally
with nothing configured: SQLite under var/, Redis on localhost, and the Gemini emulator."""

from __future__ import annotations

import os
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
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "simple_history",
    "csp",
    "ninja",  # serves the API docs (Swagger UI) from static files, as the CSP requires
    "patients",
    "agents",
    "intake",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
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
WHITENOISE_USE_FINDERS = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/staff/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
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
GEMINI_RESEARCH_AGENT = env_str("GEMINI_RESEARCH_AGENT", "deep-research-pro-preview-12-2025")
GEMINI_TIMEOUT_SECONDS = env_int("GEMINI_TIMEOUT_SECONDS", 60)
GEMINI_RETRY_ATTEMPTS = env_int("GEMINI_RETRY_ATTEMPTS", 3)
INTERACTIONS_STORE = env_bool("INTERACTIONS_STORE", True)
# Interactions older than this are not trusted to still exist remotely (free tier keeps 1 day).
INTERACTIONS_RETENTION_SECONDS = env_int("INTERACTIONS_RETENTION_SECONDS", 23 * 3600)

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
    "filters": {"no_exception_messages": {"()": "intake.logfilters.ExceptionMessageFilter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["no_exception_messages"]}
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # Request lines can carry tokens in paths; Django's own request logger stays at WARNING.
        "django.request": {"level": "ERROR"},
        "httpx": {"level": "WARNING"},
        "httpx2": {"level": "WARNING"},
        "google_genai": {"level": "WARNING"},
    },
}
