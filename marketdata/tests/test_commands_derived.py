"""generate_sample_data and resample_bars: stored through bars_upsert, idempotent, marked."""

from __future__ import annotations

from io import StringIO

import pandas as pd
import pytest
from django.core.management import CommandError, call_command

from marketdata.models import Bar
from marketdata.resample import resample_bars
from marketdata.selectors import load_bars
from marketdata.services import bars_upsert
from marketdata.synthetic import generate_bars, generate_range

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().strip()


def test_generate_sample_data_stores_synthetic_bars_and_says_so():
    line = run("generate_sample_data", "--symbol", "XAUUSD", "--timeframe", "H1",
               "--years", "0.05", "--seed", "42")
    expected = generate_bars("H1", years=0.05, seed=42)
    assert line.startswith("SYNTHETIC XAUUSD H1 (seed 42")
    assert f"inserted {len(expected):,}, unchanged 0, conflicts 0" in line
    assert "\n" not in line
    stored = Bar.objects.filter(instrument__symbol="XAUUSD", timeframe="H1")
    assert stored.count() == len(expected)
    assert not stored.filter(synthetic=False).exists()
    loaded = load_bars("XAUUSD", "H1")
    pd.testing.assert_frame_equal(loaded, expected, check_index_type=False)
    assert loaded.attrs["synthetic"] is True


def test_generate_sample_data_rerun_inserts_nothing():
    run("generate_sample_data", "--years", "0.05")
    line = run("generate_sample_data", "--years", "0.05")
    count = Bar.objects.filter(timeframe="H1").count()
    assert f"inserted 0, unchanged {count:,}, conflicts 0" in line
    assert Bar.objects.count() == count


def test_generate_sample_data_refuses_to_mix_into_real_bars():
    real = generate_range("2024-03-04", "2024-03-05", "H1", seed=1, start_price=2000.0)
    bars_upsert("XAUUSD", "H1", real, synthetic=False)
    with pytest.raises(CommandError, match="real"):
        run("generate_sample_data", "--years", "0.05")
    assert Bar.objects.filter(synthetic=True).count() == 0


def test_generate_sample_data_for_eurusd_starts_at_its_2005_price():
    run("generate_sample_data", "--symbol", "EURUSD", "--years", "0.02")
    assert load_bars("EURUSD", "H1")["open"].iloc[0] == 1.35


def test_generate_sample_data_refuses_an_unknown_symbol():
    with pytest.raises(CommandError, match="unknown symbol"):
        run("generate_sample_data", "--symbol", "BTCXYZ", "--years", "0.01")


def test_resample_m15_to_h1_stores_complete_synthetic_bars():
    run("generate_sample_data", "--timeframe", "M15", "--years", "0.05", "--seed", "7")
    line = run("resample_bars", "--symbol", "XAUUSD", "--from", "M15", "--to", "H1")
    m15 = load_bars("XAUUSD", "M15")
    expected = resample_bars(m15, "H1")
    h1 = load_bars("XAUUSD", "H1")
    pd.testing.assert_frame_equal(h1, expected, check_index_type=False)
    assert not Bar.objects.filter(timeframe="H1", synthetic=False).exists()
    assert line.startswith(f"XAUUSD M15 -> H1: {len(expected):,} bars ({len(expected):,} "
                           "SYNTHETIC)")
    assert "conflicts 0" in line
    # The H1 sample of the same seed is the same path: nothing differs.
    again = run("generate_sample_data", "--timeframe", "H1", "--years", "0.05", "--seed", "7")
    assert "conflicts 0" in again


def test_resample_rerun_is_idempotent():
    run("generate_sample_data", "--timeframe", "M15", "--years", "0.03")
    run("resample_bars", "--from", "M15", "--to", "H4")
    before = Bar.objects.filter(timeframe="H4").count()
    line = run("resample_bars", "--from", "M15", "--to", "H4")
    assert f"inserted 0, unchanged {before:,}, conflicts 0" in line
    assert Bar.objects.filter(timeframe="H4").count() == before > 0


def test_a_bin_built_from_any_synthetic_bar_is_synthetic():
    m15 = generate_range("2024-03-04", "2024-03-06", "M15", seed=2, start_price=2000.0)
    real, fake = m15.loc[:"2024-03-04 10:15"], m15.loc["2024-03-04 10:30":]
    bars_upsert("XAUUSD", "M15", real, synthetic=False)
    bars_upsert("XAUUSD", "M15", fake, synthetic=True)
    run("resample_bars", "--from", "M15", "--to", "H1")
    h1 = Bar.objects.filter(timeframe="H1").order_by("time")
    real_hours = [b.time.hour for b in h1 if not b.synthetic]
    assert real_hours == list(range(10))  # 00:00..09:00; the 10:00 hour mixes in fake bars
    assert h1.get(time="2024-03-04T10:00Z").synthetic


def test_resample_respects_start_and_end():
    run("generate_sample_data", "--timeframe", "M15", "--years", "0.05")
    run("resample_bars", "--from", "M15", "--to", "H1", "--start", "2005-01-04",
        "--end", "2005-01-05 23:45")
    h1 = load_bars("XAUUSD", "H1")
    assert h1.index[0] == pd.Timestamp("2005-01-04", tz="UTC")
    assert h1.index[-1] == pd.Timestamp("2005-01-05 23:00", tz="UTC")


def test_resample_of_nothing_says_so():
    assert run("resample_bars", "--from", "M15", "--to", "H1").endswith(
        "0 bars no bars: inserted 0, unchanged 0, conflicts 0")


def test_resample_to_a_shorter_timeframe_is_refused():
    run("generate_sample_data", "--timeframe", "H1", "--years", "0.01")
    with pytest.raises(CommandError, match="whole multiple"):
        run("resample_bars", "--from", "H1", "--to", "M15")
    assert not Bar.objects.filter(timeframe="M15").exists()


def test_resample_to_d1_follows_the_forex_day_by_default_and_utc_on_request():
    run("generate_sample_data", "--timeframe", "H1", "--years", "0.05")
    line = run("resample_bars", "--from", "H1", "--to", "D1")
    d1 = load_bars("XAUUSD", "D1")
    assert "SYNTHETIC" in line and len(d1) > 5
    ny = d1.index.tz_convert("America/New_York")
    assert set(ny.hour) == {17}  # 17:00 New York: 22:00 UTC in winter, 21:00 in summer
    Bar.objects.filter(timeframe="D1").delete()
    run("resample_bars", "--from", "H1", "--to", "D1", "--day-boundary", "utc")
    assert set(load_bars("XAUUSD", "D1").index.hour) == {0}


def test_resample_refuses_an_unknown_day_boundary():
    with pytest.raises(CommandError):
        call_command("resample_bars", "--from", "H1", "--to", "D1", "--day-boundary", "tokyo")
