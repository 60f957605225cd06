"""The endpoint engine, and the handler client it shares with the probe service, trust no server: against a real
HTTP server that answers the handler contract with one fault per model name (tests/targets/misbehaving.py), each
answer that breaks the contract stops the run with one line naming the server's fault (status 2, resumable), an
answer larger than the request can need is refused unread, and the timeout is a deadline for the whole call (a
server sending one byte at a time is cut off at it)."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from antialiased.errors import ApiError, ErrorCode
from antialiased.label_sets import MAX_CLASSES
from antialiased.serving.contract import MAX_TOPK
from antialiased.serving.handler_answers import answer_limit
from antialiased.serving.handler_client import NO_RETRIES, AsyncHandlerClient, ClientOptions, HandlerClient
from antialiased.shifts import ShiftRequest
from tests.support.targets import running_misbehaving_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_misbehaving_server(tmp_path_factory.mktemp("misbehaving") / "server.log") as url:
        yield url


@pytest.fixture(scope="module")
def one_image(photo_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder of one photo in class 0's folder (n01440764)."""
    root = tmp_path_factory.mktemp("one") / "data"
    (root / "n01440764").mkdir(parents=True)
    shutil.copy(sorted((photo_folder / "n01440764").iterdir())[0], root / "n01440764")
    return root


def _args(data: Path, url: str, model: str) -> list[str]:
    return ["--data", str(data), "--endpoint", url, "--model", model, "--concurrency", "1", "--retries", "0"]


def test_a_correct_answer_of_the_same_server_is_accepted(server, one_image, run_cli) -> None:
    run = run_cli(*_args(one_image, server, "correct"))
    assert run["results"]["dataset"]["evaluated"] == 1 and run["results"]["models"][0]["figures"]["top1"]["value"]


@pytest.mark.parametrize(
    ("fault", "problem"),
    [
        ("top1_5000", "view 0's top-k names class 5000, not a class index (0-999)"),
        ("empty_topk", f"view 0's top-k holds 0 classes, not the {MAX_TOPK} asked"),
        ("short_curve", "class 0's curve has 0 values, not one per view (1)"),
        ("one_class", "view 0's top-k names one class more than once"),
        ("nan", "view 0's top-k holds the probability nan, not one in [0, 1]"),
        ("huge", "bytes, more than the request can need"),
    ],
)
def test_an_answer_that_breaks_the_contract_stops_the_run_naming_the_fault(
    server, one_image, run_cli, capsys, tmp_path, fault, problem
) -> None:
    run_cli(*_args(one_image, server, fault), "--measure", "accuracy", expect_status=2)
    err = capsys.readouterr().err
    assert err.startswith(f"error: {fault} answered 502: torchserve_error: {fault}: the server's answer breaks the ")
    assert problem in err and err.count("\n") == 1, err
    assert not (tmp_path / "run" / "results.json").exists(), "no figures from a broken answer"


def test_the_answer_limit_follows_what_was_asked() -> None:
    plain, every_class = answer_limit(5, probabilities=False), answer_limit(5, probabilities=True)
    few = answer_limit(MAX_TOPK, probabilities=False, shifts=ShiftRequest(offsets=((0, 0), (1, 1))))
    many = answer_limit(
        MAX_TOPK, probabilities=False, shifts=ShiftRequest(offsets=tuple((y, x) for y in range(17) for x in range(17)))
    )
    assert plain < 100_000, "a plain top-5 answer is small"
    assert every_class - plain <= MAX_CLASSES * 64, "every class's probability: a number per class the library takes"
    assert plain < every_class and few < many < 20_000_000


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_the_timeout_is_a_deadline_for_the_whole_answer(server, kind) -> None:
    """ "drip" sends its (correct) answer one byte every 0.2 s: each read is quick, the whole takes about a minute."""
    options = ClientOptions(server, NO_RETRIES, timeout_s=2.0)
    shifts = ShiftRequest(offsets=((0, 0),))
    started = time.monotonic()
    with pytest.raises(ApiError) as refused:
        if kind == "sync":
            with HandlerClient(options) as client:
                client.classify_shifts("drip", b"image", shifts, topk=1)
        else:
            asyncio.run(_async_classify_shifts(options, shifts))
    assert (refused.value.code, refused.value.status) == (ErrorCode.TORCHSERVE_TIMEOUT, 504)
    assert "within 2 s" in refused.value.message
    assert time.monotonic() - started < 6, "cut off at the deadline, not after the last byte"


async def _async_classify_shifts(options: ClientOptions, shifts: ShiftRequest) -> None:
    client = AsyncHandlerClient(options)
    try:
        await client.classify_shifts("drip", b"image", shifts, topk=1)
    finally:
        await client.aclose()
