"""Configuration classes, chosen by the PORTAL_ENV environment variable."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSECURE_DEFAULT_KEY = "dev-only-not-secret"


class Config:
    ENV_NAME = "base"
    SECRET_KEY = os.environ.get("SECRET_KEY", INSECURE_DEFAULT_KEY)
    SQLALCHEMY_DATABASE_URI = os.environ.get(
        "DATABASE_URL", f"sqlite:///{ROOT / 'instance' / 'portal.db'}"
    )
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    SERVICE_NAME = "Direct payments"
    # Sessions: the cookie only carries a session id that the database checks on every request.
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    SESSION_IDLE_MINUTES = 30
    SESSION_WARNING_MINUTES = 25
    WTF_CSRF_TIME_LIMIT = 3600 * 8
    # Receipts are refused over 10 MB with a message; the request limit sits a little above that.
    MAX_CONTENT_LENGTH = 12 * 1024 * 1024
    # Card statement uploads have their own limit (bigger files go through the import command).
    CARD_IMPORT_MAX_CONTENT_LENGTH = int(os.environ.get("CARD_IMPORT_MAX_CONTENT_LENGTH", str(12 * 1024 * 1024)))
    # Uploaded receipts live here, outside static/ (a persistent volume in production).
    EVIDENCE_FOLDER = os.environ.get("EVIDENCE_FOLDER") or str(ROOT / "instance" / "evidence")
    # Virus scanning of every upload (portal/services/virus_scan.py): "clamd", "none" or "module:factory".
    # Production scans with clamd unless told otherwise; a scanner that cannot answer refuses the upload.
    VIRUS_SCANNER = os.environ.get("VIRUS_SCANNER", "clamd")
    CLAMD_SOCKET = os.environ.get("CLAMD_SOCKET", "/run/clamav/clamd.ctl")
    CLAMD_TIMEOUT = float(os.environ.get("CLAMD_TIMEOUT", "30"))
    # Sign-in throttling: failures only, counted in the database.
    THROTTLE_WINDOW_MINUTES = 15
    THROTTLE_ACCOUNT_FAILURES = 5
    THROTTLE_ADDRESS_FAILURES = 20
    PASSWORD_RESET_HOURS = 1
    INVITATION_DAYS = 7
    # Argon2 cost: the library's defaults in production; cheaper in tests so the suite stays fast.
    ARGON2_TIME_COST = 3
    ARGON2_MEMORY_COST = 65536
    # Email: to the log unless MAIL_SERVER is set.
    MAIL_SERVER = os.environ.get("MAIL_SERVER")
    MAIL_PORT = int(os.environ.get("MAIL_PORT", "587"))
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD")
    MAIL_USE_TLS = os.environ.get("MAIL_USE_TLS", "true").lower() == "true"
    MAIL_SENDER = os.environ.get("MAIL_SENDER", "no-reply@direct-payments.example")
    # Links in emails and reminders start with this (requests build their own from the Host header).
    PUBLIC_URL = os.environ.get("PUBLIC_URL", "http://127.0.0.1:5000")
    HSTS = False
    TRUST_PROXY_HOPS = int(os.environ.get("TRUST_PROXY_HOPS", "0"))
    TESTING = False


class DevelopmentConfig(Config):
    ENV_NAME = "development"
    DEBUG = False
    # `make run` starts a clamd and sets VIRUS_SCANNER=clamd; a bare `flask run` (or a benchmark) does not scan.
    VIRUS_SCANNER = os.environ.get("VIRUS_SCANNER", "none")


class TestConfig(Config):
    ENV_NAME = "test"
    TESTING = True
    SECRET_KEY = "test-secret-key"
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_COST = 8192
    # `make test` starts a clamd and sets VIRUS_SCANNER=clamd, so the whole suite scans through it;
    # a bare pytest does not (tests/test_virus_scan.py always uses a real daemon, starting its own).
    VIRUS_SCANNER = os.environ.get("VIRUS_SCANNER", "none")


class ProductionConfig(Config):
    ENV_NAME = "production"
    SESSION_COOKIE_SECURE = True
    HSTS = True

    @classmethod
    def check(cls) -> None:
        """Refuse to start with settings that would be unsafe in production."""
        key = os.environ.get("SECRET_KEY", "")
        if not key or key == INSECURE_DEFAULT_KEY or len(key) < 32:
            raise RuntimeError(
                "SECRET_KEY must be set to a random value of at least 32 characters in production "
                "(for example: python3 -c 'import secrets; print(secrets.token_hex(32))')."
            )
        if not os.environ.get("DATABASE_URL"):
            raise RuntimeError("DATABASE_URL must be set in production (a PostgreSQL URL).")
        if os.environ.get("VIRUS_SCANNER", "clamd").strip().lower() == "none":
            raise RuntimeError("VIRUS_SCANNER=none is not allowed in production: every upload must be scanned (clamd, or "
                               "another scanner as module:factory).")


CONFIGS = {
    "development": DevelopmentConfig,
    "test": TestConfig,
    "production": ProductionConfig,
}


def config_from_environment() -> type[Config]:
    name = os.environ.get("PORTAL_ENV", "development")
    if name not in CONFIGS:
        raise RuntimeError(f"PORTAL_ENV must be one of {', '.join(CONFIGS)}, not {name!r}.")
    config = CONFIGS[name]
    if config is ProductionConfig:
        ProductionConfig.check()
    return config
