"""Live bars: fetch the latest CLOSED bars from an account's broker and store them.

It sits with the brokers (the trading layer), not in ``marketdata``: ``marketdata`` never
imports a broker; this module asks the broker and hands the bars to ``marketdata``'s storage
service (``bars_upsert``). ``bars_fetch_live`` is the service behind the ``fetch_bars`` Celery
task (still named ``marketdata.fetch_bars``, so existing beat schedules keep working) and
management command. Idempotent: ``bars_upsert`` inserts new bars, leaves identical ones and
reports (never overwrites) differing ones. A still-forming bar is never stored: the brokers
do not return one, and the bars are checked against the clock again here before anything is
written.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from marketdata import timeframes
from marketdata.services import bars_upsert, instrument_get
from nusatrade.errors import DataError
from trading.brokers import broker_for
from trading.brokers.base import BrokerClient, Clock, check_bars, utc_now, validate_count

if TYPE_CHECKING:
    from accounts.models import TradingAccount

logger = logging.getLogger("nusatrade.trading.livebars")


@dataclass(frozen=True)
class LiveFetchResult:
    account_id: int
    symbol: str
    timeframe: str
    broker: str
    synthetic: bool
    fetched: int
    first: datetime | None
    last: datetime | None
    inserted: int
    unchanged: int
    conflicts: int

    def summary(self) -> str:
        span = (f"{self.first:%Y-%m-%d %H:%M}..{self.last:%Y-%m-%d %H:%M} UTC"
                if self.first is not None and self.last is not None else "no closed bars")
        kind = "SYNTHETIC paper feed" if self.synthetic else "broker feed"
        return (f"{self.symbol} {self.timeframe} from {self.broker} ({kind}), account "
                f"{self.account_id}: {self.fetched} closed bars {span}: inserted "
                f"{self.inserted}, unchanged {self.unchanged}, conflicts {self.conflicts}")

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe (the Celery task's result)."""
        values = dict(self.__dict__)
        for key in ("first", "last"):
            values[key] = values[key].isoformat() if values[key] is not None else None
        return values


def bars_fetch_live(account: TradingAccount, symbol: str, timeframe: str, count: int = 500, *,
                    broker: BrokerClient | None = None,
                    clock: Clock | None = None) -> LiveFetchResult:
    """Fetch up to ``count`` latest closed bars of ``symbol``/``timeframe`` and store them.

    ``broker`` replaces ``broker_for(account)`` (it is then not closed here); ``clock`` is the
    time used to build the broker and to re-check that every bar has closed.
    """
    tf = timeframes.get(timeframe)
    count = validate_count(count)
    instrument = instrument_get(symbol)
    clock = clock or utc_now
    client = broker or broker_for(account, clock=clock)
    try:
        frame = client.latest_closed_bars(instrument.symbol, tf.name, count)
    finally:
        if broker is None:
            client.close()
    check_bars(frame, tf.name, clock())
    if client.synthetic:
        _refuse_synthetic_into_real_series(instrument, tf.name)
    result = bars_upsert(instrument.symbol, tf.name, frame, synthetic=client.synthetic)
    if len(result.conflicts):
        logger.warning("%s %s from %s: %d fetched bars differ from stored ones (kept stored)",
                       instrument.symbol, tf.name, client.name, len(result.conflicts))
    first, last = (_when(frame.index[0]), _when(frame.index[-1])) if len(frame) else (None, None)
    return LiveFetchResult(
        account_id=account.pk, symbol=instrument.symbol, timeframe=tf.name, broker=client.name,
        synthetic=client.synthetic, fetched=len(frame), first=first, last=last,
        inserted=result.inserted, unchanged=result.unchanged, conflicts=len(result.conflicts),
    )


def _refuse_synthetic_into_real_series(instrument, timeframe: str) -> None:
    """A paper feed invents its continuation: it must never extend a series of real bars.

    Otherwise invented bars would sit among real ones, feed training and backtests, and turn
    a later real import for those times into "conflicts with stored bar".
    """
    from marketdata.models import Bar

    if Bar.objects.filter(instrument=instrument, timeframe=timeframe, synthetic=False).exists():
        raise DataError(
            f"{instrument.symbol} {timeframe} holds real (imported or broker) bars; the paper "
            "feed is synthetic and will not be mixed into it. Use an MT5 account for live bars "
            "of this series, or generate the paper demo on a separate symbol.")


def _when(stamp: pd.Timestamp) -> datetime:
    return stamp.to_pydatetime()
