"""Small builders for bar files and parsed frames used by the market-data tests."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd

MT5_HEADER = "<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>"


def mt5_row(time: str, o: float, h: float, lo: float, c: float, vol: int = 100,
            spread: int = 20) -> str:
    """One MT5 export line; ``time`` like "2024-03-04 09:00"."""
    stamp = pd.Timestamp(time)
    return (f"{stamp:%Y.%m.%d}\t{stamp:%H:%M:%S}\t{o}\t{h}\t{lo}\t{c}\t{vol}\t0\t{spread}")


def mt5_text(rows: list[str], newline: str = "\n") -> str:
    return newline.join([MT5_HEADER, *rows]) + newline


def hourly_rows(start: str, n: int, price: float = 2000.0, step: float = 0.5,
                freq: str = "1h") -> list[str]:
    """``n`` consistent MT5 rows every ``freq`` from ``start`` (weekends included)."""
    rows = []
    for i, stamp in enumerate(pd.date_range(start, periods=n, freq=freq)):
        o = round(price + i * step, 2)
        c = round(o + step, 2)
        rows.append(mt5_row(str(stamp), o, round(c + 1, 2), round(o - 1, 2), c, 100 + i))
    return rows


def bars_frame(times: pd.DatetimeIndex, price: float = 2000.0, seed: int = 0) -> pd.DataFrame:
    """A consistent bars-convention frame on ``times``."""
    rng = np.random.default_rng(seed)
    n = len(times)
    close = np.round(price + np.cumsum(rng.normal(0, 1, n)), 2)
    open_ = np.round(np.r_[price, close[:-1]], 2)
    high = np.round(np.maximum(open_, close) + rng.random(n), 2)
    low = np.round(np.minimum(open_, close) - rng.random(n), 2)
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close,
                         "volume": rng.integers(1, 1000, n).astype(float),
                         "spread": np.full(n, 25.0)},
                        index=pd.DatetimeIndex(times, name="time"))


def frame_to_mt5(frame: pd.DataFrame, shift: pd.Timedelta | None = None) -> str:
    """An MT5 export of a bars frame, its times shifted to a broker clock."""
    times = frame.index.tz_convert("UTC").tz_localize(None) + (shift or pd.Timedelta(0))
    rows = [f"{t:%Y.%m.%d}\t{t:%H:%M:%S}\t{o:.2f}\t{h:.2f}\t{lo:.2f}\t{c:.2f}\t{int(v)}\t0\t25"
            for t, o, h, lo, c, v in zip(times, frame["open"], frame["high"], frame["low"],
                                          frame["close"], frame["volume"], strict=True)]
    return mt5_text(rows)


def write(tmp_path: Path, name: str, data: str | bytes, encoding: str = "utf-8",
          compress: bool = False) -> Path:
    raw = data.encode(encoding) if isinstance(data, str) else data
    if compress:
        raw = gzip.compress(raw)
    path = tmp_path / name
    path.write_bytes(raw)
    return path


def parsed_frame(rows: list[tuple]) -> pd.DataFrame:
    """A parsed-rows frame from (line, time, open, high, low, close[, volume, spread]) tuples."""
    records = []
    for row in rows:
        line, time, o, h, lo, c, *rest = row
        volume = rest[0] if rest else 100.0
        spread = rest[1] if len(rest) > 1 else 20.0
        records.append({"line": line, "time": pd.Timestamp(time), "open": o, "high": h,
                        "low": lo, "close": c, "volume": volume, "real_volume": 0.0,
                        "spread": spread})
    frame = pd.DataFrame.from_records(records)
    frame["time"] = frame["time"].astype("datetime64[us]")
    for name in ("open", "high", "low", "close", "volume", "real_volume", "spread"):
        frame[name] = frame[name].astype("float64")
    return frame
