"""Automatic stops: the seed's "stop trading immediately if" list, enforced by the machine.

:func:`stops_enforce` runs the SHARED pure rules of ``trading.risk`` (the backtester's
``CLOSE_RULES``: daily loss, consecutive losses, profit factor, win rate, drawdown; no
threshold is repeated here) on the account's closed positions from the database
(``trading.services.gate.risk_state_build``) and engages the ACCOUNT kill switch, with the
rule's name and figures, when one trips. The daily-loss stop carries ``release_at`` = the end
of the rule's day (``Halt.until``: the next UTC midnight, the same convention as the rule), so
``kill_switches_expire`` lifts it; the others hold until someone releases them.

"Repeated critical errors in the trading path": :func:`trading_error_record` stores each error
as a ``TradingError`` row (a database count survives a restart of every worker, which a
per-process counter would not); ``KILL_SWITCH_ERRORS_MAX`` of them within
``KILL_SWITCH_ERRORS_WINDOW_MINUTES`` engage the account's switch (rule ``critical_errors``)
and are reported to Sentry (a no-op when Sentry is not configured).

A released stop starts afresh: the rules judge only what closed (or failed) after the release
(``KillSwitch.reset_after``), as ``trading.risk.release`` does in the backtester.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Max

from accounts.models import TradingAccount
from nusatrade.errors import DataError
from trading.models import KillSwitch, KillSwitchScope, TradingError
from trading.risk import FOREVER, Halt, RiskState
from trading.risk.rules import CLOSE_RULES
from trading.services.gate import risk_config_for, risk_state_build
from trading.services.killswitches import ERRORS_RULE, engaged_for, kill_switch_engage

logger = logging.getLogger("nusatrade.trading")

STOPS_ACTOR = "system:risk"
__all__ = ["ERRORS_RULE", "STOPS_ACTOR", "errors_enforce", "stops_enforce",
           "stops_enforce_quietly", "trading_error_record"]


def stops_enforce(account_id: int, *, now: datetime,
                  actor: Any = STOPS_ACTOR) -> list[KillSwitch]:
    """Engage the account's switch if a rule trips at ``now``; returns the switches this call
    engaged (empty: nothing tripped, or the account's switch was engaged already)."""
    account = _account(account_id)
    if engaged_for(KillSwitchScope.ACCOUNT, account_id=account.pk) is not None:
        return []   # latched already: one engaged switch per account (a DB constraint)
    engaged = []
    switch = _risk_enforce(account, now, actor)
    if switch is not None:
        engaged.append(switch)
    else:
        switch = errors_enforce(account.pk, now=now, actor=actor)
        if switch is not None:
            engaged.append(switch)
    return engaged


def stops_enforce_quietly(account_id: int, *, now: datetime) -> list[KillSwitch]:
    """:func:`stops_enforce` after a position closed: a failure here is logged, never raised
    into the close that already happened at the broker and in the database."""
    try:
        return stops_enforce(account_id, now=now)
    except Exception:
        logger.exception("automatic stops of account %s failed after a close", account_id)
        return []


def _risk_enforce(account: TradingAccount, now: datetime, actor: Any) -> KillSwitch | None:
    config = risk_config_for(account)
    state = risk_state_build(account, config, now)
    halts = [halt for rule in CLOSE_RULES if (halt := rule.check(config, state, now))]
    if not halts:
        return None
    # Several at once: the longest-lasting halt names the switch (the backtester's choice too),
    # so a kill-switch rule is not hidden behind a daily stop that lifts itself at midnight.
    chosen = max(halts, key=lambda halt: halt.until)
    result = kill_switch_engage(
        KillSwitchScope.ACCOUNT, account_id=account.pk, actor=actor, rule=chosen.rule,
        reason=_reason(chosen, halts, state),
        release_at=None if chosen.until == FOREVER else chosen.until)
    return result.switch if result.created else None


def _reason(chosen: Halt, halts: list[Halt], state: RiskState) -> str:
    others = "; ".join(f"{halt.rule}: {halt.reason}" for halt in halts if halt is not chosen)
    text = (f"{chosen.rule}: {chosen.reason} (equity {state.equity:.2f}, start of day "
            f"{state.day_start_equity:.2f}, peak {state.equity_peak:.2f})")
    return f"{text}; also {others}" if others else text


def trading_error_record(account_id: int, *, where: str, error: BaseException | str,
                         now: datetime | None = None) -> KillSwitch | None:
    """Record a critical error in ``account_id``'s trading path and engage its switch if the
    errors now reach the limit. Returns the switch this call engaged, if any."""
    from django.utils import timezone

    now = now or timezone.now()
    text = f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else error
    account = _account(account_id)
    TradingError.objects.create(account=account, occurred_at=now, where=where[:100],
                                error=str(text)[:4000])
    logger.error("critical error in %s (account %s): %s", where, account_id, text)
    return errors_enforce(account.pk, now=now)


def errors_enforce(account_id: int, *, now: datetime,
                   actor: Any = STOPS_ACTOR) -> KillSwitch | None:
    """Engage the account's switch when ``KILL_SWITCH_ERRORS_MAX`` errors fell within the
    window ending at ``now`` (and after the last release of this stop)."""
    limit = int(settings.KILL_SWITCH_ERRORS_MAX)
    window = timedelta(minutes=int(settings.KILL_SWITCH_ERRORS_WINDOW_MINUTES))
    errors = TradingError.objects.filter(account_id=account_id, occurred_at__gt=now - window,
                                         occurred_at__lte=now)
    released = KillSwitch.objects.filter(
        scope=KillSwitchScope.ACCOUNT, account_id=account_id, rule=ERRORS_RULE,
        engaged=False).aggregate(mark=Max("reset_after"))["mark"]
    if released is not None:
        errors = errors.filter(occurred_at__gt=released)
    count = errors.count()
    if limit < 1 or count < limit:
        return None
    last = errors.order_by("-occurred_at", "-id").first()
    reason = (f"{count} critical errors in the trading path within "
              f"{window.total_seconds() / 60:g} minutes (limit {limit}); last in "
              f"{last.where}: {last.error[:300]}")
    result = kill_switch_engage(KillSwitchScope.ACCOUNT, account_id=account_id, actor=actor,
                                rule=ERRORS_RULE, reason=reason)
    if result.created:
        _report_to_sentry(f"kill switch engaged on account {account_id}: {reason}")
    return result.switch if result.created else None


def _report_to_sentry(message: str) -> None:
    import sentry_sdk  # configured in settings when SENTRY_DSN is set; else a no-op

    sentry_sdk.capture_message(message, level="error")


def _account(account_id: int) -> TradingAccount:
    account = TradingAccount.objects.filter(pk=account_id).first()
    if account is None:
        raise DataError(f"no trading account {account_id}", column="account")
    return account
