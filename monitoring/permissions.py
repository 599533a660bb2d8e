"""Who may do what on the dashboard (issue 12): admins everything; ops see everything and may
engage a kill switch, start a backtest and export trades, but not release a switch nor change
which model trades (activate, retire, approve/reject retraining); traders never reach the
admin. Superusers count as admins."""

from __future__ import annotations

from typing import Any

from accounts.models import Role

ADMIN, OPS = str(Role.ADMIN), str(Role.OPS)
ALLOWED: dict[str, frozenset[str]] = {
    "view": frozenset({ADMIN, OPS}),
    "kill_switch_engage": frozenset({ADMIN, OPS}),
    "kill_switch_release": frozenset({ADMIN}),
    "model_activate": frozenset({ADMIN}),
    "model_retire": frozenset({ADMIN}),
    "retraining_decide": frozenset({ADMIN}),
    "backtest_start": frozenset({ADMIN, OPS}),
    "trades_export": frozenset({ADMIN, OPS}),
}


def role(user: Any) -> str | None:
    """The user's dashboard role: admin, ops, or None (no access)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    if user.is_superuser:
        return ADMIN
    names = set(user.groups.values_list("name", flat=True))
    return ADMIN if ADMIN in names else OPS if OPS in names else None


def allowed(user: Any, action: str) -> bool:
    return role(user) in ALLOWED[action]


def actions_for(user: Any) -> dict[str, bool]:
    who = role(user)
    return {action: who in roles for action, roles in ALLOWED.items()}
