"""Launch-checklist items of the trading app: a reconciliation run, no engaged kill switch
left unexplained."""

from __future__ import annotations

from nusatrade.launch import ChecklistResult
from trading.models import KillSwitch
from trading.reconciliation.selectors import reconciliation_last_success

MIN_REASON_LENGTH = 10  # "x", "test", "asdf" explain nothing to the next person on call


def check_kill_switches_explained() -> ChecklistResult:
    engaged = list(KillSwitch.objects.filter(engaged=True).order_by("engaged_at"))
    unexplained = [s for s in engaged if len(s.reason.strip()) < MIN_REASON_LENGTH]
    if unexplained:
        listed = ", ".join(f"#{s.pk} {s.scope} by {s.engaged_by}" for s in unexplained[:20])
        return ChecklistResult(
            "kill switches explained", False,
            f"{len(unexplained)} engaged kill switch(es) without a reason: {listed}",
            "release each (python manage.py kill_switch release --id ID --reason \"...\") "
            "and engage it again with a real reason if it must stay")
    if engaged:
        listed = "; ".join(f"#{s.pk} {s.scope}: {s.reason.strip()[:80]}" for s in engaged[:10])
        return ChecklistResult("kill switches explained", True,
                               f"{len(engaged)} engaged, each with a reason: {listed}")
    return ChecklistResult("kill switches explained", True, "no kill switch engaged")


def check_reconciliation_ran() -> ChecklistResult:
    last = reconciliation_last_success()
    if last is None:
        return ChecklistResult("reconciliation ran", False,
                               "no reconciliation run has completed",
                               "python manage.py reconcile (the nightly beat task "
                               "trading.reconcile runs it on the maintenance queue)")
    return ChecklistResult("reconciliation ran", True,
                           f"last completed {last:%Y-%m-%d %H:%M} UTC")
