"""``python -m sealrun.services.worker``: run a worker until interrupted.

Settings come from ``SEALRUN_WORKER_*`` (see :class:`WorkerSettings`). With a port set, it
also serves its status over HTTP; without, it only works. A refused configuration or an
unreachable chain prints ``error [CODE]: message`` and exits 1.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading


def main() -> int:
    """Recover, register, and take assignments until SIGTERM/SIGINT."""
    from sealrun.errors import SealrunError

    try:
        from sealrun.adapters.logs import configure_logging
        from sealrun.adapters.secretfiles import secrets_dir
        from sealrun.services.worker.app import build_worker, create_app, readiness_checks
        from sealrun.services.worker.settings import WorkerSettings

        configure_logging("worker")
        settings = WorkerSettings(_secrets_dir=secrets_dir("SEALRUN_WORKER_", os.environ))  # type: ignore[call-arg]  # fields come from the environment
        worker = build_worker(settings)
        if settings.port is not None:
            import uvicorn

            from sealrun.adapters.tls import server_options

            app = create_app(worker, tee=settings.tee, checks=readiness_checks(settings))
            tls = server_options(settings)
            uvicorn.run(app, host=settings.host, port=settings.port, log_config=None, **tls)
            return 0
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        released = worker.start()
        if released:
            logging.getLogger("sealrun.worker").info("the scheduler took back %d task(s)", len(released))
        worker.run(stop)
        return 0
    except SealrunError as error:
        print(f"error [{error.code}]: {error.message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
