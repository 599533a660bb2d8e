"""Retraining triggers (pure: no Django). Each trigger, when it fires, says why in numbers
(its evidence); none of them changes a model, they only ask (``RetrainingRequest``).

- ``win_rate``: live win rate below ``min_win_rate`` over at least ``min_trades`` trades;
- ``profit_factor``: live profit factor below ``min_profit_factor`` over ``min_trades``;
- ``hit_rate``: the live hit rate of BUY/SELL signals significantly below the test window's
  (binomial lower tail under ``hit_rate_alpha``);
- ``drift``: the share of drifting features (PSI above the limit) above ``max_drift_share``,
  or the live prediction distribution drifting from the test window's;
- ``model_age``: the model was trained on data ending more than ``max_age_days`` ago.

Thresholds come from the ``RETRAINING_TRIGGERS`` setting (a dict of these field names);
a threshold set to ``None`` disables its trigger.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class TriggerConfig:
    min_trades: int = 20
    min_win_rate: float | None = 0.40
    min_profit_factor: float | None = 1.0
    hit_rate_alpha: float | None = 0.05
    max_drift_share: float | None = 0.30
    prediction_drift: bool = True
    max_age_days: int | None = 180

    @classmethod
    def from_mapping(cls, values: dict[str, Any] | None) -> TriggerConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(values or {}) - known
        if unknown:
            raise ValueError(f"RETRAINING_TRIGGERS: unknown key(s) {sorted(unknown)}; "
                             f"use {sorted(known)}")
        return cls(**(values or {}))


@dataclass(frozen=True)
class Fired:
    trigger: str
    evidence: dict[str, Any]


def evaluate(live: dict[str, Any], versus: dict[str, Any], drift: dict[str, Any],
             age_days: float | None, config: TriggerConfig) -> list[Fired]:
    """The triggers that fire on one model's snapshot (``live`` = its all-time figures)."""
    fired: list[Fired] = []
    trades = live.get("trades") or 0
    enough = trades >= config.min_trades
    win_rate, pf = live.get("win_rate"), live.get("profit_factor")
    if enough and config.min_win_rate is not None and win_rate is not None \
            and win_rate < config.min_win_rate:
        fired.append(Fired("win_rate", {"win_rate": win_rate, "trades": trades,
                                        "min_win_rate": config.min_win_rate}))
    if enough and config.min_profit_factor is not None and pf is not None \
            and pf < config.min_profit_factor:
        fired.append(Fired("profit_factor", {"profit_factor": pf, "trades": trades,
                                             "min_profit_factor": config.min_profit_factor}))
    hit = (versus or {}).get("hit_rate_test") or {}
    if config.hit_rate_alpha is not None and hit.get("p_value") is not None \
            and hit["p_value"] < config.hit_rate_alpha:
        fired.append(Fired("hit_rate", {**hit, "alpha": config.hit_rate_alpha}))
    fired += _drift(drift or {}, config)
    if config.max_age_days is not None and age_days is not None \
            and age_days > config.max_age_days:
        fired.append(Fired("model_age", {"age_days": round(age_days, 1),
                                         "max_age_days": config.max_age_days}))
    return fired


def _drift(drift: dict[str, Any], config: TriggerConfig) -> list[Fired]:
    features = drift.get("features") or {}
    share = features.get("share_drifting")
    predictions = drift.get("predictions") or {}
    if config.max_drift_share is not None and share is not None \
            and share > config.max_drift_share:
        return [Fired("drift", {"share_drifting": share, "drifting": features.get("drifting"),
                                "max_drift_share": config.max_drift_share,
                                "psi_limit": features.get("limit")})]
    if config.prediction_drift and predictions.get("drifting"):
        return [Fired("drift", {"prediction_psi": predictions.get("psi"),
                                "psi_limit": predictions.get("limit")})]
    return []
