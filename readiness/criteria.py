"""The readiness verdict (pure: no Django imports): is a model ready for real money?

``evaluate(figures, thresholds)`` judges the measured figures of one readiness run against
the seed's criteria and the rules that make those figures mean something:

==================  =============================================================  =========
criterion           figure(s) read from ``figures``                                passes if
==================  =============================================================  =========
win_rate            ``win_rate`` (fraction), ``win_rate_low/high`` (95 % interval)  > 0.50
profit_factor       ``profit_factor``, ``profit_factor_low/high``                   > 1.5
max_drawdown        ``max_drawdown_pct`` (percent of the peak equity)               < 20
min_trades          ``trades`` (held-out backtest)                                  >= 30
stop_conditions     ``stop_conditions`` (halts + kill switches during the replay)   <= 0
replay_agreement    ``replay_agreement`` (share of trades replay = backtest)        >= 1.0
reconciliation      ``reconciliation_clean`` (paper account after the replay)       true
lookahead           ``lookahead_clean`` (check on the model's current fingerprint)  true
deflated_sharpe     ``deflated_sharpe`` (probability, over ``dsr_trials`` configs)  >= 0.95
pbo                 ``pbo`` (probability of backtest overfitting)                   <= 0.5
==================  =============================================================  =========

The verdict is GO only if every criterion passes. A figure that is missing (key absent,
``None`` or NaN) FAILS its criterion with a reason: never GO by omission. The one exception
is the PBO "where a PBO exists": ``pbo`` is ``None`` AND ``pbo_reason`` says why it could not
be computed (e.g. too few periods) -> the criterion is not applicable and passes, saying so.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

GO = "GO"
NO_GO = "NO-GO"


@dataclass(frozen=True)
class Thresholds:
    """The bars a model must clear; the defaults are the seed's (and the issue's)."""

    min_win_rate: float = 0.50        # win rate strictly above (fraction)
    min_profit_factor: float = 1.5    # profit factor strictly above
    max_drawdown_pct: float = 20.0    # max drawdown strictly below (percent)
    min_trades: int = 30              # held-out trades at least
    max_stop_conditions: int = 0      # halts + kill switches during the replay at most
    min_agreement: float = 1.0        # share of replay trades equal to the backtest's, at least
    min_deflated_sharpe: float = 0.95  # Deflated Sharpe probability at least
    max_pbo: float = 0.5              # PBO at most

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> Thresholds:
        """Thresholds from a settings dict (unknown keys or non-numbers -> ValueError naming
        the key); keys left out keep the seed's defaults."""
        values = dict(values or {})
        known = {f.name: f.type for f in fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(f"READINESS_THRESHOLDS: unknown key(s) {', '.join(unknown)}; "
                             f"known: {', '.join(known)}")
        parsed: dict[str, Any] = {}
        for key, raw in values.items():
            cast = int if key in ("min_trades", "max_stop_conditions") else float
            try:
                value = cast(raw)
            except (TypeError, ValueError):
                raise ValueError(f"READINESS_THRESHOLDS[{key!r}] must be a number") from None
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"READINESS_THRESHOLDS[{key!r}] must be finite")
            parsed[key] = value
        return cls(**parsed)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Criterion:
    name: str
    label: str
    measured: Any
    threshold: Any
    comparison: str          # how measured must compare with threshold: ">", "<", ">=", ...
    low: float | None
    high: float | None
    passed: bool
    reason: str

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        if isinstance(self.measured, float) and not math.isfinite(self.measured):
            out["measured"] = "inf" if self.measured > 0 else None
        return out


@dataclass(frozen=True)
class Verdict:
    criteria: tuple[Criterion, ...]
    verdict: str
    reasons: tuple[str, ...]

    @property
    def go(self) -> bool:
        return self.verdict == GO

    def to_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "reasons": list(self.reasons),
                "criteria": [c.to_dict() for c in self.criteria]}


def _number(figures: Mapping[str, Any], key: str) -> float | None:
    value = figures.get(key)
    if isinstance(value, bool) or value is None:
        return None
    if value == "inf":   # an infinite profit factor as JSON stores it
        return math.inf
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


def _fmt(value: float | None, kind: str) -> str:
    if value is None:
        return "-"
    if math.isinf(value):
        return "infinite"
    if kind == "pct":
        return f"{value:.1%}"
    if kind == "pct_points":
        return f"{value:.1f} %"
    if kind == "int":
        return f"{value:,.0f}"
    return f"{value:.2f}"


