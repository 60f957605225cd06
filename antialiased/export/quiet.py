"""The exporters' own output silenced while they run: a failure's details are told by the export's error, not
by the log lines and partial graphs torch and the ONNX optimiser print on the way."""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterator


@contextlib.contextmanager
def quiet_torch() -> Iterator[None]:
    """torch's log lines and the partial graph it prints to stderr when an export fails, silenced."""
    with _loggers_at(logging.CRITICAL, "torch"), contextlib.redirect_stderr(io.StringIO()):
        yield


@contextlib.contextmanager
def quiet_onnxscript() -> Iterator[None]:
    """The ONNX optimiser's INFO lines (a line per rewrite pass) silenced; its warnings kept."""
    with _loggers_at(logging.WARNING, "onnxscript", "onnx_ir"):
        yield


@contextlib.contextmanager
def _loggers_at(level: int, *names: str) -> Iterator[None]:
    """The loggers `names` at `level` while the block runs, at their own levels after."""
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(level)
    try:
        yield
    finally:
        for logger, saved in zip(loggers, levels, strict=True):
            logger.setLevel(saved)
