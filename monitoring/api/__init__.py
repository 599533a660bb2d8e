"""``performance/``: the tracker's daily snapshots in the trader API (read-only)."""
