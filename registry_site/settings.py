"""Settings for the model registry, read from the environment.

The defaults make an embedded registry that needs no server: SQLite, artifacts on
local disk and a file-system Celery broker, all under ``REGISTRY_DATA_DIR``.
Production sets ``DATABASE_URL``, ``CELERY_BROKER_URL`` and the secrets.
"""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from common import env, queues

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env.string("REGISTRY_DATA_DIR", str(BASE_DIR / "data"))).resolve()
# Settings only read: `python -m registry_site.prepare` (run by make and the
# launcher) creates the data folder's sub-folders and its secret key.


def _secret_key() -> str:
    """SECRET_KEY from the environment, or the one generated into DATA_DIR."""
    key = env.raw("DJANGO_SECRET_KEY") or env.raw("SECRET_KEY")
    if key:
        return key
    path = DATA_DIR / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        raise ImproperlyConfigured(
            f"No secret key: set DJANGO_SECRET_KEY, or run `python -m "
            f"registry_site.prepare` (make does) to generate {path}."
        ) from None


SECRET_KEY = _secret_key()
DEBUG = env.boolean("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env.strings("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.strings("DJANGO_CSRF_TRUSTED_ORIGINS", [])

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
    "demo",
    "accounts",
    "catalog",
    "approvals",
    "deployments",
    "webhooks",
    "pages",
    "sagemaker_api",
    "mlflow_api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "common.middleware.ContentSecurityPolicyMiddleware",
    "common.middleware.DatabaseUnavailableMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "registry_site.urls"
WSGI_APPLICATION = "registry_site.wsgi.application"

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
                "pages.context_processors.registry",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------
DATABASES = {
    "default": env.database(
        env.string("DATABASE_URL"), sqlite_default=DATA_DIR / "registry.sqlite3"
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

# --- Static files and artifacts --------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]

ARTIFACT_ROOT = Path(env.string("REGISTRY_ARTIFACT_DIR", str(DATA_DIR / "artifacts")))
S3_BUCKET = env.string("REGISTRY_S3_BUCKET")
if S3_BUCKET:
    _artifacts = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": S3_BUCKET,
            "endpoint_url": env.string("REGISTRY_S3_ENDPOINT_URL") or None,
            "region_name": env.string("REGISTRY_S3_REGION") or None,
            "access_key": env.string("REGISTRY_S3_ACCESS_KEY_ID") or None,
            "secret_key": env.string("REGISTRY_S3_SECRET_ACCESS_KEY") or None,
            "location": env.string("REGISTRY_S3_PREFIX", "artifacts"),
            "file_overwrite": False,
            "default_acl": None,
            "querystring_auth": True,
        },
    }
else:
    _artifacts = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": ARTIFACT_ROOT, "base_url": None},
    }
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "artifacts": _artifacts,
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
MEDIA_ROOT = DATA_DIR / "media"

# Uploads stream to a temporary file while being hashed; nothing large is held in
# memory. Non-file form fields stay under DATA_UPLOAD_MAX_MEMORY_SIZE.
FILE_UPLOAD_HANDLERS = ["catalog.uploads.HashingUploadHandler"]
FILE_UPLOAD_TEMP_DIR = str(DATA_DIR / "uploads")
DATA_UPLOAD_MAX_MEMORY_SIZE = env.size("REGISTRY_MAX_FIELDS_SIZE", 10 * 1024 * 1024)
# A folder artifact (an MLflow model) is uploaded as one part per file.
DATA_UPLOAD_MAX_NUMBER_FILES = 1002
REGISTRY_MAX_ARTIFACT_SIZE = env.size("REGISTRY_MAX_ARTIFACT_SIZE", 2 * 1024**3)
# Artifacts above this size are validated in a child process so that parsing a
# large model never inflates the web process.
REGISTRY_INPROCESS_CHECK_MAX = env.size("REGISTRY_INPROCESS_CHECK_MAX", 32 * 1024**2)
# Larger artifacts are only identified while the client waits (empty, unknown and
# untrusted pickle files are still refused at once); the version is registered
# Pending and a worker checks the whole file: Ready, or Failed with the reason.
REGISTRY_INLINE_CHECK_MAX = env.size("REGISTRY_INLINE_CHECK_MAX", 4 * 1024**2)
# Lease of a deferred check, renewed while the worker runs it.
REGISTRY_CHECK_LEASE = env.integer("REGISTRY_CHECK_LEASE", 30, minimum=3)
# Types a skops file may name beyond skops' defaults and the registry's own list
# (modelformats.formats.SKOPS_EXTRA_TRUSTED), comma-separated.
REGISTRY_SKOPS_TRUSTED_TYPES = env.strings("REGISTRY_SKOPS_TRUSTED_TYPES", [])

