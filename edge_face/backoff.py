"""Restart back-off for systemd 252 (Debian 12), which restarts a failed unit after a fixed RestartSec= only
(RestartSteps=/RestartMaxDelaySec= came in 254): ExecStopPost= records how the run ended, ExecStartPre= waits
base * 2^(failures-1) seconds, capped, for the failures in the last `window` seconds. A clean stop clears them.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Callable

STATE_FILE = "restart-failures.json"


def _load(path: Path) -> list[float]:
    try:
        data = json.loads(path.read_text())
        return [float(t) for t in data] if isinstance(data, list) else []
    except (OSError, ValueError, TypeError):
        return []  # a missing or damaged file must never block a start


def _save(path: Path, failures: list[float]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(failures))
    os.replace(tmp, path)


def delay(failures: list[float], now: float, *, base: float, cap: float, window: float) -> float:
    recent = [t for t in failures if now - t <= window]
    return 0.0 if not recent else min(cap, base * 2 ** (len(recent) - 1))


def record(state_dir: Path, result: str, now: float | None = None, *, window: float = 600.0) -> list[float]:
    """After a run: `result` is systemd's $SERVICE_RESULT ("success", "exit-code", "signal", "watchdog", ...)."""
    path = Path(state_dir) / STATE_FILE
    now = time.time() if now is None else now
    failures = [] if result == "success" else [t for t in _load(path) if now - t <= window] + [now]
    _save(path, failures)
    return failures


def wait(state_dir: Path, *, base: float = 1.0, cap: float = 60.0, window: float = 600.0,
         sleep: Callable[[float], None] = time.sleep, now: float | None = None) -> float:
    """Before a start: sleep as long as the recent failures ask; returns the seconds slept."""
    seconds = delay(_load(Path(state_dir) / STATE_FILE), time.time() if now is None else now,
                    base=base, cap=cap, window=window)
    if seconds > 0:
        sleep(seconds)
    return seconds
