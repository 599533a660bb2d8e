"""Brokers: the one place that talks to a broker. ``broker_for(account)`` picks the client.

Paper is the default. MT5 is used only when the account says ``broker="mt5"`` AND the
deployment enables it (``MT5_ENABLED``); an MT5 account on a deployment without MT5 is a
ConfigurationError, never a silent fallback to paper. The ``MetaTrader5`` package is imported
only here, lazily, and only then.

``MT5_MODULE`` names the module: ``MetaTrader5`` (Windows) or a bridge class such as
``mt5linux:MetaTrader5``, which is instantiated with ``MT5_BRIDGE_HOST``/``MT5_BRIDGE_PORT``.
mt5linux serves rpyc's classic mode (whoever reaches the port runs any code on the terminal's
machine), so the host must be loopback or a private address (a VPN or SSH tunnel): anything
else is a ConfigurationError.

Importing this package imports neither Django nor pandas: the exported classes load on first
use (PEP 562 ``__getattr__``), so a Django model that needs a paper-broker constant does not
drag pandas into ``django.setup()`` (tests/test_startup.py). ``broker_for`` imports Django.
"""

from __future__ import annotations

import importlib
import ipaddress
import socket
from typing import TYPE_CHECKING, Any

from nusatrade.errors import ConfigurationError
from nusatrade.lazy import lazy_exports

if TYPE_CHECKING:
    import pandas as pd

    from accounts.models import TradingAccount
    from trading.brokers.base import BrokerClient, Clock, InstrumentSpec
    from trading.brokers.mt5 import MT5Broker
    from trading.brokers.paper import PaperBroker

_LAZY = {
    "BrokerClient": "trading.brokers.base",
    "InstrumentSpec": "trading.brokers.base",
    "MT5Broker": "trading.brokers.mt5",
    "PaperBroker": "trading.brokers.paper",
}


__getattr__ = lazy_exports(__name__, _LAZY)

__all__ = [
    "BrokerClient",
    "InstrumentSpec",
    "MT5Broker",
    "PaperBroker",
    "broker_for",
    "load_mt5_module",
    "mt5_enabled",
    "stored_history",
]

PAPER = "paper"
MT5 = "mt5"


def _setting(name: str, default: Any) -> Any:
    from django.conf import settings

    return getattr(settings, name, default)


def mt5_enabled() -> bool:
    return bool(_setting("MT5_ENABLED", False))


def load_mt5_module() -> Any:
    """Import the configured MetaTrader5-compatible module (``MT5_MODULE``, "pkg.mod" or
    "pkg.mod:attribute")."""
    target = str(_setting("MT5_MODULE", "MetaTrader5"))
    module_name, _, attribute = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigurationError(f"MT5_MODULE {module_name!r} cannot be imported here ({exc}); "
                                 "the MetaTrader5 package exists for Windows only") from None
    target_object = getattr(module, attribute) if attribute else module
    if isinstance(target_object, type):      # a bridge class (mt5linux.MetaTrader5)
        host = validate_bridge_host(str(_setting("MT5_BRIDGE_HOST", "127.0.0.1")))
        return target_object(host=host, port=int(_setting("MT5_BRIDGE_PORT", 18812)))
    return target_object


def validate_bridge_host(host: str) -> str:
    """``host`` if it is, and every address it resolves to is, loopback or private
    (RFC 1918, unique-local IPv6, link-local)."""
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            addresses = [ipaddress.ip_address(info[4][0].split("%")[0])
                         for info in socket.getaddrinfo(host, None)]
        except (OSError, ValueError):
            raise ConfigurationError(f"MT5_BRIDGE_HOST {host!r} does not resolve") from None
    if not all(a.is_loopback or a.is_private for a in addresses):
        raise ConfigurationError(
            f"MT5_BRIDGE_HOST {host!r} is a public address: the mt5linux port gives whoever "
            "reaches it full control of the terminal; keep it on loopback or a private tunnel")
    return host


def stored_history(symbol: str, timeframe: str, until: pd.Timestamp, count: int) -> pd.DataFrame:
    """The most recent stored bars at or before ``until`` (the paper broker's history)."""
    import pandas as pd

    from marketdata import selectors
    from trading.brokers.base import empty_bars

    _first, last, stored = selectors.bars_range(symbol, timeframe)
    if not stored or last is None:
        return empty_bars()
    end = min(pd.Timestamp(last), until)
    delta = pd.Timedelta(minutes=_minutes(timeframe))
    # count bars of trading time, stretched for weekends and holidays.
    start = end - delta * int(count * 1.5 + 10) - pd.Timedelta(days=10)
    frame = selectors.load_bars(symbol, timeframe, start=start, end=end)
    return frame[frame.index <= until]


def _minutes(timeframe: str) -> int:
    from marketdata import timeframes

    return timeframes.get(timeframe).minutes


def _paper_broker(account: TradingAccount, clock: Clock) -> PaperBroker:
    """The paper broker trading ``account``'s paper book (created on first use from the
    account's initial balance, currency and leverage)."""
    from trading.brokers.paper import PaperBroker
    from trading.models import Instrument
    from trading.paper.services import paper_account_ensure
    from trading.paper.store import DatabaseStore
    from trading.pnl import InstrumentSpec

    specs = {i.symbol: InstrumentSpec.from_instrument(i) for i in Instrument.objects.all()}
    store = DatabaseStore(paper_account_ensure(account).pk)
    return PaperBroker(specs, history=stored_history, clock=clock, store=store)


def _mt5_broker(account: TradingAccount, clock: Clock, module: Any | None) -> MT5Broker:
    if not mt5_enabled():
        raise ConfigurationError(f"account {account.pk} uses MT5 but MT5_ENABLED is off on this "
                                 "deployment")
    missing = [name for name in ("broker_login", "broker_server", "password_env_var")
               if not getattr(account, name)]
    if missing:
        raise ConfigurationError(f"account {account.pk} uses MT5 but lacks {', '.join(missing)}")
    from trading.brokers.mt5 import MT5Broker

    return MT5Broker(
        module if module is not None else load_mt5_module(), account.broker_login,
        account.broker_server, account.broker_password,
        path=_setting("MT5_TERMINAL_PATH", "") or None,
        timeout_ms=int(_setting("MT5_TIMEOUT_MS", 60_000)),
        server_timezone=str(_setting("MT5_SERVER_TIMEZONE", "UTC")), clock=clock,
        max_attempts=int(_setting("MT5_ORDER_ATTEMPTS", 4)),
        backoff_s=float(_setting("MT5_ORDER_BACKOFF_S", 0.25)),
    )


def broker_for(account: TradingAccount, *, clock: Clock | None = None,
               mt5_module: Any | None = None) -> BrokerClient:
    """The broker client for ``account`` (paper unless the account and deployment say MT5).

    ``mt5_module`` replaces the configured module (the simulator, in tests and drills).
    """
    from trading.brokers.base import utc_now

    kind = account.broker
    if kind == PAPER:
        return _paper_broker(account, clock or utc_now)
    if kind == MT5:
        return _mt5_broker(account, clock or utc_now, mt5_module)
    raise ConfigurationError(f"account {account.pk}: unknown broker {kind!r}")