# --- REST API ---------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.permissions.HasAnyRole"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "common.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "common.errors.exception_handler",
    "DEFAULT_PARSER_CLASSES": [
        "common.jsonsafe.SafeJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Model Registry API",
    "DESCRIPTION": "Catalog, version, approve and deploy machine-learning models.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["accounts.permissions.HasAnyRole"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- Celery -----------------------------------------------------------------------
# The database is the source of truth; the broker is only a doorbell. Timeouts keep
# a web request from hanging on a broker that is down or frozen.
CELERY_BROKER_URL = env.string("CELERY_BROKER_URL", "filesystem://localhost//")
_broker_dir = DATA_DIR / "broker"
CELERY_BROKER_TRANSPORT: str | None = None  # kombu's choice from the URL's scheme
if CELERY_BROKER_URL.startswith("filesystem://"):
    # kombu's file-system transport with whole-message writes (common.broker).
    CELERY_BROKER_TRANSPORT = "common.broker:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
        "control_folder": str(_broker_dir / "control"),
        # The default (1 s) would let one message through per second.
        "polling_interval": 0.1,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "socket_timeout": 5,
        "socket_connect_timeout": 5,
        "visibility_timeout": env.integer("CELERY_VISIBILITY_TIMEOUT", 3600, minimum=1),
        "max_retries": 2,
    }
CELERY_TASK_DEFAULT_QUEUE = env.string("CELERY_QUEUE", queues.DEFAULT)
# Deployments, webhooks and e-mail each on a queue of their own (common.queues).
CELERY_TASK_ROUTES = queues.routes(CELERY_TASK_DEFAULT_QUEUE)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env.integer("CELERY_TASK_TIME_LIMIT", 600, minimum=1)
CELERY_TASK_SOFT_TIME_LIMIT = env.integer("CELERY_TASK_SOFT_TIME_LIMIT", 540, minimum=1)
CELERY_BROKER_CONNECTION_TIMEOUT = 5
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.5,
    "interval_max": 1,
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
# The reconcilers: anything the broker lost is found again in the database.
CELERY_BEAT_SCHEDULE = {
    "sweep-outbox": {"task": "catalog.sweep_outbox", "schedule": 10.0},
    "sweep-notifications": {"task": "approvals.sweep_notifications", "schedule": 30.0},
    "expire-approvals": {"task": "approvals.expire_approvals", "schedule": 300.0},
    "reconcile-deployments": {"task": "deployments.reconcile", "schedule": 5.0},
    "worker-heartbeat": {"task": "deployments.heartbeat", "schedule": 5.0},
    "sweep-webhooks": {"task": "webhooks.sweep", "schedule": 5.0},
    "sweep-artifacts": {"task": "catalog.sweep_artifacts", "schedule": 600.0},
    "sweep-checks": {"task": "catalog.sweep_checks", "schedule": 15.0},
    "sweep-imports": {"task": "catalog.sweep_imports", "schedule": 60.0},
    "sweep-evaluations": {"task": "catalog.sweep_evaluations", "schedule": 15.0},
}

