"""Django's LOGGING for settings.py (pure: no Django or Celery imports, see nusatrade/logs.py)."""

from __future__ import annotations

APP_LOGGERS = ("nusatrade", "accounts", "trading", "marketdata", "mlops", "backtests",
               "operations", "celery")


def logging_config(log_format: str, level: str) -> dict:
    """Django's LOGGING: ``json`` (one object a line, production) or ``plain``."""
    formatters = {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [req=%(request_id)s "
                            "task=%(task_id)s]: %(message)s"},
        "json": {"()": "pythonjsonlogger.json.JsonFormatter",
                 "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s "
                        "%(task_id)s %(task_name)s %(process)d",
                 "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"}},
    }
    handler = {"class": "logging.StreamHandler", "formatter": log_format,
               "filters": ["context"]}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": "nusatrade.logs.ContextFilter"}},
        "formatters": formatters,
        "handlers": {"console": handler},
        "root": {"handlers": ["console"], "level": "WARNING"},
        "loggers": {name: {"level": level, "handlers": ["console"], "propagate": False}
                    for name in APP_LOGGERS},
    }
