"""The dashboard's SVG plotting kit and charts (pure: no database, no Django): well-formed SVG,
escaped text, round ticks, downsampling that keeps the extremes, shapes inside the plot."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from monitoring import charts, svg

NS = "{http://www.w3.org/2000/svg}"


def parse(markup: str) -> ET.Element:
    # Our own markup, not untrusted input; raises on malformed XML (an unescaped "<" or "&").
    root = ET.fromstring(markup)  # noqa: S314
    assert root.tag == f"{NS}svg"
    return root


def coordinates(root: ET.Element, css: str) -> np.ndarray:
    [path] = [p for p in root.iter(f"{NS}path") if p.get("class") == css]
    return np.array([float(v) for v in re.findall(r"-?\d+\.\d+", path.get("d"))]).reshape(-1, 2)


def test_text_is_escaped() -> None:
    plot = svg.Plot('P&L <"gold"> & co')
    plot.empty("a < b & c")
    root = parse(plot.render())
    assert root.find(f"{NS}title").text == 'P&L <"gold"> & co'
    assert root.get("aria-label") == 'P&L <"gold"> & co'
    assert any(t.text == "a < b & c" for t in root.iter(f"{NS}text"))


@pytest.mark.parametrize(("lo", "hi", "expected"), [
    (0, 100, [0, 25, 50, 75, 100]),
    (9_870.0, 10_340.0, [9_800, 10_000, 10_200, 10_400]),
    (0.0, 1.3, [0, 0.5, 1.0, 1.5]),
    (5.0, 5.0, [4.6, 4.8, 5.0, 5.2, 5.4]),  # a flat series still gets a band
])
def test_nice_ticks_are_round_and_cover_the_range(lo, hi, expected) -> None:
    ticks = svg.nice_ticks(lo, hi)
    assert ticks == pytest.approx(expected)
    assert ticks[0] <= lo and ticks[-1] >= hi


def test_tick_labels_have_the_decimals_their_step_needs() -> None:
    assert svg.tick_label(10_000.0, 100.0) == "10,000"
    assert svg.tick_label(0.5, 0.5) == "0.5"
    assert svg.tick_label(2.5, 2.5) == "2.5"
    assert svg.tick_label(0.75, 0.25) == "0.75"
    assert svg.tick_label(-0.0, 1.0) == "0"


def test_reduce_keeps_every_bucket_extreme_in_order() -> None:
    rng = np.random.default_rng(7)
    y = np.cumsum(rng.normal(size=10_000))
    x = np.arange(len(y))
    xs, ys = svg.reduce(x, y, 600)
    assert len(xs) <= 600 and np.all(np.diff(xs) > 0)
    assert ys.min() == y.min() and ys.max() == y.max()  # the worst dip survives
    assert np.array_equal(ys, y[xs])
    short = np.arange(10.0)
    assert svg.reduce(short, short, 600)[1] is short  # short series are drawn as they are


def test_equity_chart_draws_balance_and_drawdown_inside_the_plot() -> None:
    net = np.array([10.0, -30.0, 5.0, 40.0, -5.0])
    root = parse(charts.equity_svg(np.arange(5), 1_000 + np.cumsum(net), 1_000.0))
    line = coordinates(root, "chart-equity")
    band = coordinates(root, "chart-drawdown")
    assert len(line) == 5 and len(band) == 10
    plot = svg.Plot("x")
    for pts in (line, band):
        assert pts[:, 0].min() >= plot.left and pts[:, 0].max() <= plot.right
        assert pts[:, 1].min() >= plot.top and pts[:, 1].max() <= plot.bottom
    # Screen y grows downwards: the 2nd trade (balance 980) is the lowest point drawn.
    assert line[:, 1].argmax() == 1


def test_a_year_of_trades_is_reduced_to_the_plot_width() -> None:
    net = np.random.default_rng(3).normal(1, 10, 5_000)
    root = parse(charts.equity_svg(np.arange(5_000), 10_000 + np.cumsum(net), 10_000.0))
    assert len(coordinates(root, "chart-equity")) <= svg.Plot("x").pixels


def test_rolling_chart_caps_profit_factor_and_keeps_win_rate() -> None:
    net = np.array([5.0] * 20 + [-5.0] * 10)  # first window has no loss: PF drawn at the cap
    root = parse(charts.rolling_svg(net, window=20))
    assert len(coordinates(root, "chart-win-rate")) == 11
    pf = coordinates(root, "chart-profit-factor")
    assert pf[0, 1] == pf[:, 1].min()  # the highest PF (the cap) is the first point
    texts = [t.text for t in root.iter(f"{NS}text")]
    assert "win %" in texts and "PF" in texts


def test_signals_chart_stacks_hold_on_top() -> None:
    days = ["2026-11-01", "2026-11-02"]
    root = parse(charts.signals_svg(days, np.array([3.0, 0.0]), np.array([1.0, 2.0])))
    traded = next(p for p in root.iter(f"{NS}path") if p.get("class") == "chart-traded").get("d")
    held = next(p for p in root.iter(f"{NS}path") if p.get("class") == "chart-held").get("d")
    assert traded.count("Z") == 1 and held.count("Z") == 2  # a zero bar is not drawn
    assert "11-01" in [t.text for t in root.iter(f"{NS}text")]


@pytest.mark.parametrize(("markup", "message"), [
    (charts.equity_svg(np.array([]), np.array([]), 100.0), "no closed trades yet"),
    (charts.rolling_svg(np.array([1.0, -1.0])), "fewer than 20 trades"),
    (charts.signals_svg([], np.array([]), np.array([])), "no signals"),
])
def test_empty_charts_say_why(markup: str, message: str) -> None:
    root = parse(markup)
    assert [t.text for t in root.iter(f"{NS}text") if t.get("class") == "chart-empty"] == [message]
    assert len(list(root.iter(f"{NS}path"))) >= 3  # a frame, not a blank box
