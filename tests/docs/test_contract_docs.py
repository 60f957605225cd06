"""The handler contract's page (docs/contract.md) says what antialiased/serving/contract.py and antialiased/errors.py
define: every field name, every answer field and every error code, and no code that does not exist."""

from __future__ import annotations

import re
from pathlib import Path

from antialiased.errors import ErrorCode
from antialiased.serving import contract
from antialiased.shifts import ShiftRequest

SECTION = (Path(__file__).resolve().parents[2] / "docs" / "contract.md").read_text()
QUOTED = set(re.findall(r"`([^`]+)`", SECTION))


def test_the_request_fields_are_the_contract_modules() -> None:
    names = (contract.IMAGE_FIELD, contract.TOPK_FIELD, contract.TOPK_HEADER, contract.SHIFTS_FIELD,
             contract.PROBABILITIES_FIELD, contract.PROBABILITIES_HEADER, contract.LABELS_FIELD, contract.LABELS_HEADER,
             contract.PURPOSE_HEADER,
             contract.PURPOSE_PARAMETER, *contract.SYNTHETIC_PURPOSES)  # fmt: skip
    for name in names:
        assert name in QUOTED, name
    shift_request = ShiftRequest(offsets=((0, 0),)).to_json()
    assert all(f'"{key}"' in SECTION for key in shift_request), "every field of a shift request is shown"


def test_every_answer_field_is_described() -> None:
    for model in (contract.Classification, contract.ShiftClassification, contract.ErrorBody):
        assert f"`{model.__name__}`" in SECTION
        assert set(model.model_fields) <= QUOTED, set(model.model_fields) - QUOTED
    for model in (contract.ModelInfo, contract.WeightsInfo, contract.Prediction, contract.ShiftGeometry,
                  contract.ClassName):  # fmt: skip
        assert set(model.model_fields) <= QUOTED, set(model.model_fields) - QUOTED


def test_the_error_codes_listed_are_exactly_the_enumeration() -> None:
    table = [line for line in SECTION.splitlines() if line.startswith("| `")]
    listed = {code for line in table for code in re.findall(r"`([a-z_]+)`", line.split("|")[1])}
    assert listed == {code.value for code in ErrorCode}
    assert (contract.DEFAULT_TOPK, contract.MAX_TOPK) == (5, 20) and "1–20 (default 5)" in SECTION