# --- Registry-computed evaluation ---------------------------------------------------
# Evaluation sets: upload size and row limits (rows travel to the model's child
# process as JSON).
REGISTRY_EVALUATION_MAX_SIZE = env.size("REGISTRY_EVALUATION_MAX_SIZE", 50 * 1024**2)
REGISTRY_EVALUATION_MAX_ROWS = env.integer(
    "REGISTRY_EVALUATION_MAX_ROWS", 100_000, minimum=1
)
# The child process that predicts an evaluation set: wall time and memory.
REGISTRY_EVALUATION_TIMEOUT = env.number(
    "REGISTRY_EVALUATION_TIMEOUT", 300.0, minimum=0.01
)
REGISTRY_EVALUATION_MEMORY = env.size("REGISTRY_EVALUATION_MEMORY", 4 * 1024**3)
REGISTRY_EVALUATION_LEASE = env.integer("REGISTRY_EVALUATION_LEASE", 30, minimum=3)
# A reported metric further than this (absolute) from its computed twin is flagged.
REGISTRY_METRIC_TOLERANCE = env.number("REGISTRY_METRIC_TOLERANCE", 0.01, minimum=0.0)

# --- Deployments and serving ------------------------------------------------------
# How model children are confined: the first usable of Landlock and bubblewrap
# (auto), one of them (the service refuses to start where it is missing), or none.
REGISTRY_SANDBOX = env.choice(
    "REGISTRY_SANDBOX", "auto", ("auto", "landlock", "bubblewrap", "none")
)
# Formats served from a limited child although they are data, so that a call over
# REGISTRY_INVOCATION_TIMEOUT can be stopped (scikit-learn cannot be interrupted in
# the process; pickle and joblib always run in a child).
REGISTRY_SERVING_CHILD_FORMATS = env.strings(
    "REGISTRY_SERVING_CHILD_FORMATS", ["skops"]
)
REGISTRY_LOADER_TIMEOUT = env.number("REGISTRY_LOADER_TIMEOUT", 120.0, minimum=0.01)
REGISTRY_LOADER_MEMORY = env.size("REGISTRY_LOADER_MEMORY", 4 * 1024**3)
# Lease of a running deployment, renewed every third of it while its worker runs it:
# a killed worker's deployment is taken over once it runs out.
REGISTRY_DEPLOY_LEASE = env.integer("REGISTRY_DEPLOY_LEASE", 30, minimum=3)
# /readyz calls the worker "stale" when its last heartbeat (every 5 s) is older.
REGISTRY_WORKER_HEARTBEAT_STALE = env.number(
    "REGISTRY_WORKER_HEARTBEAT_STALE", 30.0, minimum=1.0
)
REGISTRY_DEPLOY_STALE_QUEUED = env.integer(
    "REGISTRY_DEPLOY_STALE_QUEUED", 10, minimum=1
)
REGISTRY_MAX_INVOCATION_SIZE = env.size("REGISTRY_MAX_INVOCATION_SIZE", 5 * 1024**2)
# Per invocation: the values an input may hold (counted before any array is built)
# and the seconds a model may take (ONNX runs are stopped there; 0: no limit).
REGISTRY_INVOCATION_MAX_ELEMENTS = env.integer(
    "REGISTRY_INVOCATION_MAX_ELEMENTS", 1_000_000, minimum=1
)
REGISTRY_INVOCATION_TIMEOUT = env.number(
    "REGISTRY_INVOCATION_TIMEOUT", 10.0, minimum=0.0
)
# Models a web or serving process keeps loaded, least recently used out first (0: no
# limit); an evicted model loads again, its digest checked, on its next request.
REGISTRY_SERVING_MAX_MODELS = env.integer("REGISTRY_SERVING_MAX_MODELS", 32, minimum=0)
REGISTRY_SERVING_MAX_BYTES = env.size("REGISTRY_SERVING_MAX_BYTES", 2 * 1024**3)
# How long a web process trusts its idea of an endpoint's live version.
REGISTRY_SERVING_REFRESH = env.number("REGISTRY_SERVING_REFRESH", 0.5, minimum=0.0)
# Serving processes learn of live-version switches and token revocations from a bell
# (a file in the data folder, checked every REGISTRY_SERVING_BELL_INTERVAL seconds,
# and Redis pub/sub when REGISTRY_CACHE_URL is set); each writes what it serves every
# REGISTRY_SERVING_STATUS_INTERVAL seconds for /readyz and the endpoint page.
REGISTRY_SERVING_BELL_INTERVAL = env.number(
    "REGISTRY_SERVING_BELL_INTERVAL", 0.02, minimum=0.001
)
REGISTRY_SERVING_STATUS_INTERVAL = env.number(
    "REGISTRY_SERVING_STATUS_INTERVAL", 2.0, minimum=0.1
)
# Seconds a web process remembers a token's user, roles and scopes (0: never);
# revocation still takes effect at once, except on the invocation path, which trusts
# a remembered token for REGISTRY_INVOKE_AUTH_CACHE seconds.
REGISTRY_AUTH_CACHE = env.number("REGISTRY_AUTH_CACHE", 10.0, minimum=0.0)
# Seconds a web process remembers a token on the invocation path (0: never).
REGISTRY_INVOKE_AUTH_CACHE = env.number("REGISTRY_INVOKE_AUTH_CACHE", 5.0, minimum=0.0)
REGISTRY_OUTBOUND_ALLOW = env.strings("REGISTRY_OUTBOUND_ALLOW", [])
# Webhook deliveries: first retry after BACKOFF seconds, doubling, until WINDOW ends.
REGISTRY_WEBHOOK_BACKOFF = env.number("REGISTRY_WEBHOOK_BACKOFF", 10.0, minimum=0.0)
REGISTRY_WEBHOOK_RETRY_WINDOW = env.integer(
    "REGISTRY_WEBHOOK_RETRY_WINDOW", 86400, minimum=1
)
REGISTRY_WEBHOOK_TIMEOUT = env.number("REGISTRY_WEBHOOK_TIMEOUT", 10.0, minimum=0.1)
REGISTRY_SAGEMAKER_REGION = env.string("REGISTRY_SAGEMAKER_REGION", "us-east-1")
REGISTRY_SAGEMAKER_ACCOUNT = env.string("REGISTRY_SAGEMAKER_ACCOUNT", "000000000000")
# Encrypts the stored secrets of access keys (SigV4 needs them back); derived from
# SECRET_KEY when unset. Changing it invalidates every access key issued before.
REGISTRY_ACCESS_KEY_ENCRYPTION_KEY = env.raw("REGISTRY_ACCESS_KEY_ENCRYPTION_KEY") or ""
# Buckets whose objects a SageMaker ModelDataUrl may name for the registry to copy
# (with its own S3 credentials, when its artifact storage is S3); any other URL is
# recorded as text and never fetched.
REGISTRY_SAGEMAKER_IMPORT_BUCKETS = env.strings("REGISTRY_SAGEMAKER_IMPORT_BUCKETS", [])
# Where MLflow model folders may be imported from: tracking server base URLs
# (``https://mlflow.example.com``; their REST API and ``mlflow-artifacts`` proxy)
# and ``s3://bucket/prefix`` locations (read with the registry's own S3
# credentials). Any other ``source`` is recorded as text and never fetched.
REGISTRY_MLFLOW_IMPORT_SOURCES = env.strings("REGISTRY_MLFLOW_IMPORT_SOURCES", [])
REGISTRY_MLFLOW_IMPORT_TIMEOUT = env.number(
    "REGISTRY_MLFLOW_IMPORT_TIMEOUT", 30.0, minimum=0.1
)
# How far a SigV4 request's X-Amz-Date may be from the server's clock (seconds).
REGISTRY_SAGEMAKER_CLOCK_SKEW = env.integer(
    "REGISTRY_SAGEMAKER_CLOCK_SKEW", 900, minimum=1
)
REGISTRY_PUBLIC_URL = env.string("REGISTRY_PUBLIC_URL", "http://127.0.0.1:8000").rstrip(
    "/"
)
# The Ray cluster of endpoints whose target is ``ray`` (an endpoint may name its own):
# the dashboard (Serve's REST API) and Serve's HTTP proxy.
REGISTRY_RAY_DASHBOARD_URL = env.string(
    "REGISTRY_RAY_DASHBOARD_URL", "http://127.0.0.1:8265"
).rstrip("/")
REGISTRY_RAY_SERVE_URL = env.string("REGISTRY_RAY_SERVE_URL", "http://127.0.0.1:8000")
REGISTRY_RAY_SERVE_URL = REGISTRY_RAY_SERVE_URL.rstrip("/")
# Seconds a deployment waits for Ray to report its application RUNNING.
REGISTRY_RAY_DEPLOY_TIMEOUT = env.number(
    "REGISTRY_RAY_DEPLOY_TIMEOUT", 120.0, minimum=1
)
# Seconds the signed artifact URL handed to Ray replicas stays valid (a replica Ray
# starts again later downloads the artifact again).
REGISTRY_RAY_ARTIFACT_URL_TTL = env.integer(
    "REGISTRY_RAY_ARTIFACT_URL_TTL", 30 * 86400, minimum=60
)


