"""Progress output for long commands: a tqdm bar on a terminal, else a line per step (at most
one per tenth of the total, so a 113-step loop in a log prints about eleven lines)."""

from __future__ import annotations

import sys
from typing import Any

from tqdm import tqdm


class CommandProgress:
    """Callable as ``progress(step_name, done, total)``."""

    def __init__(self, stdout: Any, desc: str) -> None:
        self.stdout = stdout
        self.desc = desc
        self.bar: tqdm | None = None
        self.tty = bool(getattr(stdout, "isatty", lambda: False)())
        self.printed_tenth = -1

    def __call__(self, name: str, done: int, total: int) -> None:
        if not self.tty:
            tenth = done * 10 // max(total, 1)
            if tenth > self.printed_tenth or done >= total:
                self.printed_tenth = tenth
                self.stdout.write(f"  {self.desc} [{done}/{total}] {name}")
            return
        if self.bar is None:
            self.bar = tqdm(total=total, desc=self.desc, file=sys.stdout, leave=True)
        self.bar.set_postfix_str(name)
        self.bar.update(done - self.bar.n)
        if done >= total:
            self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class CountProgress(CommandProgress):
    """For loops that report only (done, total): one line every ``every`` items off a tty."""

    def __init__(self, stdout: Any, desc: str, every: int = 10) -> None:
        super().__init__(stdout, desc)
        self.every = every

    def count(self, done: int, total: int) -> None:
        if self.tty or done == total or done % self.every == 0:
            self(f"{done}/{total}", done, total)
