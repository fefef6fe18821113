"""One settings file, read from the environment.

With no variables set everything runs on one machine: SQLite and the Celery broker
live in var/, email is written to var/mail/ where a person can read it. Production
sets DATABASE_URL, REDIS_URL, EMAIL_URL, SECRET_KEY, ALLOWED_HOSTS and DEBUG=0
(see .env.example and the README).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))


def envbool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def envint(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def envlist(name: str, default: str = "") -> list[str]:
    return [part.strip() for part in os.environ.get(name, default).split(",") if part.strip()]


DEBUG = envbool("DEBUG", True)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise RuntimeError("SECRET_KEY must be set when DEBUG is off")
    # Development only: a fixed key so sessions and links survive restarts of `make run`.
    SECRET_KEY = "dev-only-not-secret-aftercare-0123456789abcdefghijklmnopqrstuvwxyz"

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS")
# The address people reach the app at; used to build the links in emails.
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "crispy_forms",
    "crispy_bootstrap5",
    "csp",
    "clients",
    "aftercare",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before sessions, CSRF and messages: it must see the cookies they set (offline.py).
    "aftercare.offline.OfflineHeadersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "aftercare.middleware.NoStoreForPeopleMiddleware",
]

ROOT_URLCONF = "aftercare.urls"
WSGI_APPLICATION = "aftercare.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "builtins": ["django.templatetags.static"],
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
            ],
        },
    }
]

# --- Database: SQLite in var/ unless DATABASE_URL names another ---
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
        conn_max_age=envint("DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share one SQLite file in development: wait for locks
    # instead of failing, and let readers work while a writer writes.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "clients.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "sesame.backends.ModelBackend",
]
LOGIN_URL = "therapist-login"
LOGIN_REDIRECT_URL = "therapist-dashboard"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Magic links (django-sesame) ---
SESAME_MAX_AGE = envint("CLIENT_LINK_MAX_AGE_DAYS", 30) * 24 * 3600
# Revoking a client's links sets a new unusable password: that invalidates every
# link and every phone session of that client at once.
SESAME_INVALIDATE_ON_PASSWORD_CHANGE = True
# A client's phone stays logged in this long after opening a link.
CLIENT_SESSION_DAYS = envint("CLIENT_SESSION_DAYS", 180)
SESSION_COOKIE_AGE = envint("THERAPIST_SESSION_HOURS", 12) * 3600

# --- Cache (rate limits); Redis when configured so limits hold across processes ---
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# The dashboard's practice-wide counts (aftercare/practice_counts.py) are cached only in a
# cache every web worker shares: in each worker's own memory, a client added through one
# worker would stay uncounted (and a calm client off the list) in the others for a minute.
PRACTICE_COUNTS_CACHED = envbool("PRACTICE_COUNTS_CACHED", bool(REDIS_URL))
# The body of each step's card on Today, in each process's memory: its key is a digest of
# what it shows, so an entry never goes stale and needs no sharing (aftercare/step_cards.py).
# ~1-2 KB an entry: 5,000 distinct steps are ~10 MB a process at most (least recent out).
CACHES["step_cards"] = {
    "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
    "LOCATION": "step-cards",
    "OPTIONS": {"MAX_ENTRIES": 5000},
}

# --- Celery ---
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or REDIS_URL or "filesystem://"
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),  # else ./control/ in the checkout
        "store_processed": False,
    }
else:
    # The database is the source of truth for reminders; the broker only carries ids.
    # A message whose worker died is redelivered after the visibility timeout.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": envint("CELERY_VISIBILITY", 600)}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = envbool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE = {
    "reminders-tick": {"task": "aftercare.tick", "schedule": envint("TICK_SECONDS", 60)},
}
# Reminders (docs/reminders.md): a queued row older than this had its broker message
# lost and is handed out again; a row "sending" for longer had its worker die.
REMINDER_REQUEUE_SECONDS = envint("REMINDER_REQUEUE_SECONDS", 600)
REMINDER_STUCK_SECONDS = envint("REMINDER_STUCK_SECONDS", 600)
REMINDER_RETRY_BASE_SECONDS = envint("REMINDER_RETRY_BASE_SECONDS", 30)


# --- Email ---
def email_settings(url: str) -> dict[str, object]:
    """smtp://user:pass@host:587?tls=1, smtps://... (implicit TLS), console:, file:, locmem:."""
    parts = urlsplit(url)
    options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    backends = {
        "smtp": "django.core.mail.backends.smtp.EmailBackend",
        "smtps": "django.core.mail.backends.smtp.EmailBackend",
        "console": "django.core.mail.backends.console.EmailBackend",
        "file": "django.core.mail.backends.filebased.EmailBackend",
        "locmem": "django.core.mail.backends.locmem.EmailBackend",
    }
    if parts.scheme not in backends:
        raise RuntimeError(f"EMAIL_URL: unknown scheme {parts.scheme!r}")
    found: dict[str, object] = {"EMAIL_BACKEND": backends[parts.scheme]}
    if parts.scheme in {"smtp", "smtps"}:
        found.update(
            EMAIL_HOST=parts.hostname or "localhost",
            EMAIL_PORT=parts.port or (465 if parts.scheme == "smtps" else 25),
            EMAIL_HOST_USER=unquote(parts.username or ""),
            EMAIL_HOST_PASSWORD=unquote(parts.password or ""),
            EMAIL_USE_SSL=parts.scheme == "smtps",
            EMAIL_USE_TLS=options.get("tls", "0") in {"1", "true", "yes"},
        )
    if parts.scheme == "file":
        found["EMAIL_FILE_PATH"] = parts.path or str(VAR_DIR / "mail")
    return found


