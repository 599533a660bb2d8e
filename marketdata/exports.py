"""Writing bars as a file an importer reads (pure: no Django).

``write_mt5`` writes MetaTrader 5's "Export bars" layout (tab-separated, UTF-8), the format
``import_bars --format mt5`` reads: the demo's known-answer controls go through the real
importer this way, and the import benchmarks build their files with it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

MT5_HEADER = "<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>\n"


def write_mt5(frame: pd.DataFrame, path: Path, digits: int = 2) -> Path:
    """Write a bars frame (UTC index, open/high/low/close/volume/spread) to ``path``."""
    table = pd.DataFrame({
        "date": frame.index.strftime("%Y.%m.%d"), "time": frame.index.strftime("%H:%M:%S"),
        **{c: frame[c].to_numpy() for c in ("open", "high", "low", "close")},
        "tickvol": frame["volume"].astype("int64").to_numpy(), "vol": 0,
        "spread": frame["spread"].astype("int64").to_numpy()})
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as out:
        out.write(MT5_HEADER)
        table.to_csv(out, sep="\t", header=False, index=False, float_format=f"%.{digits}f")
    return path
