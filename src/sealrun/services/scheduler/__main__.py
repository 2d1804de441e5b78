"""``python -m sealrun.services.scheduler``: run a workerpool's scheduler as an HTTP server.

Settings come from ``SEALRUN_SCHEDULER_*`` (see :class:`SchedulerSettings`); a refused
configuration or an unreachable chain prints ``error [CODE]: message`` and exits 1.
"""

from __future__ import annotations

import os
import sys


def main() -> int:
    """Connect, migrate, and serve until interrupted."""
    from sealrun.errors import SealrunError

    try:
        import uvicorn

        from sealrun.adapters.logs import configure_logging
        from sealrun.adapters.secretfiles import secrets_dir
        from sealrun.adapters.tls import server_options
        from sealrun.services.scheduler.app import create_app
        from sealrun.services.scheduler.parts import connect_parts
        from sealrun.services.scheduler.settings import SchedulerSettings

        configure_logging("scheduler")
        settings = SchedulerSettings(_secrets_dir=secrets_dir("SEALRUN_SCHEDULER_", os.environ))  # type: ignore[call-arg]  # fields come from the environment
        app = create_app(settings, connect_parts(settings))
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            log_level="info",
            log_config=None,
            **server_options(settings),
        )
        return 0
    except SealrunError as error:
        print(f"error [{error.code}]: {error.message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
