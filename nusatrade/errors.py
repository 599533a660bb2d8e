"""The one error hierarchy of NusaTrade (pure: no Django imports).

    NusaTradeError
    ├── ConfigurationError   an operator must act (bad settings, missing secret, unsafe mode)
    ├── DataError            bad input: the message says file, row, column
    ├── BrokerError          the broker refused or failed
    │   └── TemporaryBrokerError   retryable (timeout, no connection, requote)
    ├── RiskLimitBreached    a risk rule or kill switch stops the action
    └── ServiceUnavailableError    a dependency (message broker, cache) is down: retry later
"""

from __future__ import annotations


class NusaTradeError(Exception):
    """Base class of every error NusaTrade raises on purpose."""


class ConfigurationError(NusaTradeError):
    """Misconfiguration that an operator must fix before the product can run safely."""


class DataError(NusaTradeError):
    """Bad input data. Build the message with where it happened: file, line/row, column."""

    def __init__(self, message: str, *, source: str | None = None, line: int | None = None,
                 column: str | None = None) -> None:
        self.source = source
        self.line = line
        self.column = column
        where = ", ".join(
            part for part in (
                source and f"file {source}",
                line is not None and f"line {line}",
                column and f"column {column}",
            ) if part
        )
        super().__init__(f"{where}: {message}" if where else message)
        self.reason = message


class BrokerError(NusaTradeError):
    """The broker refused or failed a request."""

    def __init__(self, message: str, *, retcode: int | None = None) -> None:
        self.retcode = retcode
        super().__init__(message if retcode is None else f"{message} (retcode {retcode})")


class TemporaryBrokerError(BrokerError):
    """A broker failure that may succeed when retried (timeout, no connection, requote)."""


class RiskLimitBreached(NusaTradeError):
    """A risk rule or kill switch forbids the action."""

    def __init__(self, rule: str, message: str) -> None:
        self.rule = rule
        super().__init__(f"{rule}: {message}")


class ServiceUnavailableError(NusaTradeError):
    """A dependency NusaTrade needs right now (the Celery message broker, a cache) cannot be
    reached or did not answer in time. Nothing was half-done: retry later (the API's 503)."""
