"""Helpers for tests that must start a fresh Python process with a given environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# A valid production configuration: random-looking, distinct, long keys; exact hosts.
GOOD_SECRET = "q8Vn3LrT0xK7wPz2Ym5sJd9Hc4Fb6Ng1Ru8Ea3Wt7Zk0Qp5Lm2Xv9Bh4Cy6Dj1Gs"
GOOD_JWT_KEY = "Z3mK8vQ1xR6tW0pL9sN4bY7cJ2hF5gD8aE1uT6iO3kM0nB9vC4xZ7qW2eR5tY8uP"
PRODUCTION_ENV = {
    "NUSATRADE_ENV": "production",
    "SECRET_KEY": GOOD_SECRET,
    "JWT_SIGNING_KEY": GOOD_JWT_KEY,
    "ALLOWED_HOSTS": "trade.nusatrade.test",
    "CORS_ALLOWED_ORIGINS": "https://app.nusatrade.test",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/nusatrade_prodcheck",
    "REDIS_URL": "redis://127.0.0.1:6379/9",
    "METRICS_TOKEN": "Mt9Qx7Lp2Vz9Rk4Hs8Jd1Wc6Ny3Bf5Gt0Am",  # /metrics protected (W017)
}
_CONFIG_KEYS = (
    "NUSATRADE_ENV", "SECRET_KEY", "JWT_SIGNING_KEY", "ALLOWED_HOSTS", "CORS_ALLOWED_ORIGINS",
    "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "DEBUG",
    "SENTRY_DSN", "REQUIRE_SERVICES", "DJANGO_SETTINGS_MODULE",
)


def clean_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _CONFIG_KEYS}
    env.update(overrides)
    return env


def run_python(code: str, env: dict[str, str], timeout: int = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def run_manage(*args: str, env: dict[str, str], timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
