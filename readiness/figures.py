"""The flat figures a readiness run is judged on (``readiness.criteria`` reads them), read from
the stored held-out ``BacktestRun`` and the replay's outcomes, with every detail beside them."""

from __future__ import annotations

from typing import Any

from backtests.models import BacktestRun
from mlops.models import MLModel


def _interval(evidence: dict[str, Any], key: str) -> tuple[Any, Any]:
    ci = (evidence.get("intervals") or {}).get(key) or {}
    return ci.get("low"), ci.get("high")


def _profit_factor(run: BacktestRun) -> Any:
    """The run's profit factor; infinite ("inf") when it has wins and no losing trade (stored
    as null, like an undefined one)."""
    if run.profit_factor is not None:
        return run.profit_factor
    gross_loss = (run.metrics or {}).get("gross_loss")
    return "inf" if run.trade_count and gross_loss == 0 and (run.net_profit or 0) > 0 else None


def collect_figures(held_out: BacktestRun, replay: dict[str, Any], agreement: dict[str, Any],
                    reconciliation: dict[str, Any], tracker: dict[str, Any],
                    lookahead: dict[str, Any], model: MLModel) -> dict[str, Any]:
    """The flat figures the criteria read (``readiness.criteria``), with every detail."""
    evidence = (held_out.metrics or {}).get("evidence") or {}
    dsr = evidence.get("deflated_sharpe") or {}
    pbo = evidence.get("pbo") or {}
    win_low, win_high = _interval(evidence, "win_rate")
    pf_low, pf_high = _interval(evidence, "profit_factor")
    exp_low, exp_high = _interval(evidence, "expectancy")
    metrics = held_out.metrics or {}
    changed = lookahead.get("changed_features") or []
    return {
        "win_rate": held_out.win_rate, "win_rate_low": win_low, "win_rate_high": win_high,
        "profit_factor": _profit_factor(held_out), "profit_factor_low": pf_low,
        "profit_factor_high": pf_high, "max_drawdown_pct": held_out.max_drawdown_pct,
        "trades": held_out.trade_count, "expectancy": metrics.get("expectancy"),
        "expectancy_low": exp_low, "expectancy_high": exp_high,
        "net_profit": str(held_out.net_profit), "return_pct": held_out.return_pct,
        "sharpe": held_out.sharpe, "deflated_sharpe": held_out.deflated_sharpe,
        "dsr_trials": dsr.get("trials"), "pbo": held_out.pbo,
        "pbo_reason": pbo.get("reason") if held_out.pbo is None else None,
        "baselines": {"buy_hold_return_pct": metrics.get("buy_hold_return_pct"),
                      "model_test": ((model.metrics or {}).get("test") or {}).get("baseline")},
        "stop_conditions": len(replay["halts"]) + len(replay["kill_switch_events"]),
        "replay_agreement": agreement["agreement"],
        "reconciliation_clean": reconciliation["clean"],
        "reconciliation_detail": f"reconciliation run #{reconciliation['run']} "
                                 f"{reconciliation['status']}, {reconciliation['findings']} "
                                 f"finding(s), {len(replay['open_positions'])} position(s) "
                                 "left open",
        "lookahead_clean": lookahead.get("clean") if isinstance(lookahead.get("clean"), bool)
        else None,
        "lookahead_detail": f"{lookahead.get('bars_checked', '?')} bars checked, "
                            f"{len(changed)} feature(s) changed, "
                            f"{lookahead.get('changed_decisions', '?')} decision(s) changed; "
                            f"{lookahead.get('source', '')}",
        "backtest": {"run": held_out.pk, "start": held_out.start.isoformat(),
                     "end": held_out.end.isoformat(), "bars": held_out.bars,
                     "synthetic_data": held_out.synthetic_data, "metrics": metrics},
        "replay": {k: v for k, v in replay.items() if k != "trades"}
        | {"trades": len(replay["trades"])},
        "agreement": agreement, "reconciliation": reconciliation, "tracker": tracker,
        "lookahead": lookahead,
    }
