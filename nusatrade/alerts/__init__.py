"""Alerts: email and a Slack-compatible webhook, retried, rate-limited, never raising.

Bottom layer (next to settings and errors): backups, the trading cycle, reconciliation and
failed tasks all raise alerts through :func:`alert_send`. See docs/auto-trading.md, "Alerts".

    alert_send(AlertKind.KILL_SWITCH_ENGAGED, "Account 7 halted", "daily loss 5.3%",
               fields={"account": 7, "rule": "daily_loss"}, key=7)
"""

from __future__ import annotations

from nusatrade.alerts.message import Alert, AlertKind
from nusatrade.alerts.service import AlertResult, alert_deliver, alert_send

__all__ = ["Alert", "AlertKind", "AlertResult", "alert_deliver", "alert_send"]
