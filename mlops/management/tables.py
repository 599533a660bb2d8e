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


def _window_rows(name: str, m: dict[str, Any]) -> list[str]:
    t = m.get("trades", {})
    return [name, str(m.get("n", "-")), pct(m.get("accuracy")), fmt(m.get("precision")),
            fmt(m.get("recall")), fmt(m.get("f1")), fmt(m.get("roc_auc")),
            fmt(m.get("log_loss")), fmt(m.get("brier")), pct(m.get("coverage")),
            pct(m.get("gated_accuracy")), str(t.get("n_trades", "-")),
            fmt(t.get("expectancy"), 4)]


def metrics_table(model: MLModel) -> str:
    m = model.metrics
    headers = ["window", "rows", "accuracy", "precision", "recall", "F1", "ROC AUC",
               "log loss", "Brier", "coverage", "acc. traded", "trades", "net exp./trade"]
    rows = [_window_rows("validation", m["validation"]), _window_rows("test", m["test"])]
    lines = [table(headers, rows), ""]
    cm = m["test"]["confusion_matrix"]["counts"]
    lines += ["Test confusion matrix (rows: actual, columns: decision)",
              table(["actual", "SELL", "HOLD", "BUY"], [["down", *cm[0]], ["up", *cm[1]]]), ""]
    wf = m.get("walk_forward")
    if wf:
        lines += [walk_forward_table(wf), ""]
    lines += [summary_lines(model)]
    return "\n".join(lines)


def walk_forward_table(wf: dict[str, Any]) -> str:
    kind = "expanding" if wf["expanding"] else "rolling"
    headers = ["fold", "test from", "test to", "train bars", "thr", "accuracy", "ROC AUC",
               "coverage", "acc. traded", "trades", "net exp./trade"]
    rows = [[f["fold"] + 1, f["test_start"][:10], f["test_end"][:10], f["train_bars"],
             fmt(f["threshold"], 2), pct(f["accuracy"]), fmt(f["roc_auc"]), pct(f["coverage"]),
             pct(f["gated_accuracy"]), f["n_trades"], fmt(f["expectancy"], 4)]
            for f in wf["folds"]]
    s = wf["summary"]
    rows.append(["all", "", "", "", "", pct(s["pooled_accuracy"]), fmt(s["roc_auc"]["mean"]),
                 pct(s["coverage"]["mean"]), pct(s["gated_accuracy"]["mean"]), s["n_trades"],
                 fmt(s["pooled_expectancy"], 4)])
    return f"Walk-forward ({wf['n_folds']} {kind} folds, purged + embargoed)\n" + table(
        headers, rows)


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
    headers = ["id", "algorithm", "thr", "val exp.", "WF acc", "WF AUC", "WF trades",
               "WF exp.", "test acc", "test AUC", "coverage", "acc. traded", "test exp.",
               "fit s"]
    rows = []
    for model in models:
        m = model.metrics
        wf = m.get("walk_forward", {}).get("summary", {})
        test = m["test"]
        rows.append([
            model.pk, model.algorithm, fmt(model.threshold, 2),
            fmt(m["validation"]["trades"]["expectancy"], 4),
            pct(wf.get("pooled_accuracy")), fmt(wf.get("roc_auc", {}).get("mean")),
            wf.get("n_trades", "-"), fmt(wf.get("pooled_expectancy"), 4),
            pct(test["accuracy"]), fmt(test["roc_auc"]), pct(test["coverage"]),
            pct(test["gated_accuracy"]), fmt(test["trades"]["expectancy"], 4),
            fmt(m["timing"]["fit_seconds"], 1)])
    return table(headers, rows)


def predictions_table(frame: pd.DataFrame) -> str:
    rows = []
    for time, row in frame.iterrows():
        actual = row["actual"]
        rows.append([f"{time:%Y-%m-%d %H:%M}", fmt(row["close"], 5), pct(row["proba_up"]),
                     pct(row["proba_down"]), decision_name(int(row["decision"])),
                     "-" if np.isnan(actual) else ("up" if actual > 0 else "down")])
    return table(["bar (UTC open)", "close", "P(up)", "P(down)", "decision", "actual"], rows)
