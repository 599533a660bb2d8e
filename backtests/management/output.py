"""Plain-text output of the backtest commands: the run summary, metrics and sweep tables."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from backtests.models import BacktestRun
from backtests.report import INTERVAL_ROWS, dsr_sentence, pbo_sentence
from backtests.selectors import backtest_metric_rows

SWEEP_COLUMNS = (
    ("spread_pips", "spread", "{:g}"), ("slippage_pips", "slippage", "{:g}"),
    ("threshold", "threshold", "{:.2f}"), ("trades", "trades", "{:,.0f}"),
    ("win_rate", "win rate", "{:.1%}"), ("profit_factor", "PF", "{:.2f}"),
    ("net_profit", "net profit", "{:,.2f}"), ("return_pct", "return %", "{:.2f}"),
    ("max_drawdown_pct", "max DD %", "{:.2f}"), ("sharpe", "Sharpe", "{:.2f}"),
    ("expectancy", "exp./trade", "{:,.2f}"), ("total_costs", "costs", "{:,.2f}"),
    ("halts", "halts", "{:.0f}"),
)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Left-aligned first column, right-aligned others, a rule under the header."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                       for i, (c, w) in enumerate(zip(row, widths, strict=True))).rstrip()
             for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths).rstrip())
    return "\n".join(lines)


def summary(run: BacktestRun) -> str:
    display = run.params.get("display", {})
    data = " (SYNTHETIC DATA)" if run.synthetic_data else ""
    return "\n".join([
        f"Backtest #{run.pk}: model {display.get('Model', f'#{run.model_id}')}, "
        f"{run.start} to {run.end}, {run.bars or 0:,} bars{data}",
        f"  training window (refused): {display.get('Training window (never backtested)')}",
        f"  spread {display.get('Spread')}; slippage {display.get('Slippage')}",
        f"  lots {display.get('Lots')}; stop-loss {display.get('Stop-loss')}; take-profit "
        f"{display.get('Take-profit')}; max bars held {display.get('Max bars held')}",
        f"  commission {display.get('Commission')}; swap {display.get('Swap')}",
        f"  margin: {display.get('Margin')}",
        f"  threshold {display.get('Threshold (HOLD gate)')}; risk rules "
        f"{display.get('Risk rules')}",
    ])


def metrics_table(run: BacktestRun) -> str:
    """The metrics, then each figure with its interval, the Deflated Sharpe and PBO."""
    text = table(["metric", "value"], backtest_metric_rows(run))
    proof = run.metrics.get("evidence")
    if not proof:
        return text
    rows = []
    for key, label, pattern in INTERVAL_ROWS:
        ci = proof.get("intervals", {}).get(key, {})
        rows.append([label, _cell(ci.get("estimate"), pattern),
                     f"{_cell(ci.get('low'), pattern)} to {_cell(ci.get('high'), pattern)}"])
    return "\n".join([text, "", "How much to believe it (95% block-bootstrap intervals)",
                      table(["figure", "value", "95% interval"], rows),
                      dsr_sentence(proof.get("deflated_sharpe") or {}),
                      pbo_sentence(proof.get("pbo") or {})])


def run_json(run: BacktestRun) -> dict[str, Any]:
    """``backtest --json``: the run's settings, metrics and closed trades, with the Deflated
    Sharpe (``deflated_sharpe``: probability that the true Sharpe is above zero after the
    configurations tried) and ``pbo`` at the top level."""
    trades = [{"number": t.number, "entry_time": t.entry_time.isoformat(),
               "exit_time": t.exit_time.isoformat(), "side": t.side, "volume": str(t.lots),
               "entry_price": str(t.entry_price), "exit_price": str(t.exit_price),
               "net_pnl": str(t.net_pnl), "exit_reason": t.exit_reason}
              for t in run.trades.order_by("number")]
    return {"run": run.pk, "model": run.model_id, "account": run.account_id,
            "start": run.start.isoformat(),
            "end": run.end.isoformat(), "status": run.status,
            "parameters": run.params.get("display", {}),
            "deflated_sharpe": run.deflated_sharpe, "pbo": run.pbo,
            "net_profit": str(run.net_profit), "final_equity": str(run.final_equity),
            "metrics": run.metrics, "sweep": run.sweep_results, "trades": trades,
            "halts": run.metrics.get("halt_events", []),
            "denied_by_rule": run.metrics.get("denied_by_rule", {}),
            **({"retraining": run.params["retrain"]} if run.params.get("retrain") else {})}


def sweep_table(run: BacktestRun) -> str:
    """One row per grid point; the row with the run's own settings is marked."""
    own = (float(run.spread_pips), float(run.slippage_pips), round(run.threshold, 4))
    rows = []
    for record in run.sweep_results:
        key = (record["spread_pips"], record["slippage_pips"], round(record["threshold"], 4))
        rows.append([_cell(record.get(name), pattern) for name, _, pattern in SWEEP_COLUMNS]
                    + ["<- this run" if key == own else ""])
    headers = [label for _, label, _ in SWEEP_COLUMNS] + [""]
    return ("Sweep: spread and slippage in pips, threshold of the HOLD gate; other settings "
            "as the run\n" + table(headers, rows))