def _signing_key() -> str:
    """The attestation signing key (PEM, Ed25519 or ECDSA P-256):
    REGISTRY_SIGNING_KEY (or REGISTRY_SIGNING_KEY_FILE), else the one generated into
    DATA_DIR. Empty when there is none: approving then says how to make one."""
    key = env.raw("REGISTRY_SIGNING_KEY")
    if key:
        return key
    try:
        return (DATA_DIR / "signing_key.pem").read_text()
    except FileNotFoundError:
        return ""


REGISTRY_SIGNING_KEY = _signing_key()

# --- Security ---------------------------------------------------------------------
# REGISTRY_HTTPS=true declares that the registry is served over HTTPS (directly or
# behind a proxy that sets X-Forwarded-Proto); it turns on secure cookies and HSTS.
HTTPS = env.boolean("REGISTRY_HTTPS", False)
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS and env.boolean("REGISTRY_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = env.integer("REGISTRY_HSTS_SECONDS", 31536000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS and env.boolean("REGISTRY_HSTS_PRELOAD", True)
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https")
    if env.boolean("REGISTRY_BEHIND_PROXY")
    else None
)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# --- Cache and rate limits ------------------------------------------------------
# Rate-limit counters live in Django's cache: in-process memory by default (each
# web process then counts on its own), Redis shared by all processes when
# REGISTRY_CACHE_URL is set. Short timeouts: a stuck cache must not hang requests.
CACHE_URL = env.string("REGISTRY_CACHE_URL")
if CACHE_URL.startswith(("redis://", "rediss://", "unix://")):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": "registry",
            "OPTIONS": {"socket_timeout": 1, "socket_connect_timeout": 1},
        }
    }
