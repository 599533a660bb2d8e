"""Plain-text tables for the ML commands (what a trader reads in a terminal)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from mlops.gating import ThresholdChoice, decision_name
from mlops.models import MLModel


def fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def pct(value: float | None) -> str:
    if value is None or not np.isfinite(value):
        return "-"
    return f"{100 * value:.1f}%"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                       for i, (c, w) in enumerate(zip(row, widths, strict=True)))
             for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def ci_text(ci: dict[str, Any] | None, as_pct: bool = False, digits: int = 4) -> str:
    """``[low, high]`` of an interval ("-" when undefined)."""
    ci = ci or {}
    if ci.get("low") is None or ci.get("high") is None:
        return "-"
    if as_pct:
        return f"[{pct(ci['low'])}, {pct(ci['high'])}]"
    return f"[{fmt(ci['low'], digits)}, {fmt(ci['high'], digits)}]"


def _window_rows(name: str, m: dict[str, Any]) -> list[str]:
    t = m.get("trades", {})
    base = m.get("baseline") or {}
    return [name, str(m.get("n", "-")), fmt(m.get("effective_n"), 0), pct(m.get("accuracy")),
            pct(base.get("accuracy")), fmt(m.get("f1")), fmt(m.get("roc_auc")),
            fmt(m.get("log_loss")), fmt(base.get("log_loss")), fmt(m.get("brier")),
            fmt(base.get("brier")), pct(m.get("coverage")), pct(m.get("gated_accuracy")),
            ci_text(m.get("gated_accuracy_ci"), as_pct=True), str(t.get("n_trades", "-")),
            fmt(t.get("expectancy"), 4),
            ci_text((t.get("intervals") or {}).get("expectancy"))]


WINDOW_HEADERS = ["window", "rows", "eff. n", "accuracy", "majority", "F1", "ROC AUC",
                  "log loss", "const.", "Brier", "const.", "coverage", "acc. traded",
                  "95% CI", "trades", "net exp./trade", "95% CI"]
BASELINE_NOTE = ("(majority = always the majority class; const. = a constant predictor of the "
                 "base rate; ROC AUC of a constant: 0.500; eff. n = labelled rows counted for "
                 "their overlap; 95% CI: Wilson for the accuracy when trading, block bootstrap "
                 "for the expectancy)")


def metrics_table(model: MLModel) -> str:
    m = model.metrics
    rows = [_window_rows("validation", m["validation"]), _window_rows("test", m["test"])]
    lines = [table(WINDOW_HEADERS, rows), BASELINE_NOTE, "",
             trade_intervals_table(m), ""]
    cm = m["test"]["confusion_matrix"]["counts"]
    lines += ["Test confusion matrix (rows: actual, columns: decision)",
              table(["actual", "SELL", "HOLD", "BUY"], [["down", *cm[0]], ["up", *cm[1]]]), ""]
    wf = m.get("walk_forward")
    if wf:
        lines += [walk_forward_table(wf), ""]
    lines += [selection_lines(m), "", summary_lines(model)]
    return "\n".join(lines)


INTERVAL_LABELS = (("win_rate", "win rate", True), ("profit_factor", "profit factor", False),
                   ("expectancy", "net exp./trade", False), ("sharpe", "Sharpe/trade", False))


def trade_intervals_table(m: dict[str, Any]) -> str:
    """Win rate, profit factor, expectancy and per-trade Sharpe of the trades at the threshold,
    with their 95% block-bootstrap intervals, per window (and pooled walk-forward)."""
    windows = [("validation", (m["validation"].get("trades") or {}).get("intervals")),
               ("test", (m["test"].get("trades") or {}).get("intervals"))]
    wf = (m.get("walk_forward") or {}).get("summary") or {}
    if wf.get("pooled_intervals"):
        windows.append(("walk-forward (pooled)", wf["pooled_intervals"]))
    rows = []
    for name, intervals in windows:
        if not intervals:
            continue
        row = [name]
        for key, _, as_pct in INTERVAL_LABELS:
            ci = intervals.get(key) or {}
            value = pct(ci.get("estimate")) if as_pct else fmt(ci.get("estimate"), 4)
            row.append(f"{value} {ci_text(ci, as_pct=as_pct)}")
        rows.append(row)
    return ("Trades at the threshold, 95% block-bootstrap intervals (blocks >= the label "
            "horizon)\n" + table(["window"] + [label for _, label, _ in INTERVAL_LABELS], rows))


def selection_lines(m: dict[str, Any]) -> str:
    """Out-of-sample figure, the tuning's optimism, and the threshold search's Deflated Sharpe
    and PBO."""
    sel = m.get("selection")
    if not sel:
        return "Selection: figures not computed (model trained before they existed)"
    oos = sel["oos"]
    edge = ("positive: may be activated automatically" if (oos.get("lower_bound") or 0) > 0
            else "NOT positive: no automatic activation")
    lines = [
        f"Out of sample ({oos['source']}): net exp./trade {fmt(oos['expectancy'], 4)} "
        f"{ci_text(oos.get('interval'))}; one-sided {oos['confidence']:.0%} lower bound "
        f"{fmt(oos.get('lower_bound'), 4)} ({edge})",
        f"Optimism of the tuned threshold: validation {fmt(sel['validation_expectancy'], 4)} "
        f"- out of sample {fmt(oos['expectancy'], 4)} = {fmt(sel['optimism'], 4)} per trade"
        + (f" (mean per fold {fmt(sel['fold_optimism'], 4)})"
           if sel.get("fold_optimism") is not None else ""),
    ]
    search = m.get("threshold_search")
    if search:
        lines.append(threshold_search_line(search))
    return "\n".join(lines)


def threshold_search_line(search: dict[str, Any]) -> str:
    dsr, pbo = search["deflated_sharpe"], search["pbo"]
    verdict = "significant" if dsr.get("significant") else "not significant"
    return (f"Threshold search ({search['trials']} thresholds on validation): Deflated Sharpe "
            f"{pct(dsr.get('probability'))} ({verdict}), PBO {pct(pbo.get('pbo'))}")


def walk_forward_table(wf: dict[str, Any]) -> str:
    kind = "expanding" if wf["expanding"] else "rolling"
    headers = ["fold", "test from", "test to", "train bars", "thr", "accuracy", "majority",
               "ROC AUC", "coverage", "acc. traded", "trades", "net exp./trade", "95% CI"]
    rows = [[f["fold"] + 1, f["test_start"][:10], f["test_end"][:10], f["train_bars"],
             fmt(f["threshold"], 2), pct(f["accuracy"]),
             pct((f.get("baseline") or {}).get("accuracy")), fmt(f["roc_auc"]),
             pct(f["coverage"]), pct(f["gated_accuracy"]), f["n_trades"],
             fmt(f["expectancy"], 4), ci_text(f.get("expectancy_ci"))]
            for f in wf["folds"]]
    s = wf["summary"]
    rows.append(["all", "", "", "", "", pct(s["pooled_accuracy"]),
                 pct(s.get("baseline_accuracy")), fmt(_weighted(s["roc_auc"])),
                 pct(_weighted(s["coverage"])), pct(_weighted(s["gated_accuracy"])),
                 s["n_trades"], fmt(s["pooled_expectancy"], 4),
                 ci_text((s.get("pooled_intervals") or {}).get("expectancy"))])
    return (f"Walk-forward ({wf['n_folds']} {kind} folds, purged + embargoed; 'all': pooled or "
            "weighted by fold size)\n" + table(headers, rows))


def _weighted(entry: dict[str, Any]) -> float | None:
    return entry.get("weighted", entry.get("mean"))


def summary_lines(model: MLModel) -> str:
    m = model.metrics
    cb, rows, r = m["class_balance"], m["rows"], m["ranges"]
    top = ", ".join(f"{i['feature']} ({i['mean']:.4f})" for i in m.get("importances", [])[:5])
    sel = m.get("feature_selection", {})
    return "\n".join([
        f"Label: {model.label_spec.get('kind')}  threshold: {model.threshold:.2f}  "
        f"cost: {fmt((m.get('tuning') or {}).get('cost', model.params['config']['cost']), 4)} "
        "price units/trade",
        f"Class balance (fit): {cb['fit']['up']} up / {cb['fit']['down']} down "
        f"({pct(cb['fit']['share_up'])} up)",
        f"Rows: fit {rows['fit']}, validation {rows['validation']}, test {rows['test']}; "
        f"{rows['unlabelled_dropped']} bars without a direction kept out of training",
        f"Data: fit {r['fit']['start'][:10]}..{r['fit']['end'][:10]}, validation "
        f"{r['validation']['start'][:10]}..{r['validation']['end'][:10]}, test "
        f"{r['test']['start'][:10]}..{r['test']['end'][:10]} (gap {r['gap_bars']} bars)",
        f"Top features (permutation importance, log loss): {top or '-'}",
        f"Feature selection: {'on' if sel.get('enabled') else 'off'}, {sel.get('kept')} kept, "
        f"{len(sel.get('dropped', []))} dropped",
    ])


def threshold_choice_table(choice: ThresholdChoice) -> str:
    headers = ["threshold", "trades", "coverage", "win rate", "net exp./trade", "net total", ""]
    rows = [[f"{r.threshold:.2f}", r.n_trades, pct(r.coverage), pct(r.win_rate),
             fmt(r.expectancy, 4), fmt(r.total, 2),
             "<- chosen" if r.threshold == choice.threshold else
             ("(too few trades)" if r.n_trades < choice.min_trades else "")]
            for r in choice.table]
    return table(headers, rows)


def comparison_table(models: Sequence[MLModel]) -> str:
    headers = ["id", "algorithm", "thr", "val exp.", "WF acc", "majority", "WF AUC",
               "WF trades", "WF exp.", "95% CI", "optimism", "thr DSR", "thr PBO",
               "test acc", "test AUC", "acc. traded [95% CI]", "test exp.", "fit s"]
    rows = []
    for model in models:
        m = model.metrics
        wf = m.get("walk_forward", {}).get("summary", {})
        test = m["test"]
        sel = m.get("selection") or {}
        search = m.get("threshold_search") or {}
        rows.append([
            model.pk, model.algorithm, fmt(model.threshold, 2),
            fmt(m["validation"]["trades"]["expectancy"], 4),
            pct(wf.get("pooled_accuracy")), pct(wf.get("baseline_accuracy")),
            fmt(_weighted(wf.get("roc_auc", {}))), wf.get("n_trades", "-"),
            fmt(wf.get("pooled_expectancy"), 4),
            ci_text((wf.get("pooled_intervals") or {}).get("expectancy")),
            fmt(sel.get("optimism"), 4),
            pct((search.get("deflated_sharpe") or {}).get("probability")),
            pct((search.get("pbo") or {}).get("pbo")),
            pct(test["accuracy"]), fmt(test["roc_auc"]),
            f"{pct(test['gated_accuracy'])} {ci_text(test.get('gated_accuracy_ci'), True)}",
            fmt(test["trades"]["expectancy"], 4), fmt(m["timing"]["fit_seconds"], 1)])
    return table(headers, rows)


def predictions_table(frame: pd.DataFrame) -> str:
    rows = []
    for time, row in frame.iterrows():
        actual = row["actual"]
        rows.append([f"{time:%Y-%m-%d %H:%M}", fmt(row["close"], 5), pct(row["proba_up"]),
                     pct(row["proba_down"]), decision_name(int(row["decision"])),
                     "-" if np.isnan(actual) else ("up" if actual > 0 else "down")])
    return table(["bar (UTC open)", "close", "P(up)", "P(down)", "decision", "actual"], rows)
