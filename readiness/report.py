"""The readiness report as one self-contained HTML document (pure: no Django imports).

Inline CSS, and the held-out backtest's equity and drawdown charts as the inline SVG
``backtests.report`` drew for its run; no script, no external URL."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from typing import Any

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:70em}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.5em}
table{border-collapse:collapse;font-size:.9em}
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f3f3f3}
.verdict{font-size:1.6em;font-weight:bold;padding:.3em .8em;display:inline-block}
.GO{background:#dff3df;color:#070;border:2px solid #070}
.NO-GO{background:#fbe3e3;color:#b00;border:2px solid #b00}
.pass{color:#070;font-weight:bold}.fail{color:#b00;font-weight:bold}
.charts svg{max-width:100%;height:auto;display:block;margin-bottom:1em}
.synthetic{border:3px solid #b36b00;background:#fff8e6;padding:.5em 1.2em}
pre{background:#f7f7f7;padding:.8em;overflow:auto;font-size:.8em}
"""


def fmt_value(value: Any, name: str = "") -> str:
    """A measured value or threshold as the command and the report print it."""
    if value is None:
        return "not measured"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value == "inf":
        return "infinite"
    if isinstance(value, int | float):
        if name in ("win_rate", "replay_agreement"):
            return f"{value:.1%}"
        if name == "max_drawdown":
            return f"{value:.2f} %"
        if name in ("min_trades", "stop_conditions"):
            return f"{value:,.0f}"
        return f"{value:.3f}" if name in ("deflated_sharpe", "pbo") else f"{value:.2f}"
    return str(value)


def threshold_text(criterion: Mapping[str, Any]) -> str:
    if criterion["comparison"] == "==":
        return "must be " + fmt_value(criterion["threshold"])
    return f"{criterion['comparison']} {fmt_value(criterion['threshold'], criterion['name'])}"


def interval_text(criterion: Mapping[str, Any]) -> str:
    low, high = criterion.get("low"), criterion.get("high")
    if low is None or high is None:
        return "-"
    return f"{fmt_value(low, criterion['name'])} to {fmt_value(high, criterion['name'])}"


def _criteria_table(criteria: list[Mapping[str, Any]]) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(c['label'])}</td>"
        f"<td>{html.escape(fmt_value(c['measured'], c['name']))}</td>"
        f"<td>{html.escape(threshold_text(c))}</td>"
        f"<td>{html.escape(interval_text(c))}</td>"
        f"<td class='{'pass' if c['passed'] else 'fail'}'>{'PASS' if c['passed'] else 'FAIL'}"
        f"</td><td>{html.escape(c['reason'])}</td></tr>" for c in criteria)
    return ("<table><tr><th>criterion</th><th>measured</th><th>threshold</th>"
            "<th>95% interval</th><th>result</th><th>why</th></tr>" + rows + "</table>")


def _key_values(items: Mapping[str, Any]) -> str:
    rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
                   for k, v in items.items())
    return f"<table>{rows}</table>"


def render_html(data: Mapping[str, Any]) -> str:
    """``data``: id, model, series, verdict, reasons, criteria, figures, window, fingerprint,
    ran_by, created_at, duration, charts (equity_svg, drawdown_svg), synthetic."""
    title = f"Readiness #{data['id']}: model {data['model']}, {data['series']}"
    verdict = data["verdict"]
    reasons = "".join(f"<li>{html.escape(r)}</li>" for r in data["reasons"])
    charts = data.get("charts") or {}
    svg = "".join(charts.get(k) or "" for k in ("equity_svg", "drawdown_svg"))
    figures = json.dumps(data["figures"], indent=2, sort_keys=True, default=str)
    synthetic = ("<p class='synthetic'>SYNTHETIC DATA: these figures come from generated "
                 "bars, not from a market.</p>" if data.get("synthetic") else "")
    return "".join((
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>", synthetic,
        f"<p><span class='verdict {html.escape(verdict)}'>{html.escape(verdict)}</span></p>",
        f"<ul>{reasons}</ul>" if reasons else "<p>Every criterion passed.</p>",
        "<h2>Criteria</h2>", _criteria_table(data["criteria"]),
        "<h2>Data window</h2>", _key_values(data["window"]),
        "<h2>Run</h2>", _key_values({
            "model fingerprint": data["fingerprint"], "ran by": data["ran_by"],
            "created": data["created_at"], "duration": f"{data['duration']:.1f} s"}),
        f"<h2>Held-out backtest charts</h2><div class='charts'>{svg}</div>" if svg else "",
        "<h2>Every figure</h2>", f"<pre>{html.escape(figures)}</pre>",
        "</body></html>",
    ))
