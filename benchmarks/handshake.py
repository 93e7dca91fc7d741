"""The line protocol between a benchmark and its load generator processes: the orchestrator waits for a
word on a worker's stdout (``ready``, ``done``) and says one on its stdin (``go``)."""

from __future__ import annotations

import subprocess


def expect(worker: subprocess.Popen[str], word: str) -> None:
    assert worker.stdout is not None
    line = worker.stdout.readline().strip()
    if line != word:
        raise RuntimeError(f"load generator said {line!r} instead of {word!r} (exit code {worker.poll()})")


def say(worker: subprocess.Popen[str], word: str) -> None:
    assert worker.stdin is not None
    worker.stdin.write(word + "\n")
    worker.stdin.flush()
