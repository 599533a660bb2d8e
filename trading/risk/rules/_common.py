"""Helpers shared by the kill-switch rules."""

from __future__ import annotations

from datetime import datetime

from trading.risk.config import RiskConfig
from trading.risk.state import FOREVER, Halt


def kill_switch_halt(config: RiskConfig, now: datetime, rule: str, reason: str) -> Halt:
    """A halt of ``rule`` from ``now`` for the cool-down, or for good without one."""
    until = FOREVER if config.cooldown is None else now + config.cooldown
    return Halt(time=now, rule=rule, reason=reason, until=until)
