"""The page's scripts are ES modules served by the probe service itself: from the page's one module script, every
module it imports (and those they import) answers 200 with a JavaScript MIME type (a browser refuses a module of
any other type), and every script of `service/static` is reached that way (none left behind, none missing). A real
service process over real HTTP; the fake TorchServe only lets it start."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from tests.support.fake_torchserve import FakeTorchServe
from tests.support.service import start_test_service

pytestmark = pytest.mark.serving

STATIC = Path(__file__).resolve().parents[2] / "service/static"
JS_TYPES = {"text/javascript", "application/javascript"}
_MODULE_SCRIPT = re.compile(r'<script type="module" src="([^"]+)"></script>')
_IMPORT = re.compile(r'^import [^;]* from "\./([\w.]+\.js)";$', re.MULTILINE)


def _served_modules(client: httpx.Client) -> set[str]:
    """The modules the page loads, each asserted served as JavaScript."""
    (entry,) = _MODULE_SCRIPT.findall(client.get("/").text)
    assert entry.startswith("/static/"), entry
    pending, seen = [entry.removeprefix("/static/")], set()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        response = client.get(f"/static/{name}")
        assert response.status_code == 200, name
        assert response.headers["content-type"].split(";")[0] in JS_TYPES, (name, response.headers["content-type"])
        pending.extend(_IMPORT.findall(response.text))
    return seen


def test_the_page_modules_are_served_as_javascript_and_all_reached(tmp_path: Path) -> None:
    with (
        FakeTorchServe() as fake,
        start_test_service(fake.url, tmp_path / "service.log") as service,
        httpx.Client(base_url=service.url, timeout=30) as client,
    ):
        served = _served_modules(client)
    assert served == {path.name for path in STATIC.glob("*.js")}
    assert {"app.js", "page.js", "protocols.js", "sequence.js"} <= served  # the entry and what it imports
