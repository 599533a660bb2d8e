"""The verdict rules (``readiness.criteria``) on hand-built figures: each criterion passing
and failing, a missing figure failing with a reason (never GO by omission), thresholds from
settings. Pure: no database."""

from __future__ import annotations

import math

import pytest

from readiness.criteria import GO, NO_GO, Thresholds, evaluate

# A model that clears every bar (the seed's thresholds).
PASSING = {
    "win_rate": 0.56, "win_rate_low": 0.51, "win_rate_high": 0.61,
    "profit_factor": 1.9, "profit_factor_low": 1.55, "profit_factor_high": 2.3,
    "max_drawdown_pct": 8.5, "trades": 120, "stop_conditions": 0, "replay_agreement": 1.0,
    "reconciliation_clean": True, "lookahead_clean": True, "deflated_sharpe": 0.97,
    "dsr_trials": 40, "pbo": 0.2,
}
# (criterion, figure changes that make it fail, words its reason must contain)
FAILURES = [
    ("win_rate", {"win_rate": 0.50}, "win rate 50.0% is not above 50.0%"),
    ("profit_factor", {"profit_factor": 1.5}, "profit factor 1.50 is not above 1.50"),
    ("max_drawdown", {"max_drawdown_pct": 20.0}, "max drawdown 20.0 % is not below 20.0 %"),
    ("min_trades", {"trades": 29}, "too few trades"),
    ("stop_conditions", {"stop_conditions": 1}, "risk halts or kill switches"),
    ("replay_agreement", {"replay_agreement": 0.9}, "did not make the trades the backtest"),
    ("reconciliation", {"reconciliation_clean": False}, "did not reconcile clean"),
    ("lookahead", {"lookahead_clean": False}, "use future bars"),
    ("deflated_sharpe", {"deflated_sharpe": 0.94}, "the 40 configurations tried"),
    ("pbo", {"pbo": 0.51}, "likely overfitted"),
]
FIGURE_OF = {"win_rate": "win_rate", "profit_factor": "profit_factor",
             "max_drawdown": "max_drawdown_pct", "min_trades": "trades",
             "stop_conditions": "stop_conditions", "replay_agreement": "replay_agreement",
             "reconciliation": "reconciliation_clean", "lookahead": "lookahead_clean",
             "deflated_sharpe": "deflated_sharpe", "pbo": "pbo"}


def by_name(verdict):
    return {c.name: c for c in verdict.criteria}


def test_every_criterion_passing_is_go():
    verdict = evaluate(PASSING)
    assert verdict.verdict == GO and verdict.reasons == ()
    assert set(by_name(verdict)) == set(FIGURE_OF)
    assert all(c.passed for c in verdict.criteria)
    win = by_name(verdict)["win_rate"]
    assert (win.measured, win.threshold, win.low, win.high) == (0.56, 0.5, 0.51, 0.61)


@pytest.mark.parametrize(("name", "change", "words"), FAILURES,
                         ids=[f[0] for f in FAILURES])
def test_each_failing_criterion_alone_makes_no_go_with_its_reason(name, change, words):
    verdict = evaluate({**PASSING, **change})
    assert verdict.verdict == NO_GO
    failed = [c for c in verdict.criteria if not c.passed]
    assert [c.name for c in failed] == [name]
    assert verdict.reasons == (failed[0].reason,)
    assert words in failed[0].reason, failed[0].reason


@pytest.mark.parametrize("name", list(FIGURE_OF))
@pytest.mark.parametrize("missing", ["absent", None, math.nan])
def test_a_missing_figure_fails_its_criterion_never_go_by_omission(name, missing):
    figures = dict(PASSING)
    if missing == "absent":
        del figures[FIGURE_OF[name]]
    else:
        figures[FIGURE_OF[name]] = missing
    verdict = evaluate(figures)
    assert verdict.verdict == NO_GO
    failed = by_name(verdict)[name]
    assert not failed.passed and failed.measured is None
    assert "not measured" in failed.reason
    assert verdict.reasons == (failed.reason,)


def test_empty_figures_fail_every_criterion():
    verdict = evaluate({})
    assert verdict.verdict == NO_GO
    assert len(verdict.reasons) == len(FIGURE_OF)


def test_pbo_without_a_pbo_is_not_applicable_only_when_the_reason_is_given():
    verdict = evaluate({**PASSING, "pbo": None, "pbo_reason": "too few periods"})
    pbo = by_name(verdict)["pbo"]
    assert verdict.verdict == GO and pbo.passed
    assert pbo.reason == "PBO not applicable: too few periods"


def test_an_infinite_profit_factor_passes_and_serialises():
    verdict = evaluate({**PASSING, "profit_factor": "inf"})
    pf = by_name(verdict)["profit_factor"]
    assert pf.passed and pf.to_dict()["measured"] == "inf"
    assert "infinite" in pf.reason


def test_a_text_flag_is_not_a_pass():
    verdict = evaluate({**PASSING, "lookahead_clean": "yes"})
    assert not by_name(verdict)["lookahead"].passed


def test_thresholds_from_settings_override_only_the_keys_given():
    thresholds = Thresholds.from_mapping({"min_trades": "10", "max_pbo": 0.4})
    assert thresholds == Thresholds(min_trades=10, max_pbo=0.4)
    assert Thresholds.from_mapping(None) == Thresholds()
    verdict = evaluate({**PASSING, "trades": 12, "pbo": 0.45}, thresholds)
    assert [c.name for c in verdict.criteria if not c.passed] == ["pbo"]


@pytest.mark.parametrize(("values", "words"), [
    ({"min_winrate": 0.5}, "unknown key(s) min_winrate"),
    ({"max_pbo": "half"}, "READINESS_THRESHOLDS['max_pbo'] must be a number"),
    ({"min_profit_factor": "inf"}, "must be finite"),
])
def test_bad_thresholds_say_which_key(values, words):
    with pytest.raises(ValueError, match="READINESS_THRESHOLDS") as info:
        Thresholds.from_mapping(values)
    assert words in str(info.value)


def test_the_seed_thresholds_are_the_defaults():
    t = Thresholds()
    assert (t.min_win_rate, t.min_profit_factor, t.max_drawdown_pct) == (0.5, 1.5, 20.0)
    assert (t.min_trades, t.min_deflated_sharpe, t.max_pbo) == (30, 0.95, 0.5)


def test_bad_thresholds_are_a_system_check_error(settings):
    from readiness.checks import readiness_thresholds_check

    assert readiness_thresholds_check() == []
    settings.READINESS_THRESHOLDS = {"min_trade": 5}
    [error] = readiness_thresholds_check()
    assert error.id == "readiness.E001" and "unknown key(s) min_trade" in error.msg
