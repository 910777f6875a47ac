"""Progress of the long waits before training (loading, validating, normalising, tokenising): one callback shape
for every caller. The CLI prints it to stderr; the app feeds it into `gr.Progress`; the run engine shows it as the
run's stage.

A progress callback is `fn(stage, done, total)`: `stage` says what is being done ("validating rows"), `done` how
many rows are done and `total` how many there are in all (None while unknown; an estimate from the bytes read so far
is given as soon as there is one).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

ProgressFn = Callable[[str, int, "int | None"], None]


def describe(stage: str, done: int, total: int | None, started: float) -> str:
    """'validating rows: 120,000 / 1,000,000 (12%), about 4 s left'."""
    if not total:
        return f"{stage}: {done:,} rows"
    total = max(total, done)
    text = f"{stage}: {done:,} / {total:,} rows ({100 * done / total:.0f}%)"
    elapsed = time.monotonic() - started
    if 0 < done < total and elapsed > 0.5:
        left = elapsed * (total - done) / done
        text += f", about {left:.0f} s left"
    return text


class Throttled:
    """Calls `fn(stage, done, total)` at most every `every` seconds (always for the first and the last call of a
    stage); remembers when each stage started, for ETAs."""

    def __init__(self, fn: ProgressFn | None, every: float = 0.25):
        self.fn, self.every = fn, every
        self._last = 0.0
        self._stage: str | None = None
        self.started = time.monotonic()

    def __call__(self, stage: str, done: int, total: int | None, final: bool = False) -> None:
        if self.fn is None:
            return
        now = time.monotonic()
        if stage != self._stage:
            self._stage, self.started = stage, now
        elif not final and now - self._last < self.every:
            return
        self._last = now
        self.fn(stage, done, total)


def stderr_progress(stream=None) -> ProgressFn:
    """A progress callback that keeps one status line up to date on stderr (a terminal) or prints a line every
    few seconds (a log)."""
    out = stream or sys.stderr
    tty = hasattr(out, "isatty") and out.isatty()
    state = {"stage": None, "started": time.monotonic(), "printed": 0.0, "last": None}

    def report(stage: str, done: int, total: int | None) -> None:
        if (stage, done, total) == state["last"]:
            return
        state["last"] = (stage, done, total)
        now = time.monotonic()
        if stage != state["stage"]:
            if tty and state["stage"] is not None:
                out.write("\n")
            state.update(stage=stage, started=now, printed=0.0)
        finished = bool(total) and done >= total
        if not tty and not finished and now - state["printed"] < 5:
            return
        state["printed"] = now
        line = describe(stage, done, total, state["started"])
        out.write(f"\r{line}\033[K" if tty else f"{line}\n")
        if tty and finished:
            out.write("\n")
            state["stage"] = None
        out.flush()

    return report


def stage_printer(stream=None) -> Callable[[str], None]:
    """Prints a run's stage text ('validating rows: 1,000 / 5,000 rows (20%), ...') to stderr: on a terminal one
    line kept up to date; in a log, a line when the stage changes and every few seconds."""
    out = stream or sys.stderr
    tty = hasattr(out, "isatty") and out.isatty()
    state = {"label": None, "printed": 0.0}

    def show(text: str) -> None:
        if not text:
            return
        label, now = text.split(":", 1)[0], time.monotonic()
        if not tty and label == state["label"] and now - state["printed"] < 5 and "(100%)" not in text:
            return
        if tty and state["label"] is not None and label != state["label"]:
            out.write("\n")
        state.update(label=label, printed=now)
        out.write(f"\r{text}\033[K" if tty else f"{text}\n")
        out.flush()

    return show
