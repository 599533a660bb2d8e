"""``backtest --retrain-every``: the walk-forward never trains on a bar it then trades, the
stitched result is the one engine run over the stitched signals, the comparison is the model
as it is, nothing is registered, and bad input is refused clearly."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from backtests import signals as model_signals
from backtests.engine import run_backtest
from backtests.models import BacktestRun, RunStatus
from backtests.retraining import RetrainPolicy
from backtests.services import retraining, runs
from mlops import pipeline
from mlops.models import MLModel, ModelAuditLog

PERIOD = ("--start", "2021-09-01", "--end", "2021-12-31")


def run_command(*args: str) -> str:
    out = io.StringIO()
    call_command("backtest", *args, stdout=out)
    return out.getvalue()


def record_training(monkeypatch) -> list[dict]:
    """Instrument the pipeline: per training call, the first and last bar it was given and
    the bar the last label it built reads (``horizon`` bars after the last labelled row)."""
    calls: list[dict] = []
    real_train, real_build = pipeline.train, pipeline.build_dataset

    def train(bars, config, feature_set, progress=None, cost_per_bar=None):
        calls.append({"first_bar": bars.index.min(), "last_bar": bars.index.max()})
        return real_train(bars, config, feature_set, progress, cost_per_bar=cost_per_bar)

    def build_dataset(bars, feature_set, spec, features=None):
        ds = real_build(bars, feature_set, spec, features)
        last_labelled = ds.times[ds.usable][-1]
        calls[-1]["label_end"] = bars.index[bars.index.get_loc(last_labelled) + spec.horizon]
        return ds

    monkeypatch.setattr(pipeline, "train", train)
    monkeypatch.setattr(pipeline, "build_dataset", build_dataset)
    return calls


def test_retrain_every_never_trains_on_a_bar_it_then_trades(model, monkeypatch):
    registry = list(MLModel.objects.values_list("pk", "status", "threshold"))
    audit_entries = ModelAuditLog.objects.count()
    calls = record_training(monkeypatch)
    run_command("--model", str(model.pk), *PERIOD, "--retrain-every", "1M", "--json")
    run = BacktestRun.objects.get()
    segments = run.params["retrain"]["segments"]
    assert run.status == RunStatus.SUCCEEDED and len(segments) == len(calls) == 4
    for call, segment in zip(calls, segments, strict=True):
        first_traded = pd.Timestamp(segment["trade_start"])
        # Nothing the model was given, and no label it learned, reaches its traded segment.
        assert call["last_bar"] < first_traded and call["label_end"] < first_traded
        assert call["last_bar"] == pd.Timestamp(segment["train_end"])
        assert segment["trained_until"] == segment["train_end"]
        # The last label reads the last bar given at most (a tie at the very end is no
        # label); the embargo (the horizon: 1 bar here) lies between it and the segment.
        assert call["label_end"] <= pd.Timestamp(segment["train_end"])
        assert call["first_bar"] == pd.Timestamp(segment["train_start"])
    # Every trade lies after the data of the model of its segment (and so of every earlier
    # segment's model, which decided it when it was entered at a segment's first bar).
    starts = [pd.Timestamp(s["trade_start"]) for s in segments]
    for entry_time in run.trades.values_list("entry_time", flat=True):
        k = int(np.searchsorted(starts, pd.Timestamp(entry_time), side="right")) - 1
        assert k >= 0 and pd.Timestamp(entry_time) > calls[k]["last_bar"]
    # The segment models were kept in memory: nothing registered, the champion untouched.
    assert list(MLModel.objects.values_list("pk", "status", "threshold")) == registry
    assert ModelAuditLog.objects.count() == audit_entries


def test_stitched_result_is_the_one_engine_over_the_stitched_signals(model):
    text = run_command("--model", str(model.pk), *PERIOD, "--retrain-every", "2M")
    run = BacktestRun.objects.get()
    record = run.params["retrain"]
    # Rebuild the stitched signals (same schedule, same seeds: the same models) and run the
    # engine on them with the run's settings: the stored run is exactly that backtest.
    plan = retraining.retrain_plan(model, run.start, run.end,
                                   RetrainPolicy.from_dict(record))
    stitched = retraining.stitched_signals(plan, model_signals.feature_set_for(model), model,
                                           None)
    assert [m["model_sha256"] for m in stitched.models] == [
        s["model_sha256"] for s in record["segments"]]
    champion = model_signals.model_probabilities(model, run.start, run.end)
    config = runs.engine_config(run, runs.run_params(run))
    expected = run_backtest(runs.prepared_bars(champion, config), stitched.decisions, config,
                            confidence=stitched.confidence)
    stored = [(pd.Timestamp(t), float(p)) for t, p in
              run.trades.order_by("number").values_list("entry_time", "net_pnl")]
    assert stored == [(pd.Timestamp(t), pytest.approx(p, abs=0.005)) for t, p in
                      zip(expected.trades["entry_time"], expected.trades["net_pnl"], strict=True)]
    assert run.net_profit == Decimal(str(expected.metrics["net_profit"])).quantize(Decimal("0.01"))
    # The segments add up to the stitched totals.
    assert sum(s["trades"] for s in record["segments"]) == run.trade_count
    assert sum(s["net_profit"] for s in record["segments"]) == pytest.approx(
        float(run.net_profit), abs=0.01)
    # Each segment traded its own model's decisions (the stitch is in time order).
    assert len(stitched.decisions) == len(champion.bars) == run.bars
    assert "Retraining every 2M" in text and "as-is net" in text
    assert "Stitched out-of-sample result vs the model as it is" in text


def test_as_is_comparison_is_the_plain_backtest_of_the_same_period(model):
    data = json.loads(run_command("--model", str(model.pk), *PERIOD, "--retrain-every", "2M",
                                  "--window", "expanding", "--threshold", "0.55", "--json"))
    record = data["retraining"]
    run_command("--model", str(model.pk), *PERIOD, "--threshold", "0.55")
    plain = BacktestRun.objects.exclude(pk=data["run"]).get()
    assert record["as_is"]["trades"] == plain.trade_count
    assert record["as_is"]["net_profit"] == float(plain.net_profit)
    assert record["as_is"]["threshold"] == plain.threshold == 0.55
    # --threshold applies to every segment's model too.
    assert {(s["threshold"], s["threshold_source"]) for s in record["segments"]} == {
        (0.55, "the run's --threshold")}
    for key, value in record["difference"].items():
        if value is not None:
            assert value == pytest.approx(record["stitched"][key] - record["as_is"][key])
    # The JSON carries the run and the schedule's record: expanding = from the champion's start.
    assert data["net_profit"] == f"{Decimal(str(record['stitched']['net_profit'])):.2f}"
    assert record["window"] == "expanding" and record["every"] == "2M"
    assert {s["train_start"] for s in record["segments"]} == {model.data_start.isoformat()}
    assert [s["trade_start"][:10] for s in record["segments"]] == ["2021-09-01", "2021-11-01"]
    assert all(len(s["model_sha256"]) == 64 and len(s["data_sha256"]) == 64
               for s in record["segments"])
    assert "Retraining" in data["parameters"]


@pytest.mark.parametrize(("args", "expected"), [
    (["--retrain-every", "3X"], "bad period '3X'"),
    (["--retrain-every", "3m"], "units upper-case"),
    (["--window", "expanding"], "--window needs --retrain-every"),
    (["--train-length", "1Y"], "--train-length needs --retrain-every"),
    (["--retrain-every", "1M", "--window", "expanding", "--train-length", "1Y"],
     "sliding window only"),
    (["--retrain-every", "1M", "--window", "rolling"], "invalid choice: 'rolling'"),
    (["--retrain-every", "1M", "--sweep"], "--sweep is not available with --retrain-every"),
    (["--retrain-every", "1M", "--train-length", "2W"], "training needs at least 500"),
])
def test_bad_retraining_options_are_refused_clearly(model, args, expected):
    with pytest.raises(CommandError) as caught:
        run_command("--model", str(model.pk), *PERIOD, *args)
    assert expected in str(caught.value)
    assert not BacktestRun.objects.exists()


def test_a_model_without_its_training_settings_cannot_be_retrained(model):
    MLModel.objects.filter(pk=model.pk).update(params={})
    with pytest.raises(CommandError, match=f"model #{model.pk} stores no training config"):
        run_command("--model", str(model.pk), *PERIOD, "--retrain-every", "1M")
    assert not BacktestRun.objects.exists()
