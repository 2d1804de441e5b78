"""``python -m sealrun.services.store``: run the blob store as an HTTP server."""

from __future__ import annotations

import os

import uvicorn

from sealrun.adapters.secretfiles import secrets_dir
from sealrun.services.store.app import create_app
from sealrun.services.store.settings import StoreSettings


def main() -> None:
    """Read ``SEALRUN_STORE_*`` settings and serve until interrupted."""
    settings = StoreSettings(_secrets_dir=secrets_dir("SEALRUN_STORE_", os.environ))  # type: ignore[call-arg]  # fields come from the environment
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")


if __name__ == "__main__":
    main()
