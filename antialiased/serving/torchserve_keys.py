"""TorchServe's keys (token authorization) as its clients meet them: the key file TorchServe writes and renews, the
header that carries a key, and TorchServe's refusal of a stale one. Torch-free; the launcher, the probe service, the
health check and the evaluation's endpoint engine share it."""

from __future__ import annotations

import json
import time
from pathlib import Path

from antialiased.errors import ApiError, ErrorCode

# TorchServe's answer to a missing or stale key: a 400 of its own (not a 401) with this text.
KEY_REFUSED = b"Token Authorization failed"
# A key renewed between a client's reading the key file and TorchServe's checking it is refused once; after this
# pause the file holds the new key (TorchServe writes it right after switching), so one retry gets through.
KEY_RETRY_DELAY_S = 0.1
# How long a read of the key file waits for TorchServe to finish rewriting it (a write of a few hundred bytes).
KEY_FILE_SETTLE_S = 0.2


def key_refused(status: int, content: bytes) -> bool:
    """Whether an answer is TorchServe refusing the request's key."""
    return status == 400 and KEY_REFUSED in content


def read_keys(key_file: Path) -> dict:
    """TorchServe's key file: {api: {"key": ..., "expiration time": ...}} for "inference", "management", "API".

    TorchServe rewrites the file in place (truncate, then write) when it renews a key, so a read can catch it
    empty or half-written for an instant; such a read is repeated for up to KEY_FILE_SETTLE_S.
    """
    deadline = time.monotonic() + KEY_FILE_SETTLE_S
    while True:
        try:
            return json.loads(key_file.read_text())
        except ValueError:
            if time.monotonic() > deadline:
                raise
            time.sleep(KEY_FILE_SETTLE_S / 20)


def api_headers(key_file: Path | None, api: str = "inference") -> dict[str, str]:
    """The Authorization header carrying TorchServe's current key for `api` ("inference" or "management"; keys
    rotate, so read it per request); none without a key file (TorchServe writes it only with token authorization
    on, once it has started)."""
    if key_file is None or not key_file.exists():
        return {}
    return {"Authorization": f"Bearer {read_keys(key_file)[api]['key']}"}


def bearer_headers(token: str | None, key_file: Path | None, api: str = "inference") -> dict[str, str]:
    """The Authorization header of a request to TorchServe: a fixed `token` (stale once TorchServe renews its keys),
    else the current key of `key_file`, read now so that renewals are followed, else none. ApiError
    torchserve_unavailable (503) when the key file cannot be read."""
    if token is not None:
        return {"Authorization": f"Bearer {token}"}
    try:
        return api_headers(key_file, api)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ApiError(ErrorCode.TORCHSERVE_UNAVAILABLE, f"cannot read TorchServe's key file: {error}", 503) from error
