"""docs/trading.md's MetaTrader 5 section shows the retcode table the code applies."""

from __future__ import annotations

from tests.helpers import ROOT
from trading.brokers import retcodes


def mt5_section() -> str:
    text = (ROOT / "docs" / "trading.md").read_text()
    start = text.index("## MetaTrader 5")
    end = text.find("\n## ", start + 1)
    return text[start:] if end < 0 else text[start:end]


def test_the_documented_retcode_table_is_the_code_s():
    assert retcodes.markdown_table() in mt5_section()


def test_every_policy_appears_with_the_codes_of_reliability():
    table = retcodes.markdown_table()
    for code in (10004, 10020, 10021):
        assert f"| {code} |" in table and retcodes.policy(code) is retcodes.Policy.REPRICE
    for code in (10014, 10016, 10017, 10018, 10019, 10030):
        assert retcodes.policy(code) is retcodes.Policy.TERMINAL
    for code in (None, 10012, 10031, 10011):
        assert retcodes.policy(code) is retcodes.Policy.UNKNOWN
