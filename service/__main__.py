"""`python -m service`: run the probe service with uvicorn (host and port from PROBE_HOST / PROBE_PORT), its
connections guarded by service.connections."""

from __future__ import annotations

import uvicorn

from service.app import create_app
from service.connections import protocol_for
from service.settings import Settings


def main() -> None:
    settings = Settings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, http=protocol_for(settings))


if __name__ == "__main__":
    main()