RETRAIN_TOTALS = (
    ("trades", "trades", "{:,.0f}"), ("net_profit", "net profit", "{:,.2f}"),
    ("return_pct", "return %", "{:.2f}"), ("win_rate", "win rate", "{:.1%}"),
    ("profit_factor", "profit factor", "{:.2f}"), ("max_drawdown_pct", "max DD %", "{:.2f}"),
    ("sharpe", "Sharpe", "{:.2f}"), ("expectancy", "exp./trade", "{:,.2f}"),
    ("total_costs", "costs", "{:,.2f}"),
)


def retraining_text(run: BacktestRun) -> str:
    """``backtest --retrain-every``: one row per segment (its training window, the window it
    traded, its trades), then the stitched totals next to the model as it is."""
    record = run.params["retrain"]
    rows = []
    for s in record["segments"]:
        rows.append([s["segment"], f"{s['train_start'][:10]} .. {s['train_end'][:10]}",
                     f"{s['trade_start'][:10]} .. {s['trade_end'][:10]}",
                     _cell(s["trades"], "{:,.0f}"), _cell(s["net_profit"], "{:,.2f}"),
                     _cell(s["win_rate"], "{:.1%}"), _cell(s["profit_factor"], "{:.2f}"),
                     f"{s['threshold']:.2f}", s["model_sha256"][:12],
                     _cell(s["as_is"]["net_profit"], "{:,.2f}")])
    segments = table(["seg", "trained on", "traded", "trades", "net", "win rate", "PF",
                      "threshold", "model sha256", "as-is net"], rows)
    totals = table(["figure", "retrained", "as is", "difference"], [
        [label, _cell(record["stitched"].get(key), pattern),
         _cell(record["as_is"].get(key), pattern),
         _cell(record["difference"].get(key), pattern)]
        for key, label, pattern in RETRAIN_TOTALS])
    window = (f"sliding window of {record['train_length_used']}" if record["window"] == "sliding"
              else "expanding window from the model's training start")
    verdict = record["difference"].get("net_profit")
    sentence = ("" if verdict is None else
                f"Retraining every {record['every']} {'added' if verdict > 0 else 'lost'} "
                f"{abs(verdict):,.2f} of net profit against the model as it is on this period.")
    return "\n".join([
        f"Retraining every {record['every']} ({window}; label horizon "
        f"{_bars(record['horizon'])} purged + embargo {_bars(record['embargo'])} before each "
        f"segment; segment models {record['models']})", segments, "",
        "Stitched out-of-sample result vs the model as it is (same bars, costs and rules)",
        totals, sentence])


def _bars(count: int) -> str:
    return f"{count} bar" if count == 1 else f"{count} bars"


def _cell(value: Any, pattern: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return pattern.format(value)


def write_report(run: BacktestRun, path: Path) -> Path:
    """Write the run's self-contained HTML report to ``path`` (parents created)."""
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(run.report.html, encoding="utf-8")
    return path.resolve()
