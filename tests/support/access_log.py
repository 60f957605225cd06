"""TorchServe's own record of the requests it answered: its access log (logs/access_log.log in its working folder), a
line per request, written before the answer is sent. Counting there, not by a client's metrics, sees every request
that reached TorchServe: retries included, calls that failed before sending excluded."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from launcher.torchserve import TorchServe

# log4j's "%d{ISO8601} - %m": remote address, "METHOD URI PROTOCOL", status, milliseconds from request to answer
LINE = re.compile(r'^(\S+) - \S+ "(\S+) (\S+) \S+" (\d+) (\d+)')
TIME = "%Y-%m-%dT%H:%M:%S,%f"


@dataclass(frozen=True)
class Access:
    """One request TorchServe answered."""

    time: float  # when it answered, seconds since the epoch (millisecond resolution)
    method: str
    uri: str
    status: int
    ms: int  # how long it took, from the request's arrival


def accesses(torchserve: TorchServe) -> list[Access]:
    """Every request `torchserve` has answered so far, in order."""
    path = torchserve.workdir / "logs" / "access_log.log"
    lines = path.read_text().splitlines() if path.exists() else []
    found = (LINE.match(line) for line in lines)
    return [Access(datetime.strptime(m[1], TIME).timestamp(), m[2], m[3], int(m[4]), int(m[5])) for m in found if m]


def prediction_requests(torchserve: TorchServe, model: str, purpose: str | None = None) -> list[Access]:
    """The prediction requests for `model`: those of no marked purpose, or of `purpose` (readiness, healthcheck)."""
    uri = f"/predictions/{model}" + (f"?purpose={purpose}" if purpose else "")
    return [access for access in accesses(torchserve) if access.method == "POST" and access.uri == uri]
