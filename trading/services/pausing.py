"""A trader pauses and resumes their own account's auto-trading (the API's pause/resume).

Pausing engages the account kill switch with the reason ``PAUSE_REASON`` through the one
kill-switch service (audited, alerted). Resuming releases it, but a trader may release only a
pause they engaged themselves; a switch the system engaged (a risk rule) or someone else
engaged is released by an admin only. Idempotent: pausing a paused account returns the
engaged switch.
"""

from __future__ import annotations

from dataclasses import dataclass

from accounts.models import TradingAccount, User
from nusatrade.errors import DataError, RiskLimitBreached
from trading.models import KillSwitch, KillSwitchScope
from trading.services.killswitches import engaged_for, kill_switch_engage, kill_switch_release

PAUSE_REASON = "paused by owner"
RESUME_REASON = "resumed by owner"


@dataclass(frozen=True)
class PauseResult:
    switch: KillSwitch
    changed: bool


def paused_by_owner(switch: KillSwitch) -> bool:
    return switch.reason == PAUSE_REASON and not switch.rule


def account_pause(account: TradingAccount, user: User) -> PauseResult:
    result = kill_switch_engage(KillSwitchScope.ACCOUNT, reason=PAUSE_REASON, actor=user,
                                account_id=account.pk)
    return PauseResult(result.switch, result.created)


def account_resume(account: TradingAccount, user: User, *, admin: bool) -> KillSwitch:
    """Release the account's switch: DataError when none is engaged, RiskLimitBreached when
    this user may not release it (not theirs, or engaged by the system)."""
    switch = engaged_for(KillSwitchScope.ACCOUNT, account_id=account.pk)
    if switch is None:
        raise DataError(f"account {account.pk} is not paused", column="account")
    own_pause = paused_by_owner(switch) and switch.engaged_by == user.get_username()
    if not (own_pause or admin):
        raise RiskLimitBreached(
            "kill_switch", f"the kill switch of account {account.pk} was engaged by "
            f"{switch.engaged_by} ({switch.reason}); only an admin can release it")
    return kill_switch_release(switch.pk, actor=user,
                               reason=RESUME_REASON if own_pause else f"released by admin "
                               f"{user.get_username()} through the API")
