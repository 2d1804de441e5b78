"""``python -m sealrun.services.explorer``: serve the explorer (settings: ``SEALRUN_EXPLORER_*``).

A refused configuration or an unreachable chain prints ``error [CODE]: message`` and exits 1.
"""

from __future__ import annotations

import logging
import sys


def main() -> int:
    """Connect and serve until interrupted."""
    from sealrun.errors import SealrunError

    try:
        import uvicorn

        from sealrun.services.explorer.app import create_app
        from sealrun.services.explorer.parts import connect_data
        from sealrun.services.explorer.settings import ExplorerSettings

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
        settings = ExplorerSettings()  # type: ignore[call-arg]  # fields come from the environment
        app = create_app(connect_data(settings), scheduler_url=settings.scheduler_url)
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="info")
        return 0
    except SealrunError as error:
        print(f"error [{error.code}]: {error.message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