elif CACHE_URL:
    raise env.ConfigError(f"REGISTRY_CACHE_URL={CACHE_URL!r}: use a redis:// URL")
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


def _rate(name: str, default: str) -> str | None:
    """``N/s``, ``N/m``, ``N/h`` or ``N/d`` (failures or requests per period), or
    ``off``."""
    value = env.string(name, default).strip().lower()
    if value in ("", "off", "none"):
        return None
    count, _, period = value.partition("/")
    if not count.isdigit() or int(count) < 1 or period not in ("s", "m", "h", "d"):
        raise env.ConfigError(f"{name}={value!r}: use N/s, N/m, N/h, N/d or off")
    return value


REGISTRY_RATE_LIMITS = {
    # Failed sign-ins (login page and admin) per account and per client address.
    "sign_in_account": _rate("REGISTRY_RATE_SIGN_IN_ACCOUNT", "10/h"),
    "sign_in_address": _rate("REGISTRY_RATE_SIGN_IN_ADDRESS", "50/h"),
    # Failed token authentications per client address.
    "failed_token": _rate("REGISTRY_RATE_FAILED_TOKEN", "60/m"),
    # Invocations per token; off unless set (serving capacity differs per model).
    "invocation": _rate("REGISTRY_RATE_INVOCATION", "off"),
}
AUTHENTICATION_BACKENDS = ["accounts.backends.ThrottledModelBackend"]
# The client address: REMOTE_ADDR, or behind N trusted proxies the address they put
# in X-Forwarded-For (never a client-sent header when not behind a proxy).
REST_FRAMEWORK["NUM_PROXIES"] = env.integer(
    "REGISTRY_NUM_PROXIES", 1 if env.boolean("REGISTRY_BEHIND_PROXY") else 0, minimum=0
)

# --- Mail and logging ------------------------------------------------------------
EMAIL_BACKEND = env.string(
    "EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend"
)
EMAIL_HOST = env.string("EMAIL_HOST", "localhost")
EMAIL_PORT = env.integer("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env.string("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env.string("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env.boolean("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = env.string("DEFAULT_FROM_EMAIL", "registry@localhost")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.string("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