EMAIL_TIMEOUT = envint("EMAIL_TIMEOUT", 20)
EMAIL_FILE_PATH = str(VAR_DIR / "mail")
ANYMAIL = {}
if os.environ.get("ANYMAIL_PROVIDER"):
    # e.g. ANYMAIL_PROVIDER=postmark with ANYMAIL_POSTMARK_SERVER_TOKEN=...
    _provider = os.environ["ANYMAIL_PROVIDER"].lower()
    EMAIL_BACKEND = f"anymail.backends.{_provider}.EmailBackend"
    ANYMAIL = {
        key.removeprefix("ANYMAIL_"): value
        for key, value in os.environ.items()
        if key.startswith("ANYMAIL_") and key != "ANYMAIL_PROVIDER"
    }
else:
    globals().update(email_settings(os.environ.get("EMAIL_URL", "file:")))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Aftercare <aftercare@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Internationalisation ---
LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files ---
STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if not DEBUG
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# --- Security headers ---
# Only these hosts may be framed: the exercise videos.
# MP4 files may be embedded from these hosts (the practice website, a CDN), besides SITE_URL.
VIDEO_MP4_HOSTS = envlist("VIDEO_MP4_HOSTS")
# Uploaded exercise videos (MEDIA_ROOT/videos/, served with byte ranges by views.media).
VIDEO_UPLOAD_MAX_MB = envint("VIDEO_UPLOAD_MAX_MB", 200)
# Production: nginx sends the video bytes (X-Accel-Redirect to this internal location,
# which aliases MEDIA_ROOT; deploy/nginx.conf). Empty: Python streams them (the default).
VIDEO_ACCEL_REDIRECT_PREFIX = os.environ.get("VIDEO_ACCEL_REDIRECT_PREFIX", "")
VIDEO_FRAME_HOSTS = ["https://www.youtube-nocookie.com", "https://player.vimeo.com"]
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        # YouTube's thumbnails on the Watch buttons (aftercare/videos.py); no Vimeo host:
        # its thumbnails need an API call, so Vimeo buttons show a plain tile.
        "img-src": ["'self'", "data:", "https://i.ytimg.com"],
        "media-src": ["'self'", "https:"],
        "frame-src": VIDEO_FRAME_HOSTS,
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        # The installable app: its service worker (/sw.js) and manifest, from here only.
        "worker-src": ["'self'"],
        "manifest-src": ["'self'"],
    }
}
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
if not DEBUG:
    SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # Load balancers and container health checks probe over plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

# --- Reminder channels besides email (docs/channels.md) ---
# Text messages: "file" writes each text to VAR_DIR/sms/ (the embedded default, like
# var/mail/), "twilio" sends through Twilio's REST API with the account below.
SMS_BACKEND = os.environ.get("SMS_BACKEND", "file")
SMS_FILE_PATH = os.environ.get("SMS_FILE_PATH", str(VAR_DIR / "sms"))
SMS_FROM = os.environ.get("SMS_FROM", "")  # a practice without its own sender uses this
TWILIO_ACCOUNT_SID = os.environ.get("TWILIO_ACCOUNT_SID", "")
TWILIO_AUTH_TOKEN = os.environ.get("TWILIO_AUTH_TOKEN", "")
# Only for tests and stand-ins: where the Twilio client sends its requests.
TWILIO_API_BASE = os.environ.get("TWILIO_API_BASE", "")
# Web push (VAPID, RFC 8292). Empty keys: one pair is generated once and kept in
# VAR_DIR/vapid.json (`manage.py vapid_keys` prints a pair for .env).
VAPID_PUBLIC_KEY = os.environ.get("VAPID_PUBLIC_KEY", "")
VAPID_PRIVATE_KEY = os.environ.get("VAPID_PRIVATE_KEY", "")
VAPID_SUBJECT = os.environ.get("VAPID_SUBJECT", "")  # mailto:you@practice or https://...
PUSH_TIMEOUT_SECONDS = envint("PUSH_TIMEOUT_SECONDS", 10)

# Rate limits (attempts per window). TRUSTED_PROXIES: how many reverse proxies stand
# in front of the web process (their X-Forwarded-For entries are believed).
TRUSTED_PROXIES = envint("TRUSTED_PROXIES", 0)
LOGIN_ATTEMPTS_PER_EMAIL = envint("LOGIN_ATTEMPTS_PER_EMAIL", 5)
LOGIN_ATTEMPTS_PER_IP = envint("LOGIN_ATTEMPTS_PER_IP", 30)
LOGIN_WINDOW_SECONDS = envint("LOGIN_WINDOW_SECONDS", 15 * 60)
NEW_LINK_PER_EMAIL = envint("NEW_LINK_PER_EMAIL", 3)
NEW_LINK_PER_IP = envint("NEW_LINK_PER_IP", 20)
NEW_LINK_WINDOW_SECONDS = envint("NEW_LINK_WINDOW_SECONDS", 3600)

# Tests and CI: when set, a test that needs PostgreSQL, Redis, a worker or Chromium
# fails instead of skipping, so a CI run proves those tests ran.
REQUIRE_SERVICES = envbool("REQUIRE_SERVICES", False)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
