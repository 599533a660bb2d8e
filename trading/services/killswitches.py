"""Kill switches: engage and release, each audited and alerted. The one place a switch changes.

A switch blocks every new order of its scope (``trading.services.gate`` checks it inside the
locked order transaction). Engaging is idempotent: a target that already has an engaged
switch keeps it (the first reason stands; the call returns it with ``created=False``, and no
second alert goes out). Releasing needs who and why; a released switch stays as history.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.audit import actor_name, audit_record
from nusatrade.alerts import AlertKind, alert_send
from nusatrade.errors import DataError
from trading.models import (
    KillSwitch,
    KillSwitchScope,
    Position,
    PositionStatus,
    TradingError,
)

logger = logging.getLogger("nusatrade.trading")

# The automatic stop for repeated critical errors in the trading path (trading.services.stops).
ERRORS_RULE = "critical_errors"


@dataclass
class EngageResult:
    switch: KillSwitch
    created: bool
    closed_positions: list[int] = field(default_factory=list)
    close_errors: dict[int, str] = field(default_factory=dict)


def _target(scope: str, account_id: int | None, model_id: int | None) -> dict[str, Any]:
    if scope not in KillSwitchScope.values:
        raise DataError(f"scope must be one of {', '.join(KillSwitchScope.values)}, "
                        f"not {scope!r}", column="scope")
    if scope == KillSwitchScope.GLOBAL:
        if account_id is not None or model_id is not None:
            raise DataError("a global switch names no account and no model", column="scope")
        return {"scope": scope}
    if scope == KillSwitchScope.ACCOUNT:
        if account_id is None or model_id is not None:
            raise DataError("an account switch names one account (and no model)",
                            column="account")
        return {"scope": scope, "account_id": account_id}
    if model_id is None or account_id is not None:
        raise DataError("a model switch names one model (and no account)", column="model")
    return {"scope": scope, "model_id": model_id}


def _check_exists(account_id: int | None, model_id: int | None) -> None:
    from accounts.models import TradingAccount

    # The model class through the FK: trading (below mlops) does not import mlops.
    models = KillSwitch._meta.get_field("model").related_model
    if account_id is not None and not TradingAccount.objects.filter(pk=account_id).exists():
        raise DataError(f"no trading account {account_id}", column="account")
    if model_id is not None and not models.objects.filter(pk=model_id).exists():
        raise DataError(f"no model {model_id}", column="model")


def engaged_for(scope: str, *, account_id: int | None = None,
                model_id: int | None = None) -> KillSwitch | None:
    """The engaged switch of exactly this target (not the ones covering it)."""
    return KillSwitch.objects.filter(engaged=True, **_target(scope, account_id, model_id)).first()


def kill_switch_engage(scope: str, *, reason: str, actor: Any, account_id: int | None = None,
                       model_id: int | None = None, rule: str = "",
                       release_at: datetime | None = None,
                       close_positions: bool = False) -> EngageResult:
    """Engage the switch of (scope, target) unless one is engaged already.

    ``actor``: the user, or ``"system:<component>"`` for an automatic stop; ``rule``: the
    risk rule that tripped (empty: manual); ``release_at``: when it lifts itself (the daily
    loss stop). ``close_positions``: also close the scope's open positions at market, after
    the switch is committed (so nothing new can open meanwhile)."""
    if not reason or not reason.strip():
        raise DataError("a kill switch needs a reason", column="reason")
    target = _target(scope, account_id, model_id)
    _check_exists(account_id, model_id)
    who = actor_name(actor)
    try:
        with transaction.atomic():
            existing = KillSwitch.objects.select_for_update().filter(
                engaged=True, **target).first()
            if existing is not None:
                return _maybe_close(EngageResult(existing, False), close_positions, who)
            switch = KillSwitch.objects.create(**target, rule=rule, reason=reason.strip(),
                                               engaged_by=who[:150], release_at=release_at)
            audit_record(actor, "kill_switch.engage", target=switch, reason=switch.reason,
                         details={"scope": scope, "account": account_id, "model": model_id,
                                  "rule": rule, "release_at": release_at.isoformat()
                                  if release_at else None})
            kind = (AlertKind.DAILY_LOSS_STOP if rule == "daily_loss_stop"
                    else AlertKind.KILL_SWITCH_ENGAGED)
            alert_send(kind, f"Kill switch engaged: {_label(switch)}", switch.reason,
                       fields={"scope": scope, "account": account_id, "model": model_id,
                               "rule": rule or "manual", "by": who},
                       key=f"{scope}:{account_id or model_id or ''}")
    except IntegrityError:
        # Another process engaged the same target between our read and our insert.
        existing = KillSwitch.objects.get(engaged=True, **target)
        return _maybe_close(EngageResult(existing, False), close_positions, who)
    logger.warning("kill switch engaged: %s by %s: %s", _label(switch), who, switch.reason)
    return _maybe_close(EngageResult(switch, True), close_positions, who)


def kill_switch_release(switch_id: int, *, actor: Any, reason: str) -> KillSwitch:
    """Release an engaged switch, recording who and why. Releasing a released switch is an
    error that names who released it (nothing changes)."""
    if not reason or not reason.strip():
        raise DataError("a release needs a reason", column="reason")
    who = actor_name(actor)
    with transaction.atomic():
        switch = KillSwitch.objects.select_for_update().filter(pk=switch_id).first()
        if switch is None:
            raise DataError(f"no kill switch {switch_id}", column="switch")
        if not switch.engaged:
            raise DataError(f"kill switch {switch_id} was already released by "
                            f"{switch.released_by} at {switch.released_at:%Y-%m-%d %H:%M} UTC",
                            column="switch")
        switch.engaged = False
        switch.released_by = who[:150]
        switch.released_at = timezone.now()
        switch.release_reason = reason.strip()
        switch.reset_after = _last_close(switch)
        switch.save(update_fields=["engaged", "released_by", "released_at", "release_reason",
                                   "reset_after"])
        audit_record(actor, "kill_switch.release", target=switch, reason=switch.release_reason,
                     details={"scope": switch.scope, "account": switch.account_id,
                              "model": switch.model_id, "rule": switch.rule})
        alert_send(AlertKind.KILL_SWITCH_RELEASED, f"Kill switch released: {_label(switch)}",
                   switch.release_reason,
                   fields={"scope": switch.scope, "account": switch.account_id,
                           "model": switch.model_id, "by": who},
                   key=f"{switch.scope}:{switch.account_id or switch.model_id or ''}")
    logger.warning("kill switch released: %s by %s: %s", _label(switch), who,
                   switch.release_reason)
    return switch


def kill_switches_expire(now: datetime | None = None) -> list[KillSwitch]:
    """Release every engaged switch whose ``release_at`` has passed (the daily-loss stop at
    the next trading day). Run by the cycle before it trades, and by a beat task."""
    now = now or timezone.now()
    released = []
    due = KillSwitch.objects.filter(engaged=True, release_at__isnull=False,
                                    release_at__lte=now).values_list("pk", flat=True)
    for pk in list(due):
        try:
            released.append(kill_switch_release(
                pk, actor="system:schedule",
                reason=f"released automatically at {now:%Y-%m-%d %H:%M} UTC, as its rule says"))
        except DataError:
            continue  # released meanwhile by someone else
    return released


def _last_close(switch: KillSwitch) -> datetime | None:
    """Where the released rule starts judging afresh: the account's last close so far (the
    errors stop: its last recorded error). A position's exit time is the broker's clock (a
    paper drill's too), so the mark is taken on that clock, not on the wall clock of the
    release."""
    if switch.scope != KillSwitchScope.ACCOUNT:
        return None
    if switch.rule == ERRORS_RULE:
        return (TradingError.objects.filter(account_id=switch.account_id)
                .order_by("-occurred_at").values_list("occurred_at", flat=True).first())
    return (Position.objects.filter(account_id=switch.account_id,
                                    status=PositionStatus.CLOSED)
            .order_by("-exit_time").values_list("exit_time", flat=True).first())


def _label(switch: KillSwitch) -> str:
    if switch.scope == KillSwitchScope.ACCOUNT:
        return f"account {switch.account_id}"
    if switch.scope == KillSwitchScope.MODEL:
        return f"model {switch.model_id}"
    return "global (every account)"


def _positions_in_scope(switch: KillSwitch):
    positions = Position.objects.filter(status=PositionStatus.OPEN,
                                        broker_ticket__isnull=False)
    if switch.scope == KillSwitchScope.ACCOUNT:
        return positions.filter(account_id=switch.account_id)
    if switch.scope == KillSwitchScope.MODEL:
        return positions.filter(model_id=switch.model_id)
    return positions


def _maybe_close(result: EngageResult, close: bool, who: str) -> EngageResult:
    if not close:
        return result
    from trading.services.orders import position_close

    for position_id in list(_positions_in_scope(result.switch).values_list("pk", flat=True)):
        try:
            outcome = position_close(position_id, reason=f"kill switch {result.switch.pk} "
                                                         f"({who})")
        except Exception as exc:  # one failing close must not stop the others
            logger.exception("kill switch %s: closing position %s failed", result.switch.pk,
                             position_id)
            result.close_errors[position_id] = f"{type(exc).__name__}: {exc}"
            continue
        if outcome.order.status in ("filled", "partially_filled"):
            result.closed_positions.append(position_id)
        else:
            result.close_errors[position_id] = (outcome.order.error
                                                or f"order {outcome.order.status}")
    return result
