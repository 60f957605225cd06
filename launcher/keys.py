"""Renewing TorchServe's keys. With token authorization on, TorchServe's inference and management keys expire
after `token_expiration_min` and are never renewed by TorchServe itself: requests then fail until someone asks
its token API for new keys. `KeyRenewal` does that once the keys have half their lifetime left; TorchServe
rewrites key_file.json, which the probe service and the health check read at every request.

A renewal refuses the old key at once, so a client that read it just before is refused once and reads the file
again (see `antialiased.serving.torchserve_keys.KEY_RETRY_DELAY_S`); renewals therefore happen only when due, never as a
matter of course at start."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from pathlib import Path

import httpx

from antialiased.serving.torchserve_keys import api_headers, read_keys
from launcher.torchserve import TorchServe

log = logging.getLogger(__name__)
KEY_TYPES = ("inference", "management")
RETRY_S = 1.0  # after a failed renewal


def renew_keys(server: TorchServe) -> None:
    """New inference and management keys, through TorchServe's token API (authorized by the file's API key)."""
    headers = api_headers(server.key_file, "API")  # the token API's own key, which never expires
    for key_type in KEY_TYPES:
        response = httpx.post(
            f"{server.management_url}/token", params={"type": key_type}, headers=headers, timeout=10.0
        )
        response.raise_for_status()


def seconds_until_due(key_file: Path, lifetime_s: float) -> float:
    """Seconds until the first of the keys in `key_file` has half of `lifetime_s` left (negative: overdue)."""
    keys = read_keys(key_file)
    expiry = min(datetime.fromisoformat(keys[key_type]["expiration time"]) for key_type in KEY_TYPES)
    return (expiry - datetime.now(UTC)).total_seconds() - lifetime_s / 2


class KeyRenewal:
    """Renews `server`'s keys whenever they are down to half their lifetime, in a daemon thread from entry until
    exit (nothing without token authorization). Enter it before waiting for readiness, so that a start-up longer
    than the keys' lifetime does not leave expired keys."""

    def __init__(self, server: TorchServe) -> None:
        self._server = server
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="torchserve-key-renewal", daemon=True)

    def __enter__(self) -> KeyRenewal:
        if self._server.token_auth:
            self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        key_file, lifetime_s = self._server.key_file, self._server.token_expiration_min * 60
        while not self._stop.is_set():
            if not key_file.exists():  # TorchServe writes it early in its start-up
                self._stop.wait(RETRY_S)
                continue
            try:
                if self._stop.wait(max(0.0, seconds_until_due(key_file, lifetime_s))):
                    return
                renew_keys(self._server)
            except (OSError, ValueError, KeyError, TypeError, httpx.HTTPError) as error:
                log.error("could not renew TorchServe's keys (retrying in %g s): %r", RETRY_S, error)
                self._stop.wait(RETRY_S)
