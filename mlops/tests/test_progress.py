"""Command progress off a terminal: every step of a short job, about ten lines of a long one."""

from __future__ import annotations

import io

from django.core.management.base import OutputWrapper

from mlops.management.progress import CommandProgress


def test_off_a_tty_a_long_loop_prints_about_one_line_per_tenth():
    out = io.StringIO()
    progress = CommandProgress(OutputWrapper(out), "check_lookahead")  # as a command's stdout
    for done in range(1, 114):
        progress("cut-off runs", done, 113)
    lines = out.getvalue().splitlines()
    assert 10 <= len(lines) <= 11
    assert lines[-1] == "  check_lookahead [113/113] cut-off runs"


def test_off_a_tty_every_step_of_a_seven_step_job_is_printed():
    out = io.StringIO()
    progress = CommandProgress(OutputWrapper(out), "random_forest")
    for done in range(1, 8):
        progress(f"step {done}", done, 7)
    assert len(out.getvalue().splitlines()) == 7
