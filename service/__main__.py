"""`python -m service`: run the probe service with uvicorn (host and port from PROBE_HOST / PROBE_PORT)."""

from __future__ import annotations

import uvicorn

from service.app import create_app
from service.settings import Settings


def main() -> None:
    settings = Settings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port)


if __name__ == "__main__":
    main()
