"""Training progress: one JSON line per optimizer step for the extension's progress bar, one readable line for
the terminal the training task runs in.

The JSON line is `{"step": int, "total": int, "loss": float, "eta_s": float}` plus what the trainer adds (`epoch`,
`lr`, `tokens_per_s`, `max_seq_length`, `truncated`), appended and flushed at once so a reader tailing the file
never sees half a line.
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path
from typing import Callable, Optional, TextIO


class ProgressReporter:
    def __init__(
        self,
        total: int,
        file: Optional[Path | str] = None,
        out: Optional[TextIO] = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = total
        self.file = Path(file) if file is not None else None
        self._out = out
        self._clock = clock
        self._started: Optional[float] = None
        if self.file is not None:
            # A fresh file per run: lines from an earlier run would make the bar jump.
            self.file.parent.mkdir(parents=True, exist_ok=True)
            self.file.write_text("", encoding="utf-8")

    def start(self) -> None:
        """Marks the start of the first step; the ETA extrapolates from the time since then."""
        self._started = self._clock()

    def step(self, step: int, loss: float, **extra: object) -> dict:
        if not math.isfinite(loss):
            raise ValueError(f"loss is {loss} at step {step}")
        if self._started is None:
            self.start()
        elapsed = self._clock() - self._started  # type: ignore[operator]
        eta = elapsed / step * (self.total - step) if step > 0 else 0.0
        record = {"step": step, "total": self.total, "loss": round(float(loss), 6), "eta_s": round(max(0.0, eta), 1)}
        record.update({k: v for k, v in extra.items() if v is not None})
        if self.file is not None:
            with self.file.open("a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")
                f.flush()
        percent = 100 * step // self.total if self.total else 100
        rate = f"  {record['tokens_per_s']:.0f} tok/s" if "tokens_per_s" in record else ""
        lr = f"  lr {record['lr']:.2e}" if isinstance(record.get("lr"), float) else ""
        print(
            f"step {step}/{self.total} ({percent}%)  loss {loss:.4f}{lr}{rate}  eta {format_duration(record['eta_s'])}",
            file=self._out or sys.stdout,
            flush=True,
        )
        return record


def format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
