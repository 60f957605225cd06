"""antialiased.export.quiet: the exporters' output silenced while they run, and the loggers as they were after."""

from __future__ import annotations

import logging
import sys

import pytest

from antialiased.export.quiet import quiet_onnxscript, quiet_torch


def test_quiet_torch_silences_torchs_logs_and_stderr_and_restores_the_level(
    capsys: pytest.CaptureFixture, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="torch"):  # torch.export (its level unset) follows torch's
        with quiet_torch():
            logging.getLogger("torch.export").error("a partial graph")
            print("printed by the exporter", file=sys.stderr)
        assert logging.getLogger("torch").level == logging.INFO
        logging.getLogger("torch.export").error("after the block")
    assert [record.message for record in caplog.records] == ["after the block"]
    assert "printed by the exporter" not in capsys.readouterr().err


def test_quiet_onnxscript_drops_info_keeps_warnings_and_restores_the_levels(caplog: pytest.LogCaptureFixture) -> None:
    levels = {name: logging.getLogger(name).level for name in ("onnxscript", "onnx_ir")}
    with caplog.at_level(logging.DEBUG), quiet_onnxscript():
        logging.getLogger("onnxscript.optimizer").info("a rewrite pass")
        logging.getLogger("onnx_ir.passes").warning("a warning")
    assert [record.message for record in caplog.records] == ["a warning"]
    assert {name: logging.getLogger(name).level for name in levels} == levels
