"""Renewing TorchServe's keys. With token authorization on, TorchServe's inference and management keys expire
after `token_expiration_min` and are never renewed by TorchServe itself: requests then fail with 401 until
someone asks its token API for new keys. `KeyRenewal` does that at half the lifetime; TorchServe rewrites
key_file.json, which the probe service and the health check read at every request."""

from __future__ import annotations

import logging
import threading

import httpx

from servers.torchserve import TorchServe
from servers.torchserve_config import api_headers

log = logging.getLogger(__name__)
KEY_TYPES = ("inference", "management")


def renew_keys(server: TorchServe) -> None:
    """New inference and management keys, through TorchServe's token API (authorized by the file's API key)."""
    headers = api_headers(server.key_file, "API")  # the token API's own key, which never expires
    for key_type in KEY_TYPES:
        response = httpx.post(
            f"{server.management_url}/token", params={"type": key_type}, headers=headers, timeout=10.0
        )
        response.raise_for_status()


class KeyRenewal:
    """Renews `server`'s keys on entry, then every half lifetime in a daemon thread until exit (nothing without
    token authorization)."""

    def __init__(self, server: TorchServe) -> None:
        self._server = server
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="torchserve-key-renewal", daemon=True)

    def __enter__(self) -> KeyRenewal:
        if self._server.token_auth:
            renew_keys(self._server)  # the first keys may be old by the time TorchServe is ready
            self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        interval_s = self._server.token_expiration_min * 60 / 2
        while not self._stop.wait(interval_s):
            try:
                renew_keys(self._server)
            except (OSError, ValueError, KeyError, httpx.HTTPError) as error:  # retried at the next interval
                log.error("could not renew TorchServe's keys: %r", error)