_OPS: dict[str, Callable[[float, float], bool]] = {
    ">": lambda a, b: a > b, "<": lambda a, b: a < b,
    ">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b}
_WORDS = {">": "above", "<": "below", ">=": "at least", "<=": "at most"}


def _numeric(figures: Mapping[str, Any], name: str, label: str, key: str, threshold: float,
             op: str, kind: str, why: str, interval: bool = False) -> Criterion:
    """One numeric criterion: ``figures[key] op threshold``; missing -> fails."""
    value = _number(figures, key)
    low = _number(figures, f"{key}_low") if interval else None
    high = _number(figures, f"{key}_high") if interval else None
    bound = f"{_WORDS[op]} {_fmt(threshold, kind)}"
    if value is None:
        return Criterion(name, label, None, threshold, op, low, high, False,
                         f"{label} was not measured ({why}), so it cannot pass")
    passed = _OPS[op](value, threshold)
    span = (f" (95% interval {_fmt(low, kind)} to {_fmt(high, kind)})"
            if low is not None and high is not None else "")
    verb = "is" if passed else "is not"
    reason = f"{label} {_fmt(value, kind)} {verb} {bound}{span}"
    if not passed:
        reason += f": {why}"
    return Criterion(name, label, value, threshold, op, low, high, passed, reason)


def _flag(figures: Mapping[str, Any], name: str, label: str, key: str, good: str, bad: str,
          detail_key: str) -> Criterion:
    """A yes/no criterion: ``figures[key] is True``; missing -> fails."""
    value = figures.get(key)
    detail = figures.get(detail_key)
    detail = f" ({detail})" if detail else ""
    if not isinstance(value, bool):
        return Criterion(name, label, None, True, "==", None, None, False,
                         f"{label} was not measured, so it cannot pass{detail}")
    return Criterion(name, label, value, True, "==", None, None, value,
                     (good if value else bad) + detail)


def _pbo(figures: Mapping[str, Any], t: Thresholds) -> Criterion:
    reason = figures.get("pbo_reason")
    if figures.get("pbo") is None and reason:   # no PBO exists: not applicable (module doc)
        return Criterion("pbo", "PBO", None, t.max_pbo, "<=", None, None, True,
                         f"PBO not applicable: {reason}")
    return _numeric(figures, "pbo", "PBO", "pbo", t.max_pbo, "<=", "float",
                    "the configuration chosen in-sample ranks below the median out of sample "
                    "too often: the sweep's best is likely overfitted")


def _dsr(figures: Mapping[str, Any], t: Thresholds) -> Criterion:
    trials = _number(figures, "dsr_trials")
    tried = f"the {trials:.0f} configurations tried" if trials else "the configurations tried"
    return _numeric(figures, "deflated_sharpe", "Deflated Sharpe probability",
                    "deflated_sharpe", t.min_deflated_sharpe, ">=", "float",
                    f"after accounting for {tried}, the Sharpe ratio could be luck")


def _agreement_why(figures: Mapping[str, Any]) -> str:
    why = ("the real trading cycle did not make the trades the backtest made: the backtest "
           "does not describe what the cycle will do")
    agreement = figures.get("agreement")
    cause = agreement.get("cause") if isinstance(agreement, Mapping) else None
    return f"{why} ({cause})" if cause else why


def criteria_of(figures: Mapping[str, Any], t: Thresholds) -> tuple[Criterion, ...]:
    """Every criterion, in the order they are printed."""
    return (
        _numeric(figures, "win_rate", "win rate", "win_rate", t.min_win_rate, ">", "pct",
                 "the seed requires more winning than losing trades", interval=True),
        _numeric(figures, "profit_factor", "profit factor", "profit_factor",
                 t.min_profit_factor, ">", "float",
                 "gross profit must exceed gross loss by the seed's margin", interval=True),
        _numeric(figures, "max_drawdown", "max drawdown", "max_drawdown_pct",
                 t.max_drawdown_pct, "<", "pct_points",
                 "the equity fell further from its peak than the seed allows"),
        _numeric(figures, "min_trades", "held-out trades", "trades", t.min_trades, ">=",
                 "int", "too few trades for the figures above to mean anything"),
        _numeric(figures, "stop_conditions", "stop conditions hit in the replay",
                 "stop_conditions", t.max_stop_conditions, "<=", "int",
                 "risk halts or kill switches stopped trading during the replay"),
        _numeric(figures, "replay_agreement", "replay/backtest agreement",
                 "replay_agreement", t.min_agreement, ">=", "pct",
                 _agreement_why(figures)),
        _flag(figures, "reconciliation", "reconciliation", "reconciliation_clean",
              "the paper account reconciled clean after the replay",
              "the paper account did not reconcile clean after the replay: the database and "
              "the broker disagree", "reconciliation_detail"),
        _flag(figures, "lookahead", "look-ahead check", "lookahead_clean",
              "the look-ahead check on the model's current fingerprint is clean",
              "the look-ahead check found features or decisions that use future bars: every "
              "figure above is suspect", "lookahead_detail"),
        _dsr(figures, t),
        _pbo(figures, t),
    )


def evaluate(figures: Mapping[str, Any], thresholds: Thresholds | None = None) -> Verdict:
    """The verdict: GO only if every criterion passes; the failed ones' reasons otherwise."""
    criteria = criteria_of(figures, thresholds or Thresholds())
    reasons = tuple(c.reason for c in criteria if not c.passed)
    return Verdict(criteria=criteria, verdict=NO_GO if reasons else GO, reasons=reasons)
